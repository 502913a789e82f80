"""dbt build over hand-crafted raw rows (tests/dbt_fixtures/scenario.py) -> mart values computed by hand.

Every expected value is derived from docs/metrics.md and the scenario's rows; the arithmetic is in the comment.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from dbt_fixtures import scenario
from dbt_fixtures.scenario import t

from emd.config import parse_config
from emd.settings import parse_database_url
from emd.warehouse import Warehouse
from orchestration.defs.dbt.project import dbt_vars, run_dbt

D = date.fromisoformat


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    work = tmp_path_factory.mktemp("dbt_marts")
    target = parse_database_url(f"duckdb:///{work / 'warehouse.duckdb'}")
    warehouse = Warehouse(target)
    for day, tables in scenario.github_partitions().items():
        fetched = datetime(2026, 3, 3, 1, 0, tzinfo=UTC) if day == "2026-03-02" else datetime(2026, 3, 7, 1, 0, tzinfo=UTC)
        warehouse.replace_partitions(tables, day, fetched_at=fetched)
    for day, tables in scenario.jira_partitions().items():
        warehouse.replace_partitions(tables, day, fetched_at=datetime(2026, 3, 7, 1, 0, tzinfo=UTC))
    config = parse_config(scenario.CONFIG, work / "config.yaml")
    run_dbt(["build"], target, dbt_vars(config), work_dir=work)
    return warehouse


def rows(warehouse: Warehouse, sql: str, params: tuple = ()) -> list[dict]:
    with warehouse.connect(read_only=True) as conn:
        cursor = conn.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def one(warehouse: Warehouse, sql: str, params: tuple = ()) -> dict:
    found = rows(warehouse, sql, params)
    assert len(found) == 1, found
    return found[0]


def pr(warehouse: Warehouse, repo: str, number: int) -> dict:
    return one(warehouse, "select * from fct_pull_requests where repo = ? and number = ?", (repo, number))


def test_review_clock_ignores_pending_bot_and_self_reviews_and_starts_when_ready(built):
    row = pr(built, "acme/api", 1)
    # newest fetch wins: MERGED, and the stale partition's review r0 (03-02 10:30) is ignored
    assert row["state"] == "MERGED"
    assert row["ready_at"] == t("03-02 12:00")          # ReadyForReview event before the first review
    assert row["first_review_at"] == t("03-02 14:00")   # PENDING, bot (12:30) and self (13:00) skipped
    assert row["first_commit_at"] == t("03-02 08:00")
    assert row["time_to_first_review_hours"] == pytest.approx(2.0)  # 14:00 - 12:00
    assert row["cycle_time_hours"] == pytest.approx(9.0)            # 18:00 - 09:00
    assert row["coding_hours"] == pytest.approx(4.0)                # 12:00 - 08:00
    assert row["review_hours"] == pytest.approx(4.0)                # 18:00 - 14:00
    assert row["lead_time_hours"] == pytest.approx(10.0)            # merge 18:00 - first commit 08:00
    assert row["review_count"] == 2                                 # bob, carol
    assert row["review_comment_count"] == 3                         # 2 + 1
    assert row["review_depth"] == 5                                 # 2 + 3
    assert row["reviewers"] == 2
    assert row["team"] == "platform"
    assert row["pr_type"] == "feature"


def test_pr_types_hotfix_revert_and_bots(built):
    assert pr(built, "acme/api", 2)["pr_type"] == "bug"              # title "fix: ..."
    assert pr(built, "acme/api", 3)["pr_type"] == "other"
    assert pr(built, "acme/api", 6)["pr_type"] == "feature"          # label enhancement
    hotfix = pr(built, "acme/api", 7)                                # label hotfix
    assert (hotfix["is_hotfix"], hotfix["pr_type"]) == (True, "hotfix")
    assert pr(built, "acme/web", 2)["is_hotfix"] is True             # base release/1.0, 0.5 h after release v1.1-rc
    revert = pr(built, "acme/api", 4)
    assert (revert["is_revert"], revert["is_hotfix"]) == (True, False)
    bot = pr(built, "acme/api", 5)                                   # `renovate` is listed under bots:
    assert bot["is_bot_author"] is True
    # commit authored 13:00, merged 12:00: lead time -1 h is excluded and flagged
    assert bot["lead_time_hours"] is None and bot["has_negative_lead_time"] is True
    assert bot["lead_time_raw_hours"] == pytest.approx(-1.0)


def test_merged_outside_default_branch_is_not_deployed(built):
    row = pr(built, "acme/api", 3)
    assert row["merged_at"] == t("03-03 11:00")
    assert row["deployed_at"] is None and row["lead_time_hours"] is None
    ids = {r["deployment_id"] for r in rows(built, "select deployment_id from fct_deployments where repo = 'acme/api'")}
    assert ids == {f"merge:PR_acme/api_{n}" for n in (1, 2, 4, 5, 7)}


def test_release_based_lead_time_uses_first_published_non_prerelease_at_or_after_merge(built):
    # web#1 merged 03-03 09:00; v1.1-rc is a prerelease, the draft has no publish time -> v1.1 03-04 12:00
    row = pr(built, "acme/web", 1)
    assert row["deployed_at"] == t("03-04 12:00")
    assert row["lead_time_hours"] == pytest.approx(47.0)   # 03-04 12:00 - 03-02 13:00
    assert pr(built, "acme/web", 2)["lead_time_hours"] == pytest.approx(26.0)  # 03-04 12:00 - 03-03 10:00
    ids = {r["deployment_id"] for r in rows(built, "select deployment_id from fct_deployments where repo = 'acme/web'")}
    assert ids == {"release:acme/web:v1.0", "release:acme/web:v1.1"}


def test_deployment_source_counts_only_successful_production_deployments(built):
    found = rows(built, "select deployment_id, deployed_at from fct_deployments where repo = 'acme/infra' order by 2")
    assert [(r["deployment_id"], r["deployed_at"]) for r in found] == [
        ("deployment:acme/infra:d1", t("03-02 15:00")), ("deployment:acme/infra:d4", t("03-05 16:00"))]


def test_failure_attribution_rework_and_recovery(built):
    deployments = {r["deployment_id"]: r for r in rows(built, "select * from fct_deployments")}
    # revert api#4 (03-04 10:00) -> latest api deployment before it: api#2 at 03-03 20:00 (api#3 is not one)
    api2 = deployments["merge:PR_acme/api_2"]
    assert api2["is_failure"] is True and api2["recovered_at"] == t("03-04 10:00")  # the revert's deployment
    assert api2["recovery_hours"] == pytest.approx(14.0)
    # hotfix api#7 (03-05 14:00) -> api#5 at 03-04 12:00; recovered when api#7 deployed: 26 h
    assert deployments["merge:PR_acme/api_5"]["recovered_at"] == t("03-05 14:00")
    # incident API-9 (platform, 03-05 18:00) -> api#7 (14:00) and infra d4 (16:00); resolved 03-06 06:00
    assert deployments["merge:PR_acme/api_7"]["is_failure"] is True
    assert deployments["merge:PR_acme/api_7"]["recovered_at"] == t("03-06 06:00")
    assert deployments["deployment:acme/infra:d4"]["recovery_hours"] == pytest.approx(14.0)
    # hotfix web#2 (03-03 12:30) -> v1.0 (03-02 12:00); recovered when web#2 shipped in v1.1 (03-04 12:00)
    assert deployments["release:acme/web:v1.0"]["recovered_at"] == t("03-04 12:00")
    assert {k for k, d in deployments.items() if d["is_failure"]} == {
        "merge:PR_acme/api_2", "merge:PR_acme/api_5", "merge:PR_acme/api_7", "deployment:acme/infra:d4",
        "release:acme/web:v1.0"}
    # rework: deployments that carry a hotfix or revert PR
    assert {k for k, d in deployments.items() if d["is_rework"]} == {
        "merge:PR_acme/api_4", "merge:PR_acme/api_7", "release:acme/web:v1.1"}
    # a repo without a team: the deployment belongs to the merged PR author's team
    assert deployments["merge:PR_acme/tools_1"]["team"] == "web"


def test_dora_by_repo_day_is_dense_and_hand_checked(built):
    found = rows(built, "select * from mv_dora_by_repo_day order by repo, date")
    assert len(found) == 4 * 5   # 4 repos x 5 days (partitions 03-02 .. 03-06)
    by = {(r["repo"], r["date"]): r for r in found}
    api = {d: by[("acme/api", D(f"2026-03-0{d}"))] for d in range(2, 7)}
    assert [api[d]["deployments"] for d in range(2, 7)] == [1, 1, 2, 1, 0]
    assert [api[d]["failed_deployments"] for d in range(2, 7)] == [0, 1, 1, 1, 0]
    assert api[4]["lead_time_p50_hours"] == pytest.approx(2.0)   # api#4 10:00 - 08:00; api#5 (-1 h) excluded
    assert (api[4]["lead_time_prs"], api[4]["negative_lead_time_prs"]) == (1, 1)
    assert api[5]["hotfixes"] == 1 and api[5]["hotfix_rate"] == pytest.approx(1.0)
    assert api[6]["lead_time_p50_hours"] is None and api[6]["change_failure_rate"] is None  # 0 deployments -> NULL
    web4 = by[("acme/web", D("2026-03-04"))]
    # v1.1 ships web#1 (47 h) and web#2 (26 h): p50 = (26 + 47) / 2 = 36.5; p90 = 26 + 0.9 * 21 = 44.9
    assert web4["lead_time_p50_hours"] == pytest.approx(36.5)
    assert web4["lead_time_p90_hours"] == pytest.approx(44.9)
    assert by[("acme/tools", D("2026-03-06"))]["team"] == "unassigned"


def test_flow_by_repo_day(built):
    by = {r["date"]: r for r in rows(built, "select * from mv_flow_by_repo_day where repo = 'acme/api'")}
    d2, d3, d4, d5 = (by[D(f"2026-03-0{d}")] for d in (2, 3, 4, 5))
    assert (d2["opened_prs"], d2["merged_prs"], d2["review_depth_avg"]) == (1, 1, pytest.approx(5.0))
    # 03-03: api#2 (10 h) and api#3 (1 h): p50 5.5, p90 1 + 0.9 * 9 = 9.1; neither reviewed
    assert (d3["opened_prs"], d3["merged_prs"]) == (2, 2)
    assert d3["cycle_time_p50_hours"] == pytest.approx(5.5)
    assert d3["cycle_time_p90_hours"] == pytest.approx(9.1)
    assert d3["time_to_first_review_p50_hours"] is None and d3["merged_without_review"] == 2
    assert (d4["opened_prs"], d4["merged_prs"]) == (1, 1)   # the bot's api#5 is left out of flow
    # 03-05: api#6 (reopened, then closed) and api#7 merged: reopened 1 of 2
    assert (d5["reopened_prs"], d5["closed_or_merged_prs"], d5["rework_rate"]) == (1, 2, pytest.approx(0.5))
    assert d5["time_to_first_review_p50_hours"] == pytest.approx(1.0)  # created 12:00 -> alice 13:00


def test_sprint_planning_with_reestimate_removal_subtask_and_unestimated(built):
    s = one(built, "select * from mv_planning_by_sprint where sprint_id = 100")
    # committed at start 03-02 09:00: API-1 (3), API-2 (5), API-4 (1), API-7 (2); API-6 is a sub-task
    assert (s["committed_issues"], s["committed_points"]) == (4, 11)
    # added: API-3 (2 when it entered), API-5 (unestimated: 0)
    assert (s["added_issues"], s["added_points"]) == (2, 2)
    assert (s["removed_issues"], s["removed_points"]) == (1, 1)            # API-4, To Do when removed
    # completed at 03-06 10:00: API-1 (3), API-3 (2), API-7 (2)
    assert (s["completed_issues"], s["completed_points"]) == (3, 7)
    # carryover: API-2 re-estimated 5 -> 8, API-5 (0); the moves to 101 30/45 s later are the completion
    assert (s["carryover_issues"], s["carryover_points"]) == (2, 8)
    assert s["completed_committed_points"] == 5                             # API-1 3 + API-7 2
    assert s["unestimated_issues"] == 1
    assert s["planned_vs_done_pct"] == pytest.approx(100 * 5 / 11)         # 45.45
    assert s["scope_change_pct"] == pytest.approx(100 * (2 + 1) / 11)      # 27.27
    assert s["carryover_pct"] == pytest.approx(100 * 8 / (7 + 8))          # 53.33
    assert s["team"] == "platform"
    assert s["history_complete"] is True    # started 03-02 09:00, not before the first ingested day 03-02
    # invariant by issues: 4 + 2 - 1 = 3 + 2
    nxt = one(built, "select * from mv_planning_by_sprint where sprint_id = 101")
    # started at 100's completion; API-2 and API-5 moved in within 60 s: committed, not added
    assert (nxt["committed_issues"], nxt["committed_points"], nxt["added_issues"]) == (2, 8, 0)


def test_planning_by_team_day_blocked_wip_and_throughput(built):
    by = {r["date"]: r for r in rows(built, "select * from mv_planning_by_team_day where team = 'platform'")}
    assert len(by) == 5
    d2, d3, d4, d5, d6 = (by[D(f"2026-03-0{d}")] for d in range(2, 7))
    assert d2["blocked_issues"] == 0 and d2["blocked_age_p50_days"] is None
    assert d3["blocked_issues"] == 1                                  # API-7 flagged since 03-03 08:00
    assert d3["blocked_age_max_days"] == pytest.approx(16 / 24)
    # end of 03-04: API-7 (40 h) and API-5 (status Blocked since 03-04 10:00: 14 h)
    assert d4["blocked_issues"] == 2
    assert d4["blocked_age_p50_days"] == pytest.approx((40 + 14) / 2 / 24)
    assert d4["blocked_age_max_days"] == pytest.approx(40 / 24)
    assert d5["blocked_issues"] == 1 and d5["blocked_age_max_days"] == pytest.approx(38 / 24)  # unflagged 03-05
    assert d6["blocked_age_max_days"] == pytest.approx(62 / 24)
    # WIP (In Progress category at end of day; Blocked is in that category)
    assert [by[D(f"2026-03-0{d}")]["wip_issues"] for d in range(2, 7)] == [2, 3, 3, 3, 2]
    assert (d4["resolved_issues"], d4["issue_cycle_time_p50_hours"]) == (1, pytest.approx(53.0))  # API-1
    # 03-05: API-7 (71.5 h) and API-3 (never in progress: no cycle time)
    assert (d5["resolved_issues"], d5["issue_cycle_time_p50_hours"]) == (2, pytest.approx(71.5))
    assert d6["issue_cycle_time_p50_hours"] == pytest.approx(10.0)    # API-9 20:00 -> 06:00


def test_jira_issues_blocked_now_and_teams(built):
    issues = {r["issue_key"]: r for r in rows(built, "select * from fct_jira_issues")}
    assert issues["API-5"]["is_blocked"] is True and issues["API-5"]["blocked_since"] == t("03-04 10:00")
    assert issues["API-7"]["is_blocked"] is False
    assert issues["API-2"]["team"] == "platform" and issues["WEB-1"]["team"] == "web"
    assert issues["API-1"]["cycle_time_hours"] == pytest.approx(53.0)


def test_metrics_daily_rolls_up_teams_and_org_from_rows(built):
    org = one(built, "select * from metrics_daily where team = '*' and repo = '*' and date = ?", (D("2026-03-04"),))
    # deployments on 03-04: api#4, api#5, web v1.1 = 3; lead times: api#4 2 h, web#1 47 h, web#2 26 h -> p50 26
    assert org["dora_deployments"] == 3
    assert org["dora_lead_time_p50_hours"] == pytest.approx(26.0)
    assert org["org"] == "acme"
    platform = one(built, "select * from metrics_daily where team = 'platform' and repo = '*' and date = ?",
                   (D("2026-03-04"),))
    assert platform["dora_deployments"] == 2 and platform["planning_blocked_issues"] == 2
    keys = rows(built, "select team, repo, date, count(*) as n from metrics_daily group by 1, 2, 3 having count(*) > 1")
    assert keys == []
