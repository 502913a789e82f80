"""The dashboard, driven from its entry point by streamlit.testing.v1.AppTest on a hand-made warehouse.

The warehouse holds mart tables written by hand (tests/fixtures/marts.py), published like the
pipeline does (emd.snapshot). Every expected tile value is computed by hand below from
docs/metrics.md; the arithmetic is in the comments.

Windows: current = 2026-03-02 .. 2026-03-15 (14 days); previous = 2026-02-16 .. 2026-03-01 (14 days).
Teams: platform (acme/api, board 12), web (acme/web, board 34), data (acme/data-pipeline, no board).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto

from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.text import markdown_escape
from emd.warehouse import Warehouse
from tests.fixtures.app import captions, metric, run_app
from tests.fixtures.marts import CURRENT, PUBLISHED_AT
from tests.fixtures.marts import build_duckdb_warehouse as build_fixture_warehouse


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fixture warehouse, published; DATABASE_URL points at it. Returns the live file."""
    live = tmp_path / "warehouse.duckdb"
    build_fixture_warehouse(live)
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")), now=PUBLISHED_AT)
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{live}")
    monkeypatch.setenv("JIRA_BASE_URL", "https://acme.atlassian.net")
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    monkeypatch.setenv("EMD_CONFIG", str(tmp_path / "no-config.yaml"))  # defaults: sub-tasks left out
    return live


