"""emd.metrics.rows on a published build of the hand-made marts (tests/fixtures/drilldown.py), and the
drilldown page driven by AppTest from the dashboard's entry point.

Every expected value is computed by hand from the fixture rows and docs/metrics.md (arithmetic in
the comments). Window: 2026-03-02 .. 2026-03-15.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from emd.metrics import rows
from emd.metrics.filters import Filters
from emd.metrics.source import Source, open_source
from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.warehouse import Warehouse
from tests.fixtures.drilldown import build_drilldown_postgres, build_drilldown_warehouse
from tests.fixtures.marts import PUBLISHED_AT

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "streamlit_app.py"
WINDOW = Filters(start=date(2026, 3, 2), end=date(2026, 3, 15))
CURRENT = {"start": "2026-03-02", "end": "2026-03-15"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    live = tmp_path_factory.mktemp("drill") / "warehouse.duckdb"
    build_drilldown_warehouse(live)
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")), now=PUBLISHED_AT)
    return live


@pytest.fixture(params=["duckdb", "postgres"])
def source(request: pytest.FixtureRequest, warehouse: Path) -> Source:
    """The published DuckDB build, or the same marts on real Postgres (read live, as the dashboard does)."""
    if request.param == "duckdb":
        url = f"duckdb:///{warehouse}"
    else:
        url = request.getfixturevalue("postgres_url")
        build_drilldown_postgres(url)
        publish_build(Warehouse(parse_database_url(url)), now=PUBLISHED_AT)
    opened = open_source(parse_database_url(url))
    assert isinstance(opened, Source)
    return opened


def test_the_drilldown_marts_are_published(source: Source) -> None:
    assert {"fct_failure_signals", "fct_pull_request_reviews", "fct_sprint_issues"} <= source.tables


def test_every_drill_is_a_catalogue_metric_and_a_layer_domain() -> None:
    from emd.metrics import catalogue, tiles

    for key, spec in rows.DRILLS.items():
        assert catalogue.metric(key).key == key
        assert spec.domain in tiles.DOMAINS


def test_change_failure_rate_rows_recompute_the_tile(source: Source) -> None:
    found = rows.tile_rows(source, WINDOW, "change_failure_rate")
    # 8 deployments in the window (d1 d2 d3 dbot d4 d5 d6 d7), failed first: d6 (03-12), d4 (03-09), d2 (03-03)
    assert len(found) == 8
    assert list(found["deployment_id"][:3]) == ["d6", "d4", "d2"]
    assert int(found["is_failure"].sum()) / len(found) == 3 / 8  # 37.5 %, the tile's value


def test_lead_time_rows_leave_the_skewed_pr_out(source: Source) -> None:
    found = rows.tile_rows(source, WINDOW, "lead_time_p50_hours")
    # deployed PRs with a lead time: 301 (110 h), 201 (50), 103 (40), 102 (25), 101 (12), 105 (2); 106 skewed
    assert list(found["number"]) == [301, 201, 103, 102, 101, 105]
    ordered = sorted(found["lead_time_hours"])
    assert (ordered[2] + ordered[3]) / 2 == 32.5  # p50 of six values: (25 + 40) / 2


def test_team_filter_narrows_the_rows(source: Source) -> None:
    web = Filters(team="web", start=WINDOW.start, end=WINDOW.end)
    assert list(rows.tile_rows(source, web, "deployment_frequency_per_day")["deployment_id"]) == ["d6", "d5"]


def test_a_deployment_with_its_prs_and_signals(source: Source) -> None:
    d2 = rows.deployment(source, "d2")
    assert d2 is not None and d2["is_failure"] and d2["recovery_hours"] == 6.0
    prs = rows.deployment_pull_requests(source, "d2")
    assert list(prs["number"]) == [102] and list(prs["lead_time_hours"]) == [25.0]
    signals = rows.deployment_signals(source, "d2").to_dict("records")
    assert [s["signal_ref"] for s in signals] == ["API-50"]
    # API-50 at 03-03 12:00, d2 at 03-03 10:00: 2.0 h later, within the 7-day window
    assert rows.attribution_reason(signals[0]) == (
        "same repo (acme/api); the latest deployment before it; 2.0 h earlier, within 7 days")


def test_unattributed_signals_say_why() -> None:
    nothing_before = {"attribution": "unattributed", "repo": "acme/data-pipeline"}
    assert rows.attribution_reason(nothing_before) == "not attributed: no earlier deployment of acme/data-pipeline"
    outside = {"attribution": "outside_window", "repo": "r", "hours_after_previous_deployment": 182.0,
               "failure_window_days": 7}
    assert rows.attribution_reason(outside) == (
        "not attributed: the latest earlier deployment of r is 182.0 h earlier, more than 7 days")


def test_pull_request_timeline_parts(source: Source) -> None:
    pr = rows.pull_request(source, "PR_acme/api_102")
    assert pr is not None
    parts = {p.name: p.hours for p in rows.timeline_parts(pr)}
    # first commit 03-02 09:00 -> ready 22:00 = 13 h; ready -> first review 03-03 01:00 = 3 h;
    # first review -> merged 10:00 = 9 h; merged -> deployed 10:00 = 0 h
    assert parts == {"coding": 13.0, "pickup": 3.0, "review": 9.0, "deploy": 0.0}
    reviews = rows.pull_request_reviews(source, "PR_acme/api_102")
    assert list(reviews["reviewer"]) == ["bob", "carol", "alice"]
    assert list(reviews["is_counted"]) == [False, True, True]


def test_coding_is_floored_when_the_first_commit_follows_ready() -> None:
    pr = {"first_commit_at": datetime(2026, 3, 4, 12), "ready_at": datetime(2026, 3, 4, 6),
          "first_review_at": None, "merged_at": datetime(2026, 3, 4, 10), "deployed_at": datetime(2026, 3, 4, 10)}
    parts = rows.timeline_parts(pr)
    assert [(p.name, p.hours) for p in parts] == [("coding", 0.0), ("deploy", 0.0)]


def test_sprint_issue_rows_sum_to_the_sprint(source: Source) -> None:
    sprint = rows.sprint(source, 7)
    issues = rows.sprint_issues(source, 7)
    assert sprint is not None
    for role in ("committed", "added", "removed", "completed", "carryover"):
        part = issues[issues["role"] == role]
        assert float(part["story_points"].fillna(0).sum()) == sprint[f"{role}_points"], role
        assert len(part) == sprint[f"{role}_issues"], role
    # WEB-13 left by Jira change h16 (WEB Sprint 7 -> WEB Sprint 8) at 03-09 16:00
    removed = issues[issues["role"] == "removed"].to_dict("records")[0]
    assert (removed["issue_key"], removed["placed_by_history_id"], removed["placed_by_to"]) == (
        "WEB-13", "h16", "WEB Sprint 8")


def test_data_quality_notes_count_the_rows_behind_them(source: Source) -> None:
    notes = {n.key: n for n in rows.data_quality(source, WINDOW)}
    assert notes["lead_time_clock_skew"].count == 1
    assert list(notes["lead_time_clock_skew"].rows["number"]) == [106]
    assert list(notes["deployment_without_pr"].rows["deployment_id"]) == ["d6"]
    # merged human PRs without a review in the window: 301 (03-13), 106 (03-04); the bot's 105 is left out
    assert list(notes["merged_without_review"].rows["number"]) == [301, 106]
    # API Sprint 0 started 2026-01-27, before the first ingested day 2026-02-01; completed 03-05
    assert list(notes["sprint_before_first_day"].rows["sprint_id"]) == [9]
    # counted sprints completed in the window: 2 and 7; WEB-14 has no estimate (committed and carryover rows)
    assert notes["issue_without_estimate"].count == 1
    assert set(notes["issue_without_estimate"].rows["role"]) == {"committed", "carryover"}
    assert {n.page for n in rows.data_quality(source, WINDOW, "flow")} == {"flow"}


# ---------------------------------------------------------------------------------------------
# The page, through AppTest


def run_app(warehouse: Path, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{warehouse}")
    monkeypatch.setenv("JIRA_BASE_URL", "https://acme.atlassian.net")
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page("app_pages/drilldown.py")
    return at.run()


def page_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [t.value for t in at.text] + [w.value for w in at.warning]
    parts += [s.value for s in at.subheader] + [t.value for t in at.title]
    for table in at.table:
        parts.append(table.value.to_string())
    return "\n".join(str(p) for p in parts)


def test_page_lists_the_rows_behind_change_failure_rate(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(warehouse, monkeypatch, **CURRENT, metric="change_failure_rate")
    assert not at.exception
    text = page_text(at)
    assert "Rows behind: Change failure rate" in text
    assert "8 deployments · 3 failed · 1 rework · 2 recovered" in text
    assert at.dataframe[0].value["deployment_id"].tolist()[:3] == ["d6", "d4", "d2"]


def test_page_opens_a_deployment_from_the_list(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(warehouse, monkeypatch, **CURRENT, metric="change_failure_rate")
    at.selectbox(key="drill_open_deployment").select("d2").run()
    assert not at.exception
    assert at.query_params["deployment"] in ("d2", ["d2"])
    text = page_text(at)
    assert "Deployment of acme/api" in text
    assert "same repo \\(acme/api\\); the latest deployment before it; 2\\.0 h earlier, within 7 days" in text
    assert "recovered at 2026-03-03 16:00 UTC, 6.0 h after it" in text


def test_page_shows_a_sprint_with_its_changelog_entries(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # where a Slack post's "Open in the dashboard" lands (emd/slack.py)
    at = run_app(warehouse, monkeypatch, team="web", **CURRENT, sprint="7")
    assert not at.exception
    text = page_text(at)
    assert "Sprint: WEB Sprint 7" in text
    assert ("By points: planned vs done = 6 / 10 = 60.0% · scope change = (2 + 4) / 10 = 60.0% · "
            "carryover = 1 / (8 + 1) = 11.1%") in text
    assert "Removed (left before completion, not Done; points when it left): 1 issue, 4 points" in text
    assert "https://acme.atlassian.net/browse/WEB-13?page=" in text
    assert "Search \\*filters\\*" in text  # outside text escaped in the markdown table
    assert "1 issue without an estimate" in text


@pytest.mark.parametrize("ref", ["PR_acme/api_106", "acme/api#106"])  # the node id, or what people paste
def test_page_of_a_pull_request(warehouse: Path, monkeypatch: pytest.MonkeyPatch, ref: str) -> None:
    at = run_app(warehouse, monkeypatch, **CURRENT, pr=ref)
    assert not at.exception
    text = page_text(at)
    assert "Pull request acme/api#106" in text
    assert "author clock skew" in text and "merged without a review" in text


def test_counts_are_over_every_row_when_the_list_is_cut(source: Source) -> None:
    assert len(rows.tile_rows(source, WINDOW, "change_failure_rate", limit=2)) == 2
    # d1 d2 d3 dbot d4 d5 d6 d7: failed d2 d4 d6; rework d4; recovered d2 (6 h) and d4 (24 h)
    assert rows.tile_counts(source, WINDOW, "change_failure_rate") == {
        "rows": 8, "failed": 3, "rework": 1, "recovered": 2}
    assert rows.tile_counts(source, WINDOW, "lead_time_p50_hours") == {"rows": 6}
