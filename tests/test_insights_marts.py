"""The Sprint Health blob over a small hand-made warehouse whose mart rows are known, checked by hand.

The marts are built by tests/fixtures/insights.py (shared with the card and Slack tests); every value
below is read through the metrics layer (emd.metrics) and computed by hand.

The org, its PRs, sprints and deployments are tabled in that module's docstring.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from emd.metrics.source import Source
from orchestration.defs.insights.blob import TeamMetrics, build_blob, ingested_until, org_horizon, team_blobs
from tests.fixtures.insights import NOW, PEOPLE, TITLES, build_marts, sprint4_blob, with_teams


@pytest.fixture
def marts(tmp_path: Path) -> Path:
    return build_marts(tmp_path / "warehouse.duckdb")


def test_periods_cards_for_closed_sprints_and_complete_weeks(marts: Path) -> None:
    def check(teams: dict[str, TeamMetrics], source: Source) -> None:
        horizon = org_horizon(teams, NOW)
        assert horizon == datetime(2026, 3, 31, 10, 0)  # data's newest deployment, earlier than NOW
        sprint_ids = [b.period.period_id for b in team_blobs(teams["platform"], True, horizon)]
        assert sprint_ids == ["101", "102", "103", "104"]  # Sprint 5 is active: no card
        # data's first activity 03-03 -> Monday 03-02 (W10); last week ending by 03-31 10:00 is 03-23..03-30 (W13)
        weeks = [b.period.period_id for b in team_blobs(teams["data"], False, horizon)]
        assert weeks == ["2026-W10", "2026-W11", "2026-W12", "2026-W13"]
    with_teams(marts, check)


def test_sprint_blob_by_hand(marts: Path) -> None:
    blob = sprint4_blob(marts)
    assert blob["period"] == {"kind": "sprint", "id": "104", "start": "2026-03-16T09:00:00",
                              "end": "2026-03-30T09:00:00", "days": 14.0}
    assert [p["id"] for p in blob["previous_periods"]] == ["103", "102", "101"]
    m = blob["metrics"]
    # Sprint 4 merged a, b, c, d: cycle [10, 20, 30, 50] -> p50 25, p90 44 (see above).
    # Sprint 3 merged e, f: [8, 12] -> p50 10, p90 8 + 0.9 * 4 = 11.6; Sprint 2: g alone -> 16; Sprint 1: none.
    assert m["cycle_time_p50_hours"] | {} == {
        "value": 25.0, "sample_size": 4, "sample_of": "merged PRs", "previous": [10.0, 16.0, None],
        "previous_sample_sizes": [2, 1, 0], "change": 15.0, "change_pct": 150.0, "trend": "worse"}
    # p90 change 44 - 11.6 = 32.4; 32.4 / 11.6 = 279.31%
    assert (m["cycle_time_p90_hours"]["value"], m["cycle_time_p90_hours"]["previous"]) == (44.0, [11.6, 16.0, None])
    assert (m["cycle_time_p90_hours"]["change"], m["cycle_time_p90_hours"]["change_pct"]) == (32.4, 279.3)
    # first reviews in Sprint 4: a 2, b 4, c 6, d 10 -> p50 (4 + 6) / 2 = 5; Sprint 3: [1, 3] -> 2; Sprint 2: 2
    assert (m["time_to_first_review_p50_hours"]["value"], m["time_to_first_review_p50_hours"]["previous"]) == \
        (5.0, [2.0, 2.0, None])
    # deployments: 4 / 14 days = 0.2857; Sprint 3 2/14 = 0.1429; Sprint 2 1/14 = 0.0714; Sprint 1 0/14 = 0
    # change (4 - 2) / 14 = 0.1429 -> 0.14, +100%, more deployments is better
    assert m["deployment_frequency_per_day"] | {} == {
        "value": 0.29, "sample_size": 4, "sample_of": "deployments", "previous": [0.14, 0.07, 0.0],
        "previous_sample_sizes": [2, 1, 0], "change": 0.14, "change_pct": 100.0, "trend": "better"}
    # lead times deployed in Sprint 4: [12, 30, 40, 60] -> 35; Sprint 3 [10, 20] -> 15; change 20 = +133.3%
    assert (m["lead_time_p50_hours"]["value"], m["lead_time_p50_hours"]["change_pct"]) == (35.0, 133.3)
    # 1 failed (d) of 4 deployments = 0.25; Sprint 3 0/2 = 0 (no % change from 0); Sprint 1 none -> None
    assert m["change_failure_rate"] | {} == {
        "value": 0.25, "sample_size": 4, "sample_of": "deployments", "previous": [0.0, 0.0, None],
        "previous_sample_sizes": [2, 1, 0], "change": 0.25, "change_pct": None, "trend": "worse"}
    # planning: straight from mv_planning_by_sprint; 20 vs 10 -> +10 pts (+100%); 70 vs 87.5 -> -17.5 (-20%);
    # Sprint 1 (no points) contributes its issue-count forms: carryover 10
    assert blob["planning_basis"] == "story points"
    assert (m["scope_change_pct"]["value"], m["scope_change_pct"]["change"], m["scope_change_pct"]["trend"]) == \
        (20.0, 10.0, "worse")
    assert m["carryover_pct"]["previous"] == [12.5, 0.0, 10.0]
    assert (m["planned_vs_done_pct"]["change"], m["planned_vs_done_pct"]["change_pct"],
            m["planned_vs_done_pct"]["trend"]) == (-17.5, -20.0, "worse")


def test_anomalies_by_hand(marts: Path) -> None:
    """Weekly values (Mondays 02-16, 02-23, 03-02, 03-09, W12 03-16, W13 03-23):
    cycle p50 16, -, 8, 12, 15, 40; p90 16, -, 8, 12, 19, 48; ttfr 2, -, 1, 3, 3, 8;
    deploys/day 1/7, 0, 1/7, 1/7, 2/7, 2/7; lead 18, -, 10, 20, 21, 50; CFR 0, -, 0, 0, 0, 1/2.
    W13 cycle p50: trailing [15, 12, 8, 16] mean 12.75, sample sd sqrt(38.75 / 3) = 3.594 -> z 27.25 / 3.594 = 7.58
    W13 p90: trailing [19, 12, 8, 16] mean 13.75, sd sqrt(68.75 / 3) = 4.787 -> z 34.25 / 4.787 = 7.15
    W13 lead: trailing [21, 20, 10, 18] mean 17.25, sd sqrt(74.75 / 3) = 4.992 -> z 32.75 / 4.992 = 6.56
    W13 ttfr: trailing [3, 3, 1, 2] mean 2.25, sd sqrt(2.75 / 3) = 0.957 -> z 5.75 / 0.957 = 6.01
    W12 deploys: trailing [1/7, 1/7, 0, 1/7] mean 3/28, sd 1/14 -> z (8/28 - 3/28) / (2/28) = 2.5
    W13 deploys: trailing [2/7, 1/7, 1/7, 0, 1/7] -> z 1.41 (< 2); W12 cycle p50 z 0.75; CFR sd 0 -> none.
    """
    items = sprint4_blob(marts)["anomalies"]["items"]
    assert [(a["metric"], a["week"], a["z_score"], a["trend"]) for a in items] == [
        ("cycle_time_p50_hours", "2026-W13", 7.58, "worse"),
        ("cycle_time_p90_hours", "2026-W13", 7.15, "worse"),
        ("lead_time_p50_hours", "2026-W13", 6.56, "worse"),
        ("time_to_first_review_p50_hours", "2026-W13", 6.01, "worse"),
        ("deployment_frequency_per_day", "2026-W12", 2.5, "better"),
    ]
    first = items[0]
    assert (first["value"], first["trailing_mean"], first["trailing_stdev"], first["trailing_weeks_used"]) == \
        (40.0, 12.75, 3.59, 4)


def test_blob_holds_aggregates_only(marts: Path) -> None:
    text = str(sprint4_blob(marts)).lower()
    for secret in PEOPLE + tuple(t.lower() for t in TITLES) + ("sprint 4",):
        assert secret.lower() not in text


def test_week_blob_has_no_planning_metrics(marts: Path) -> None:
    def check(teams: dict[str, TeamMetrics], source: Source) -> None:
        horizon = org_horizon(teams, NOW)
        w13 = team_blobs(teams["data"], False, horizon)[-1]
        assert set(w13.blob["metrics"]) == {"cycle_time_p50_hours", "cycle_time_p90_hours",
                                            "time_to_first_review_p50_hours", "deployment_frequency_per_day",
                                            "lead_time_p50_hours", "change_failure_rate", "hotfix_rate",
                                            "review_depth_avg"}
        # W13 (03-23..03-30) had no data deployment; W12 had 1 (03-20): 0/7 = 0 vs 1/7 = 0.14 -> -100%
        dpd = w13.blob["metrics"]["deployment_frequency_per_day"]
        assert (dpd["value"], dpd["previous"], dpd["change_pct"], dpd["trend"]) == \
            (0.0, [0.14, 0.14, 0.14], -100.0, "worse")
        assert build_blob(teams["data"], w13.period, [], horizon)["comparison_periods"] == 0
    with_teams(marts, check)


def test_weeks_are_complete_up_to_the_end_of_the_ingested_range(marts: Path) -> None:
    """With mv_dora_by_repo_day (dense over the ingested days) ending 2026-04-05, the horizon is 04-06 00:00:
    2026-W14 (03-30..04-06) is complete although data's last activity was 03-31."""
    conn = duckdb.connect(str(marts))
    conn.execute("create table mv_dora_by_repo_day as select * from (values "
                 "('acme/api', 'platform', date '2026-04-04', 0), ('acme/api', 'platform', date '2026-04-05', 0)) "
                 "t(repo, team, date, deployments)")
    conn.close()

    def check(teams: dict[str, TeamMetrics], source: Source) -> None:
        ingested = ingested_until(source)
        assert ingested == datetime(2026, 4, 6)
        horizon = org_horizon(teams, NOW, ingested)
        assert [b.period.period_id for b in team_blobs(teams["data"], False, horizon)][-1] == "2026-W14"
        assert org_horizon(teams, datetime(2026, 4, 2, 12, 0), ingested) == datetime(2026, 4, 2, 12, 0)  # now first
    with_teams(marts, check)