def test_overview_tiles_equal_hand_computed_values(published: Path) -> None:
    at = run_app(CURRENT)

    # Deployments d1 d2 d3 dbot d4 d5 d6 d7 = 8 in 14 days: 8 / 14 = 0.571 -> 0.57/day (x 7 = 4.0 per week).
    # Previous: p1 p2 p3 = 3 / 14 = 0.214; change 0.571 - 0.214 = +0.357 -> +0.36/day (more is better).
    # Tier: 7-day blocks back from 03-15: [03-09..03-15] deploy days 09 10 12 13 = 4,
    # [03-02..03-08] days 02 03 04 05 = 4; median 4 >= 3 -> Elite.
    # Previous: [02-23..03-01] days 24 25 = 2, [02-16..02-22] day 17 = 1; median 1.5 -> High.
    freq = metric(at, "Deployment frequency (per day)")
    assert freq.value == "0.57/day · Elite"
    assert freq.proto.delta == "+0.36/day"
    assert freq.proto.delta_description == "better than the previous 14 days"

    # Lead time, PRs deployed in the window (bots included, as DORA counts every change):
    # 2, 12, 25, 40, 50, 110 -> p50 = (25 + 40) / 2 = 32.5; p90 at rank 0.9 * 5 = 4.5: 50 + 0.5 * 60 = 80.0.
    # Previous: 8, 16, 60 -> p50 16.0 -> change +16.5 h (worse); p90 at 1.8: 16 + 0.8 * 44 = 51.2.
    assert metric(at, "Lead time p50 (hours)").value == "32.5 h · High"  # DORA 2024: a day to a week
    assert metric(at, "Lead time p50 (hours)").proto.delta == "+16.5 h"
    assert metric(at, "Lead time p50 (hours)").proto.delta_description == "worse than the previous 14 days"
    assert metric(at, "Lead time p90 (hours)").value == "80.0 h"
    assert metric(at, "Lead time p90 (hours)").proto.delta == "+28.8 h"

    # Change failure rate: d2 d4 d6 failed of 8 = 37.5%; previous p1 of 3 = 33.3%: +4.2 pp, worse.
    cfr = metric(at, "Change failure rate (%)")
    assert cfr.value == "37.5% · Low"  # DORA 2024: above high's 20%
    assert cfr.proto.delta == "+4.2 pp"
    assert cfr.proto.delta_description == "worse than the previous 14 days"

    # Recovery: d2 6 h, d4 24 h (d6 unrecovered) -> p50 15.0 h from 2; previous p1 2 h: +13.0 h.
    recovery = metric(at, "Failed deployment recovery time p50 (hours)")
    assert recovery.value == "15.0 h · High"  # under a day, not under an hour
    assert recovery.proto.delta == "+13.0 h"
    # DORA rework: d4 of 8 = 12.5%; previous 0 of 3 = 0.0%.
    assert metric(at, "Deployment rework rate (%)").value == "12.5%"
    assert metric(at, "Deployment rework rate (%)").proto.delta == "+12.5 pp"

    # Cycle time, human PRs merged in the window (the bot's #105 left out): 10 20 30 40 100
    # -> p50 30.0; p90 at 3.6: 40 + 0.6 * 60 = 76.0. Previous 6 14 50 -> p50 14.0 (+16.0), p90 at 1.8:
    # 14 + 0.8 * 36 = 42.8 (+33.2).
    assert metric(at, "PR cycle time p50 (hours)").value == "30.0 h"
    assert metric(at, "PR cycle time p50 (hours)").proto.delta == "+16.0 h"
    assert metric(at, "PR cycle time p90 (hours)").value == "76.0 h"
    assert metric(at, "PR cycle time p90 (hours)").proto.delta == "+33.2 h"

    # Time to first review of the merged PRs: 1 3 5 8 (#301 never reviewed) -> (3 + 5) / 2 = 4.0 from 4;
    # previous 2 4 10 -> 4.0: no change, drawn grey without an arrow.
    ttfr = metric(at, "Time to first review p50 (hours)")
    assert ttfr.value == "4.0 h"
    assert ttfr.proto.delta == "0"
    assert ttfr.proto.delta_description == "no change from the previous 14 days"

    # Reopened: closed or merged human PRs 101 102 103 201 301 202 = 6, reopened 102 and 202: 2 / 6 = 33.3%.
    assert metric(at, "PR rework rate (%)").value == "33.3%"
    assert metric(at, "PR rework rate (%)").proto.delta == "+33.3 pp"

    # Sprints completed in the window: API Sprint 2 and WEB Sprint 7 (by points).
    # Planned vs done: (24 + 8) / (30 + 10) = 80.0%; previous API Sprint 1: 15 / 20 = 75.0% -> +5.0 pp, better.
    pvd = metric(at, "Planned vs done (%)")
    assert pvd.value == "80.0%"
    assert pvd.proto.delta == "+5.0 pp"
    assert pvd.proto.delta_description == "better than the previous 14 days"
    # Scope change: (6 + 0 + 0 + 4) / 40 = 25.0%; previous (5 + 3) / 20 = 40.0% -> -15.0 pp, better.
    scope = metric(at, "Scope change (%)")
    assert scope.value == "25.0%"
    assert scope.proto.delta == "-15.0 pp"
    assert scope.proto.delta_description == "better than the previous 14 days"
    # Carryover: (9 + 2) / ((27 + 8) + (9 + 2)) = 11 / 46 = 23.9%; previous 6 / 24 = 25.0% -> -1.1 pp.
    assert metric(at, "Carryover (%)").value == "23.9%"
    assert metric(at, "Carryover (%)").proto.delta == "-1.1 pp"

    # Blocked at the end of 03-15 (metrics_daily's org row): 3 issues, ages 1.5 3.5 5.5 -> p50 3.5 days;
    # at the end of 03-01: 1 issue, 3.0 days.
    assert metric(at, "Blocked issues (issues)").value == "3"
    assert metric(at, "Blocked issues (issues)").proto.delta == "+2"
    assert metric(at, "Blocked age p50 (days)").value == "3.5 days"
    assert metric(at, "Blocked age p50 (days)").proto.delta == "+0.5 days"

    text = captions(at)
    # Sample sizes, marked below 5.
    assert "n = 8 deployments · previous: 0.21/day, n = 3, previous band High · 4.0 per week" in text
    assert "DORA performance bands from the Accelerate State of DevOps Report 2024" in text
    assert "⚠️ n = 2 recovered failed deployments (fewer than 5: read with care)" in text
    assert "1 failed deployment(s) not recovered yet" in text
    assert "n = 5 merged PRs · previous: 14.0 h, n = 3" in text
    assert "⚠️ n = 4 reviewed merged PRs" in text
    assert "⚠️ n = 2 completed sprints" in text
    assert "oldest 5.5 days" in text


