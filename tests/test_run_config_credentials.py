"""Run configuration cannot redirect credentials: URLs and tokens come from the environment only."""

from __future__ import annotations

import pytest
from dagster import DagsterInvalidConfigError
from pydantic import ValidationError

from orchestration.definitions import build_definitions
from orchestration.defs.github.resource import GitHubResource
from orchestration.defs.jira.resource import JiraResource
from orchestration.defs.pagerduty.resource import PagerDutyResource
from orchestration.defs.slos.resource import PrometheusResource
from orchestration.resources import WarehouseResource


@pytest.mark.parametrize("resource,config", [
    ("github", {"api_url": "https://attacker.example"}),
    ("github", {"token": "ghp_not_from_env"}),
    ("github", {"app_id": "1", "private_key": "-----BEGIN RSA PRIVATE KEY-----", "installation_id": "2"}),
    ("github", {"private_key_file": "/tmp/attacker.pem"}),
    ("jira", {"base_url": "https://attacker.example"}),
    ("jira", {"email": "x@attacker.example", "api_token": "t"}),
    ("pagerduty", {"api_url": "https://attacker.example"}),
    ("prometheus", {"api_url": "https://attacker.example"}),
    ("prometheus", {"token": "not-from-env"}),
    ("warehouse", {"database_url": "postgresql://me@attacker.example/loot"}),
])
def test_a_run_config_that_sets_a_url_or_token_is_refused_at_launch(resource: str, config: dict) -> None:
    job = build_definitions().resolve_job_def("ingestion_job")
    with pytest.raises(DagsterInvalidConfigError) as info:
        job.execute_in_process(run_config={"resources": {resource: {"config": config}}}, partition_key="2026-03-01")
    message = str(info.value)
    assert "unexpected config entr" in message and f"root:resources:{resource}:config" in message
    for key in config:
        assert key in message


def test_setting_them_in_code_says_they_come_from_the_environment() -> None:
    with pytest.raises(ValidationError, match=r"api_url cannot be set .*environment only \(api_url -> GITHUB_API_URL\)"):
        GitHubResource(api_url="https://attacker.example")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"private_key cannot be set .*GITHUB_APP_PRIVATE_KEY"):
        GitHubResource(private_key="-----BEGIN RSA PRIVATE KEY-----")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"base_url cannot be set .*JIRA_BASE_URL"):
        JiraResource(base_url="https://attacker.example")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"token cannot be set .*PAGERDUTY_API_TOKEN"):
        PagerDutyResource(token="not-from-env")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"api_url cannot be set .*PROMETHEUS_URL"):
        PrometheusResource(api_url="https://attacker.example")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"database_url cannot be set .*DATABASE_URL"):
        WarehouseResource(database_url="duckdb:///elsewhere.duckdb")  # type: ignore[call-arg]


def test_the_resources_read_the_environment_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.acme.example/api/v3")
    monkeypatch.setenv("GITHUB_TOKEN", "from-the-environment")
    assert GitHubResource().client().graphql_url == "https://ghe.acme.example/api/graphql"
    monkeypatch.setenv("JIRA_BASE_URL", "https://acme.atlassian.net")
    monkeypatch.setenv("JIRA_EMAIL", "bot@acme.example")
    monkeypatch.setenv("JIRA_API_TOKEN", "from-the-environment")
    client = JiraResource().client()
    assert client.base_url == "https://acme.atlassian.net"
    assert JiraResource().client() is not client  # one client per resource (per run), never shared between runs


@pytest.mark.parametrize("url,kind,other", [("duckdb:///data/x.duckdb", "duckdb", "postgres"),
                                            ("postgresql://u@127.0.0.1:5432/db", "postgres", "duckdb")])
def test_asset_kinds_follow_the_warehouse(monkeypatch: pytest.MonkeyPatch, url: str, kind: str, other: str) -> None:
    from dagster import AssetKey

    monkeypatch.setenv("DATABASE_URL", url)
    graph = build_definitions().resolve_asset_graph()
    for key, source in [("raw_github_pull_requests", "github"), ("raw_jira_issues", "jira"),
                        ("fct_pull_requests", "dbt"), ("dashboard_snapshot", "python")]:
        kinds = set(graph.get(AssetKey(key)).kinds)
        assert {source, kind} <= kinds and other not in kinds, (key, kinds)


def test_every_warehouse_writer_is_in_the_warehouse_pool() -> None:
    from dagster import AssetsDefinition

    defs = build_definitions()
    pools = {a.node_def.name: a.node_def.pool for a in defs.assets or [] if isinstance(a, AssetsDefinition)}
    assert pools == {name: "warehouse" for name in (
        "github_pull_requests", "raw_github_releases", "raw_github_deployments", "jira_issues", "raw_jira_sprints",
        "raw_jira_statuses", "dbt_models", "sprint_health", "sprint_health_slack_post", "dashboard_snapshot",
        "agreement_nudges", "agreement_digest", "raw_github_workflow_runs", "raw_github_issues", "raw_github_codeowners",
        "raw_github_pull_request_files", "raw_pagerduty_incidents", "slo_events", "slo_budget_alerts",
        "github_copilot_usage")} | {"exec_readout": None}  # the readout reads the published build, writes files
