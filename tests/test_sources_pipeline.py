"""Workflow deployments, GitHub-issue and PagerDuty incidents and CODEOWNERS teams, end to end: the mock APIs
serve the hand-made org of dbt_fixtures/sources_scenario.py over real HTTP, the pipeline ingests 03-02..03-06
and builds the marts, and the values below are worked out by hand from docs/metrics.md. DuckDB and Postgres."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import yaml
from conftest import ANCHOR, postgres_schema
from dbt_fixtures import sources_scenario as scenario

from emd.settings import database_target
from emd.warehouse import Warehouse
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi, MockState
from orchestration.pipeline import INGESTION_JOB, MARTS_JOB, run_pipeline


def naive(text: str) -> datetime:
    return scenario.t(text).replace(tzinfo=None)


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request, tmp_path_factory):
    """One pipeline run per warehouse (the assertions below only read), against a mock of its own."""
    tmp = tmp_path_factory.mktemp(f"sources-{request.param}")
    config_path = tmp / "config.yaml"
    config_path.write_text(yaml.safe_dump(scenario.config(), sort_keys=False), encoding="utf-8")
    state = MockState(org=SyntheticOrg(seed=7, anchor=ANCHOR))
    state.extra["github_data"] = scenario.github()
    state.extra["pagerduty_incidents"] = scenario.pagerduty()
    with MockApi(state) as api, pytest.MonkeyPatch.context() as mp:
        for key, value in api.env().items():
            mp.setenv(key, value)
        mp.setenv("EMD_CONFIG", str(config_path))
        mp.setenv("DATABASE_URL", f"duckdb:///{tmp / 'warehouse.duckdb'}")
        mp.delenv("DAGSTER_HOME", raising=False)
        if request.param == "postgres":
            mp.setenv("DATABASE_URL", postgres_schema(request.getfixturevalue("postgres_database"))[0])
        run_pipeline(date.fromisoformat(scenario.START_DAY), date.fromisoformat(scenario.END_DAY),
                     steps=(INGESTION_JOB, MARTS_JOB), log=lambda _: None)
        with Warehouse(database_target()).connect(read_only=True) as conn:
            yield conn, api


def rows(built, sql: str) -> list[dict]:
    conn, _ = built
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def test_workflow_runs_are_deployments_once_per_commit_on_the_default_branch(built):
    raw = rows(built, "select run_id from raw_github_workflow_runs order by run_id")
    # the API's filters leave out the failed run 12, run 15 on feature/x and ci.yml's run 17
    assert [r["run_id"] for r in raw] == [11, 13, 14, 16]
    found = rows(built, "select deployment_id, deployed_at, source, team from fct_deployments "
                        "where repo = 'acme/mono' order by deployed_at")
    # run 14 re-runs s1, which run 11 already deployed: not another deployment
    assert [(r["deployment_id"], r["deployed_at"]) for r in found] == [
        ("workflow:acme/mono:11", naive("03-02 10:30")),
        ("workflow:acme/mono:13", naive("03-03 12:40")),   # s2's first success (attempt 2 after a failure)
        ("workflow:acme/mono:16", naive("03-04 09:40")),
    ]
    assert {r["source"] for r in found} == {"workflow"} and {r["team"] for r in found} == {"platform"}


def test_lead_time_runs_to_the_first_workflow_deployment_after_the_merge(built):
    prs = {r["number"]: r for r in rows(built, "select * from fct_pull_requests where repo = 'acme/mono'")}
    assert prs[1]["deployed_at"] == naive("03-02 10:30")
    assert prs[1]["lead_time_hours"] == pytest.approx(4.5)          # 10:30 - 06:00
    assert prs[2]["lead_time_hours"] == pytest.approx(4 + 40 / 60)  # 03-03 12:40 - 08:00
    assert prs[3]["lead_time_hours"] == pytest.approx(2 + 40 / 60)  # 03-04 09:40 - 07:00


def test_codeowners_give_a_monorepo_pr_the_team_owning_most_changed_lines(built):
    prs = {r["number"]: r for r in rows(built, "select number, team, team_source from fct_pull_requests "
                                               "where repo = 'acme/mono'")}
    # mono#1: web/app.ts 80 lines -> web (/web/); lib/core.py 25 -> platform (*); web/docs/guide.md 10 -> the
    # last match is /web/docs/*.md owned by a user, no configured team -> the repo's team: web 80 > platform 35
    assert (prs[1]["team"], prs[1]["team_source"]) == ("web", "codeowners")
    assert prs[2]["team"] == "platform"   # lib/a.py 10 (platform) vs web/b.ts 10 (web): a tie -> the repo's team
    assert prs[3]["team"] == "platform"   # README.md -> *
    svc = rows(built, "select team, team_source from fct_pull_requests where repo = 'acme/svc'")
    assert svc == [{"team": "web", "team_source": "repo"}]   # no CODEOWNERS file


def test_monorepo_deployment_counts_for_every_team_whose_prs_it_shipped(built):
    teams = rows(built, "select deployment_id, team from int_github__deployment_teams order by 1, 2")
    assert [(r["deployment_id"], r["team"]) for r in teams if r["deployment_id"].startswith("workflow:")] == [
        ("workflow:acme/mono:11", "platform"), ("workflow:acme/mono:11", "web"),  # ships mono#1 (web)
        ("workflow:acme/mono:13", "platform"), ("workflow:acme/mono:16", "platform")]
    day = rows(built, "select scope_level, team, deployments, failed_deployments, change_failure_rate "
                      "from int_metrics__dora_by_scope_day where date = '2026-03-02' and repo = '*' order by 1, 2")
    by = {(r["scope_level"], r["team"]): r for r in day}
    # 03-02: run 11 (mono, platform + web) and svc#1's merge (web, failed by issue #50)
    assert by[("team", "web")]["deployments"] == 2 and by[("team", "web")]["failed_deployments"] == 1
    assert by[("team", "web")]["change_failure_rate"] == pytest.approx(0.5)
    assert by[("team", "platform")]["deployments"] == 1
    assert by[("org", "*")]["deployments"] == 2   # the org counts run 11 once


def test_incidents_from_github_labels_and_pagerduty_fail_deployments_and_recover(built):
    incidents = {r["incident_id"]: r for r in rows(built, "select * from fct_incidents")}
    assert {(r["source"], r["key"]) for r in incidents.values()} == {
        ("github", "acme/svc#50"), ("pagerduty", "1"), ("pagerduty", "2")}  # #51 is a bug; #3 is low urgency
    by_key = {r["key"]: r for r in incidents.values()}
    svc_merge = rows(built, "select deployment_id from fct_deployments where repo = 'acme/svc'")[0]["deployment_id"]
    assert (by_key["acme/svc#50"]["team"], by_key["acme/svc#50"]["deployment_id"]) == ("web", svc_merge)
    assert by_key["acme/svc#50"]["resolved_at"] == naive("03-02 20:00")
    # PagerDuty #1 (platform) 03-03 15:00 -> the latest mono deployment before it: run 13 at 12:40
    assert (by_key["1"]["team"], by_key["1"]["deployment_id"]) == ("platform", "workflow:acme/mono:13")
    assert by_key["1"]["resolution_hours"] == pytest.approx(3.0)
    assert (by_key["2"]["deployment_id"], by_key["2"]["resolved_at"]) == ("workflow:acme/mono:16", None)
    deployments = {r["deployment_id"]: r for r in rows(built, "select * from fct_deployments")}
    assert deployments[svc_merge]["is_failure"] and deployments[svc_merge]["recovery_hours"] == pytest.approx(6.0)
    assert deployments["workflow:acme/mono:13"]["recovery_hours"] == pytest.approx(5 + 20 / 60)  # 18:00 - 12:40
    assert deployments["workflow:acme/mono:16"]["is_failure"] and deployments["workflow:acme/mono:16"]["recovered_at"] is None
    assert not deployments["workflow:acme/mono:11"]["is_failure"]


def test_the_sources_were_read_over_http_as_the_vendors_serve_them(built):
    _, api = built
    counts = api.state.counts
    # five days x one configured workflow; five days of PagerDuty; the issues of two repos per day
    assert counts["github:rest:workflow_runs"] == 5
    assert counts["pagerduty:incidents"] == 5