def test_arrow_and_colour_say_better_or_worse(published: Path) -> None:
    at = run_app(CURRENT)
    red, green, grey = MetricProto.MetricColor.RED, MetricProto.MetricColor.GREEN, MetricProto.MetricColor.GRAY
    up, down, none = (MetricProto.MetricDirection.UP, MetricProto.MetricDirection.DOWN,
                      MetricProto.MetricDirection.NONE)
    # More deployments: up and green. Longer lead time: up and red (lower is better: inverse colours).
    assert (metric(at, "Deployment frequency (per day)").proto.color, metric(at, "Deployment frequency (per day)").proto.direction) == (green, up)
    assert (metric(at, "Lead time p50 (hours)").proto.color, metric(at, "Lead time p50 (hours)").proto.direction) == (red, up)
    # Less scope change: down and green. Unchanged time to first review: grey, no arrow.
    assert (metric(at, "Scope change (%)").proto.color, metric(at, "Scope change (%)").proto.direction) == (green, down)
    assert (metric(at, "Time to first review p50 (hours)").proto.color,
            metric(at, "Time to first review p50 (hours)").proto.direction) == (grey, none)


def test_team_filter_narrows_every_tile(published: Path) -> None:
    at = run_app(CURRENT)
    at.selectbox(key="team").set_value("platform").run()
    assert not at.exception

    # platform: d1 d2 d3 dbot d4 = 5 / 14 = 0.357 -> 0.36/day; blocks: [03-09..] 1 day, [03-02..] 4 days:
    # median 2.5 -> High.
    assert metric(at, "Deployment frequency (per day)").value == "0.36/day · High"
    # Failures d2 d4 of 5 = 40.0%.
    assert metric(at, "Change failure rate (%)").value == "40.0% · Low"
    # Cycle time 10 20 30 -> p50 20.0.
    assert metric(at, "PR cycle time p50 (hours)").value == "20.0 h"
    # API Sprint 2 only: 24 / 30 = 80.0%; scope 6 / 30 = 20.0%; carryover 9 / (27 + 9) = 25.0%.
    assert metric(at, "Planned vs done (%)").value == "80.0%"
    assert metric(at, "Scope change (%)").value == "20.0%"
    assert metric(at, "Carryover (%)").value == "25.0%"
    # platform's row of 03-15: 2 blocked, p50 4.5 days; 03-01: 1 blocked, 3.0 days.
    assert metric(at, "Blocked issues (issues)").value == "2"
    assert metric(at, "Blocked age p50 (days)").value == "4.5 days"
    assert metric(at, "Blocked age p50 (days)").proto.delta == "+1.5 days"
    assert at.query_params["team"] == ["platform"] or at.query_params["team"] == "platform"


def test_repo_filter_and_dates_set_by_widget(published: Path) -> None:
    at = run_app(CURRENT)
    at.selectbox(key="repo").set_value("acme/web").run()
    # acme/web: PR 201 alone, cycle time 40.0 h, one sample, marked.
    assert metric(at, "PR cycle time p50 (hours)").value == "40.0 h"
    assert "⚠️ n = 1 merged PRs" in captions(at)

    at.selectbox(key="repo").set_value("All repos").run()
    at.date_input(key="end").set_value(date(2026, 3, 8)).run()
    # 2026-03-02 .. 03-08 (7 days): d1 d2 d3 dbot = 4 / 7 = 0.571 -> 0.57/day; one block with 4 deployment
    # days -> Elite. Previous 02-23 .. 03-01: p2 p3 = 2 / 7 = 0.286: +0.286 -> +0.29/day.
    freq = metric(at, "Deployment frequency (per day)")
    assert freq.value == "0.57/day · Elite"
    assert freq.proto.delta == "+0.29/day"
    assert freq.proto.delta_description == "better than the previous 7 days"


def test_query_string_round_trip(published: Path) -> None:
    query = {"team": "web", "start": "2026-03-02", "end": "2026-03-15", "grain": "week", "unit": "issues"}
    at = run_app(query)
    assert at.selectbox(key="team").value == "web"
    assert at.radio(key="grain").value == "week"
    assert at.radio(key="unit").value == "issues"
    assert at.date_input(key="start").value == date(2026, 3, 2)
    # The view is written back to the URL, so the link reproduces it.
    written = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert written == {"org": "acme", **query}
    # web by issues: WEB Sprint 7 alone: planned vs done 4 / 5 = 80.0%, scope (0 + 2) / 5 = 40.0%,
    # carryover 1 / (4 + 1) = 20.0%.
    assert metric(at, "Planned vs done (%)").value == "80.0%"
    assert metric(at, "Scope change (%)").value == "40.0%"
    assert metric(at, "Carryover (%)").value == "20.0%"

    at.radio(key="grain").set_value("day").run()
    assert (at.query_params["grain"] in ("day", ["day"]))


