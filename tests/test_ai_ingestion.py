"""GitHub Copilot's usage-metrics reports and the commit messages the AI rules read, ingested through Dagster
from the mock GitHub over HTTP (its reports endpoints and NDJSON downloads, mock_apis/github_ai.py), into real
DuckDB files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
import yaml
from dagster import AssetsDefinition, materialize

from mock_apis.github_ai import AI_TRAILERS, organization_report, user_report
from mock_apis.github_data import github_data
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi
from orchestration.defs.github.copilot import github_copilot_usage
from orchestration.defs.github.definitions import github_defs
from orchestration.resources import ProjectConfigResource, WarehouseResource

DAY = "2026-03-16"


@pytest.fixture
def copilot_env(mock_env: MockApi, config_path: Path, org: SyntheticOrg) -> MockApi:
    config = org.config()
    config["ai"] = {"copilot": True}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return mock_env


def run(asset: AssetsDefinition, *partition_keys: str) -> Any:
    resources = {**(github_defs().resources or {}), "project_config": ProjectConfigResource(),
                 "warehouse": WarehouseResource()}
    results = [materialize([asset], partition_key=key, resources=resources, raise_on_error=False)
               for key in partition_keys]
    return results[-1]


def counts(api: MockApi) -> dict[str, int]:
    return requests.get(api.url + "/_mock/counts", timeout=5).json()


def switch(api: MockApi, **values: Any) -> None:
    requests.post(api.url + "/_mock/switch", json=values, timeout=5).raise_for_status()


def check(result: Any) -> Any:
    (evaluation,) = [e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    return evaluation


def test_a_day_of_copilot_reports_lands_as_github_serves_it(copilot_env: MockApi, org: SyntheticOrg,
                                                            warehouse_path: Path) -> None:
    result = run(github_copilot_usage, DAY)
    assert result.success and check(result).passed
    users, (org_row,) = user_report(org, DAY), organization_report(org, DAY)
    assert users, "the synthetic org has Copilot users on a weekday"
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        stored = conn.execute("select user_login, code_generation_activity_count, code_acceptance_activity_count, "
                              "payload from raw_github_copilot_user_days order by user_login").fetchall()
        org_stored = conn.execute("select day, daily_active_users, weekly_active_users, code_generation_activity_count "
                                  "from raw_github_copilot_org_days").fetchall()
        recorded = conn.execute("select row_count from raw_ingested_partitions "
                                "where table_name = 'raw_github_copilot_user_days'").fetchall()
    expected = sorted(users, key=lambda r: r["user_login"])
    assert [(r[0], r[1], r[2]) for r in stored] == [
        (u["user_login"], u["code_generation_activity_count"], u["code_acceptance_activity_count"]) for u in expected]
    assert json.loads(stored[0][3])["totals_by_ide"][0]["ide"] == "vscode"  # the record as GitHub sent it
    assert [(str(r[0]), r[1], r[2], r[3]) for r in org_stored] == [
        (DAY, org_row["daily_active_users"], org_row["weekly_active_users"], org_row["code_generation_activity_count"])]
    assert recorded == [(len(users),)]
    spent = counts(copilot_env)
    # Two report requests and two file downloads; the token never went to the file host.
    assert (spent["github:copilot:organization"], spent["github:copilot:users"], spent["github:copilot:download"]) == (1, 1, 2)
    assert "github:copilot:download_with_authorization" not in spent


@pytest.mark.parametrize(("mode", "named"), [("policy_disabled", '"Copilot usage metrics" policy'),
                                             ("forbidden", "manage_billing:copilot")])
def test_policy_off_or_missing_permission_keeps_the_stored_days_and_says_what_to_fix(
        copilot_env: MockApi, warehouse_path: Path, mode: str, named: str) -> None:
    assert run(github_copilot_usage, DAY).success
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        before = conn.execute("select * from raw_github_copilot_user_days order by all").fetchall()
    switch(copilot_env, copilot_metrics=mode)
    result = run(github_copilot_usage, DAY)
    assert result.success  # the rest of the pipeline runs
    evaluation = check(result)
    assert not evaluation.passed and named in evaluation.metadata["problem"].value
    assert "mock-github-token" not in evaluation.metadata["problem"].value
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        assert conn.execute("select * from raw_github_copilot_user_days order by all").fetchall() == before


def test_without_ai_copilot_no_report_is_asked_for(mock_env: MockApi, warehouse_path: Path) -> None:
    assert run(github_copilot_usage, DAY).success
    assert not any(k.startswith("github:copilot") for k in counts(mock_env))


def test_commit_messages_with_their_trailers_come_with_the_commits(mock_env: MockApi, org: SyntheticOrg,
                                                                  warehouse_path: Path) -> None:
    (prs_asset,) = [a for a in github_defs().assets or [] if isinstance(a, AssetsDefinition)
                    and a.node_def.name == "github_pull_requests"]
    assert run(prs_asset, DAY).success
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        messages = [json.loads(p)["commit"]["message"] for (p,) in conn.execute(
            "select payload from raw_github_commits").fetchall()]
    assert any(trailer in m for m in messages for trailer in AI_TRAILERS)
    served = {c["commit"]["message"] for pr in github_data(org).pull_requests for c in pr["_commits"]}
    assert set(messages) <= served