def test_range_before_the_first_ingested_day(published: Path) -> None:
    # Data starts on 2026-02-01 (the dense daily mart). Asking for 01-20 .. 02-28 cuts the range to
    # 02-01 .. 02-28 (28 days): p1 p2 p3 = 3 / 28 = 0.107 -> 0.11/day. The previous 28 days were not
    # ingested: unknown, so no comparison (not a comparison with zero).
    at = run_app({"start": "2026-01-20", "end": "2026-02-28"})
    assert any("Data starts on 2026-02-01" in w.value for w in at.sidebar.warning)
    # Tier: blocks back from 02-28: [02-22..02-28] days 24 25 = 2, [02-15..02-21] day 17 = 1,
    # [02-08..02-14] 0, [02-01..02-07] 0: median 0.5 < 1; 3 / 28 * 30 = 3.2 >= 1 a month -> Medium.
    freq = metric(at, "Deployment frequency (per day)")
    assert freq.value == "0.11/day · Medium"
    assert freq.proto.delta == ""
    # 3 / 28 * 7 = 0.75 -> 0.8 per week.
    # Said once on the page, not on every tile.
    assert captions(at).count("No comparison with the previous 28 days") == 1
    assert "n = 3 deployments (fewer than 5: read with care) · 0.8 per week" in captions(at)
    assert "previous:" not in captions(at)
    assert at.query_params["start"] in ("2026-02-01", ["2026-02-01"])


def test_default_range_is_the_last_30_ingested_days(published: Path) -> None:
    at = run_app()
    # The newest fact is PR 104 opened 03-14; the dense mart runs to 03-15: 02-14 .. 03-15.
    assert at.date_input(key="end").value == date(2026, 3, 15)
    assert at.date_input(key="start").value == date(2026, 2, 14)


def test_unknown_value_in_link_is_ignored_with_a_warning(published: Path) -> None:
    at = run_app({"team": "nosuchteam", **CURRENT})
    assert at.selectbox(key="team").value == "All teams"
    assert any("?team=nosuchteam" in w.value for w in at.sidebar.warning)


def test_planning_by_issues_for_all_teams(published: Path) -> None:
    at = run_app({**CURRENT, "unit": "issues"})
    # Issues: planned vs done (8 + 4) / (10 + 5) = 80.0%; scope (3 + 0 + 0 + 2) / 15 = 33.3%;
    # carryover (3 + 1) / ((9 + 4) + (3 + 1)) = 4 / 17 = 23.5%.
    assert metric(at, "Planned vs done (%)").value == "80.0%"
    assert metric(at, "Scope change (%)").value == "33.3%"
    assert metric(at, "Carryover (%)").value == "23.5%"


def test_delivery_page(published: Path) -> None:
    at = run_app({**CURRENT, "grain": "week"}, page="app_pages/delivery.py")
    assert at.title[0].value == "Delivery"
    assert len(at.get("vega_lite_chart")) == 4  # deployments, lead time, failures, recoveries
    failures = at.dataframe[0].value
    # The three failed deployments of the window, newest first: d6 (unrecovered), d4 (24 h), d2 (6 h).
    assert failures["recovery_hours"].tolist()[1:] == [24.0, 6.0]
    assert failures["recovered_at"].isna().tolist() == [True, False, False]


def test_flow_page_links_pull_requests_to_github(published: Path) -> None:
    at = run_app(CURRENT, page="app_pages/flow.py")
    assert at.title[0].value == "Flow"
    by_type = at.dataframe[0].value.set_index("pr_type")
    # Human PRs merged in the window by type: feature 101 (10 h), 201 (40 h) -> p50 25.0.
    assert by_type.loc["feature", "merged_prs"] == 2
    assert by_type.loc["feature", "cycle_time_p50_hours"] == 25.0
    prs = at.dataframe[1].value
    assert "https://github.com/acme/api/pull/101" in prs["link"].tolist()
    # Opened or merged in the window: 101 102 103 105 201 301 202 104 = 8.
    assert len(prs) == 8


def test_planning_page_blocked_issues_link_to_jira(published: Path) -> None:
    at = run_app(CURRENT, page="app_pages/planning.py")
    assert at.title[0].value == "Planning"
    sprints = at.dataframe[0].value
    # Sprints completed in the window (API Sprint 2, WEB Sprint 7) and started in it (none else).
    assert sprints["sprint_name"].tolist() == ["API Sprint 2", "WEB Sprint 7"]
    assert sprints["scope_change_pct"].tolist() == [20.0, 40.0]  # 6/30, 4/10
    blocked = at.dataframe[1].value
    assert blocked["link"].tolist()[0] == "https://acme.atlassian.net/browse/API-7"
    # Ages at the build's publication, 2026-03-16 00:00: API-7 since 03-10 12:00 = 5.5 days, API-9 3.5, WEB-3 1.5.
    assert [round(d, 3) for d in blocked["blocked_days"].tolist()] == [5.5, 3.5, 1.5]
    # The team without a board is named, not an error.
    assert "No Jira sprints for **data**" in captions(at)


def test_planning_page_explains_a_team_without_a_board(published: Path) -> None:
    at = run_app({**CURRENT, "team": "data"}, page="app_pages/planning.py")
    info = " ".join(i.value for i in at.info)
    assert "No Jira sprints for **data**" in info
    assert "teams.<team>.jira_boards" in info
    assert not at.exception


def test_sprint_health_page_shows_latest_card_per_team(published: Path) -> None:
    at = run_app(CURRENT, page="app_pages/sprint_health.py")
    markdown = "\n".join(m.value for m in at.markdown)
    assert markdown_escape("API Sprint 2 finished 80% of its commitment.") in markdown  # outside text, escaped
    assert "older card" not in markdown
    info = " ".join(i.value for i in at.info)
    assert "No Sprint Health card exists yet for web" in info
    assert "No Sprint Health card exists yet for data" in info
    assert any("written by model gpt-test at 2026-03-13 18:00 UTC · posted to Slack channel C123" in c.value
               for c in at.caption)


def test_every_page_renders_for_every_team(published: Path) -> None:
    for page in ("app_pages/overview.py", "app_pages/delivery.py", "app_pages/flow.py",
                 "app_pages/planning.py", "app_pages/sprint_health.py"):
        for team in ("platform", "web", "data"):
            run_app({**CURRENT, "team": team}, page=page)


def test_empty_warehouse_shows_the_command_that_fills_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{tmp_path / 'nothing.duckdb'}")
    at = run_app()
    assert "No published build" in at.warning[0].value
    assert "make demo" in at.code[0].value
    assert "emd pipeline --start" in at.code[0].value
    at.switch_page("app_pages/planning.py").run()
    assert not at.exception
    assert "make demo" in at.code[0].value


def test_unpublished_warehouse_names_the_publish_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live = tmp_path / "warehouse.duckdb"
    build_fixture_warehouse(live)
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{live}")
    at = run_app()
    assert "has not been published" in at.warning[0].value
    assert "python -m emd.snapshot" in at.code[0].value


def test_new_build_replaces_cached_results(published: Path) -> None:
    at = run_app(CURRENT)
    assert metric(at, "Change failure rate (%)").value == "37.5% · Low"
    conn = duckdb.connect(str(published))
    conn.execute("insert into fct_deployments (deployment_id, repo, team, deployed_at, source, is_failure, "
                 "is_rework, recovered_at) values "
                 "('d8', 'acme/api', 'platform', '2026-03-14 10:00', 'merge', true, false, null)")
    conn.close()
    at.run()
    # The app reads the published build, not the live file: still 37.5% until the next publication.
    assert metric(at, "Change failure rate (%)").value == "37.5% · Low"
    publish_build(Warehouse(parse_database_url(f"duckdb:///{published}")))
    at.run()
    # 4 failed of 9 = 44.4%: the cached results of the previous build are not used.
    assert metric(at, "Change failure rate (%)").value == "44.4% · Low"


def test_links_follow_the_configured_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import ui

    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    assert ui.pull_request_url("acme/api", 101) == "https://github.com/acme/api/pull/101"
    # GitHub Enterprise Server: the web host of GITHUB_API_URL.
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.acme.test/api/v3")
    assert ui.pull_request_url("acme/api", 101) == "https://ghe.acme.test/acme/api/pull/101"
    monkeypatch.setenv("JIRA_BASE_URL", "https://acme.atlassian.net/")
    assert ui.jira_issue_url("API-7") == "https://acme.atlassian.net/browse/API-7"
    monkeypatch.delenv("JIRA_BASE_URL")
    assert ui.jira_issue_url("API-7") is None


def test_blocked_issues_without_jira_base_url_say_how_to_link(published: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIRA_BASE_URL")
    at = run_app(CURRENT, page="app_pages/planning.py")
    assert "Set JIRA_BASE_URL to link the issues to Jira." in captions(at)
    assert "link" not in at.dataframe[1].value.columns


def test_blocked_age_is_measured_when_the_data_was_true() -> None:
    from app import queries

    late = queries.Source(kind="duckdb", label="x", key="x", build_id="b", published_at=datetime(2026, 11, 27, 3, 0),
                          tables=frozenset())
    # A backfill ending 2026-03-15, published in November: ages run to the end of 03-15, not to November.
    assert queries.data_as_of(late, date(2026, 3, 15)) == datetime(2026, 3, 16, 0, 0)
    # Published during the last ingested day: its publication time.
    assert queries.data_as_of(late, date(2026, 11, 27)) == datetime(2026, 11, 27, 3, 0)


def test_blocked_sub_tasks_follow_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A build made with jira.include_subtasks: fct_jira_issues.counts_for_planning is true for sub-tasks.
    live = tmp_path / "warehouse.duckdb"
    build_fixture_warehouse(live, include_subtasks=True)
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")), now=PUBLISHED_AT)
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{live}")
    at = run_app(CURRENT, page="app_pages/planning.py")
    # With sub-tasks: API-8 (blocked since 03-11 12:00) is 4.5 days old at 03-16 00:00.
    assert [round(d, 3) for d in at.dataframe[1].value["blocked_days"].tolist()] == [5.5, 4.5, 3.5, 1.5]


def _chart_rows(chart) -> list[dict]:
    """The rows a Vega-Lite chart was drawn from (its one named dataset, sent as Arrow)."""
    import pyarrow as pa

    (dataset,) = chart.proto.datasets
    return pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()


def test_deployments_per_day_on_a_time_axis_with_zero_bars_for_quiet_days(published: Path) -> None:
    at = run_app({"start": "2026-03-02", "end": "2026-03-08", "team": "platform"}, page="app_pages/delivery.py")
    deployments, _lead, failed, _recovery = at.get("vega_lite_chart")
    spec = json.loads(deployments.proto.spec)
    assert spec["encoding"]["x"]["type"] == "temporal" and spec["encoding"]["x2"]["field"] == "period_end"
    # platform: d1 03-02, d2 03-03 (failed), d3 03-04, dbot 03-05; 03-06..03-08 were ingested and quiet.
    drawn = [(str(r["period"])[:10], r["deployments"], r["failed"]) for r in _chart_rows(deployments)]
    assert drawn == [("2026-03-02", 1, 0), ("2026-03-03", 1, 1), ("2026-03-04", 1, 0), ("2026-03-05", 1, 0),
                     ("2026-03-06", 0, 0), ("2026-03-07", 0, 0), ("2026-03-08", 0, 0)]
    assert json.loads(failed.proto.spec)["encoding"]["y"]["field"] == "failed"
    # The sidebar names the build, never where the warehouse lives on the server.
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "Build `" in sidebar and str(published.parent) not in sidebar and "duckdb:" not in sidebar


def test_planning_trend_draws_a_line_per_team_and_labels_the_sprint_table(published: Path) -> None:
    at = run_app(CURRENT, page="app_pages/planning.py")
    trend = next(c for c in at.get("vega_lite_chart") if "Scope change and carryover" in c.proto.spec)
    encoding = json.loads(trend.proto.spec)["encoding"]
    assert encoding["color"]["field"] == "team" and encoding["strokeDash"]["field"] == "series"
    # API Sprint 2 (platform) and WEB Sprint 7 (web): each team's points stay on its own line.
    assert {(r["team"], r["sprint_name"]) for r in _chart_rows(trend)} == {
        ("platform", "API Sprint 2"), ("web", "WEB Sprint 7")}
    table = next(d for d in at.dataframe if "sprint_name" in d.value.columns)
    labels = {name: config.get("label") for name, config in json.loads(table.proto.columns).items()}
    assert (labels["sprint_name"], labels["committed"], labels["carryover"]) == ("Sprint", "Committed", "Carryover")


def test_one_of_a_kind_is_counted_in_the_singular() -> None:
    from app.ui import counted

    assert counted(1, "merged PRs with no review") == "1 merged PR with no review"
    assert counted(1, "issues without an estimate") == "1 issue without an estimate"
    assert counted(2, "issues") == "2 issues" and counted(0, "blocked issues") == "0 blocked issues"
    assert counted(1, "blocked issues") == "1 blocked issue"
