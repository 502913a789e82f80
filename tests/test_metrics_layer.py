"""The metrics layer (emd.metrics) on a real published DuckDB build and on real Postgres, with the
hand-made marts of tests/fixtures/marts.py. Every expected value is computed by hand from those
rows and docs/metrics.md; the arithmetic is in the comments.

Current window 2026-03-02 .. 2026-03-15 (14 days); previous 2026-02-16 .. 2026-03-01.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from emd.metrics import catalogue, filters, source, tiles
from emd.metrics.filters import FilterError, Filters
from emd.metrics.source import EmptyWarehouse, Source
from emd.settings import parse_database_url
from tests.fixtures.marts import (
    CONTRACT_COLUMNS,
    MART_DDL,
    MART_TABLES,
    build_duckdb_warehouse,
    build_postgres_warehouse,
    columns,
    published_source,
)

WINDOW = Filters(start=date(2026, 3, 2), end=date(2026, 3, 15))
DBT_MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models"


@pytest.fixture
def duck(tmp_path: Path) -> Source:
    live = tmp_path / "warehouse.duckdb"
    build_duckdb_warehouse(live)
    return published_source(f"duckdb:///{live}")


@pytest.fixture
def pg(postgres_url: str) -> Source:
    build_postgres_warehouse(postgres_url)
    return published_source(postgres_url)


@pytest.fixture(params=["duckdb", "postgres"])
def src(request: pytest.FixtureRequest) -> Iterator[Source]:
    yield request.getfixturevalue("duck" if request.param == "duckdb" else "pg")


def by_key(values: list[tiles.TileValue]) -> dict[str, tiles.TileValue]:
    return {t.key: t for t in values}


def test_tiles_of_the_window_equal_hand_computed_values(src: Source) -> None:
    t = by_key(tiles.tiles(src, WINDOW))
    assert list(t) == list(catalogue.CATALOGUE)  # every catalogue metric, in catalogue order

    # Deployments d1 d2 d3 dbot d4 d5 d6 d7 = 8 in 14 days; previous p1 p2 p3 = 3 in 14 days.
    freq = t["deployment_frequency_per_day"]
    assert (freq.value, freq.sample_size, freq.low_sample) == (pytest.approx(8 / 14), 8, False)
    assert freq.previous == pytest.approx(3 / 14)
    assert freq.change == pytest.approx(5 / 14)
    # 7-day blocks back from 03-15: deployment days 09 10 12 13 = 4 and 02 03 04 05 = 4: median 4 >= 3.
    # Previous: 24 25 = 2 and 17 = 1: median 1.5 >= 1 -> high.
    assert (freq.band, freq.previous_band) == ("elite", "high")

    # Lead time, PRs deployed in the window, bots included: 2 12 25 40 50 110 -> p50 (25 + 40) / 2 = 32.5;
    # p90 at rank 0.9 * 5 = 4.5: 50 + 0.5 * 60 = 80.0. Previous 8 16 60: p50 16.0, p90 16 + 0.8 * 44 = 51.2.
    assert (t["lead_time_p50_hours"].value, t["lead_time_p50_hours"].sample_size) == (32.5, 6)
    assert t["lead_time_p50_hours"].previous == 16.0
    assert t["lead_time_p50_hours"].band == "high"  # 32.5 h: not under a day, under a week
    assert t["lead_time_p90_hours"].value == pytest.approx(80.0)
    assert t["lead_time_p90_hours"].previous == pytest.approx(51.2)

    # Change failure rate d2 d4 d6 of 8 = 0.375 (a fraction); previous p1 of 3. 0.375 > 0.20 -> low.
    cfr = t["change_failure_rate"]
    assert (cfr.value, cfr.previous, cfr.unit, cfr.band) == (0.375, pytest.approx(1 / 3), "rate", "low")

    # Recovery d2 6 h, d4 24 h (d6 unrecovered): p50 15.0 from 2 (low sample); previous p1 2.0 h.
    rec = t["failed_deployment_recovery_p50_hours"]
    assert (rec.value, rec.sample_size, rec.low_sample, rec.previous) == (15.0, 2, True, 2.0)
    assert rec.note == "1 failed deployment(s) not recovered yet"
    assert rec.band == "high"  # under a day, not under an hour
    assert (t["deployment_rework_rate"].value, t["deployment_rework_rate"].previous) == (0.125, 0.0)
    # Hotfix PRs merged in the window: #103 (03-09) -> 1 / 8 deployments; previous none of 3 -> 0.0.
    hotfix = t["hotfix_rate"]
    assert (hotfix.value, hotfix.sample_size, hotfix.previous, hotfix.band) == (0.125, 8, 0.0, None)

    # Cycle time, human PRs merged (bot #105 out): 10 20 30 40 100 -> p50 30.0, p90 at 3.6: 40 + 0.6 * 60 = 76.0.
    assert (t["cycle_time_p50_hours"].value, t["cycle_time_p50_hours"].sample_size) == (30.0, 5)
    assert t["cycle_time_p90_hours"].value == pytest.approx(76.0)
    assert t["cycle_time_p90_hours"].previous == pytest.approx(42.8)  # 6 14 50 at 1.8: 14 + 0.8 * 36
    # Time to first review of the reviewed merged PRs 1 3 5 8 -> 4.0 from 4; previous 2 4 10 -> 4.0.
    ttfr = t["time_to_first_review_p50_hours"]
    assert (ttfr.value, ttfr.sample_size, ttfr.previous, ttfr.change) == (4.0, 4, 4.0, 0.0)
    # Review depth: every fixture PR has 2 reviews + 1 inline comment = 3; human merged PRs 101 102 103 201 301
    # -> mean 3.0 from 5; previous 90 190 91 -> 3.0 from 3.
    depth = t["review_depth_avg"]
    assert (depth.value, depth.sample_size, depth.previous, depth.previous_sample_size) == (3.0, 5, 3.0, 3)
    # Closed or merged human PRs 101 102 103 201 301 202, reopened 102 202: 2 / 6; previous 0 / 3.
    assert (t["pr_rework_rate"].value, t["pr_rework_rate"].sample_size) == (pytest.approx(1 / 3), 6)
    assert t["pr_rework_rate"].previous == 0.0

    # Sprints completed in the window: API Sprint 2 and WEB Sprint 7 (both estimated: by points);
    # API Sprint 0 (history incomplete) is left out. Planned vs done (24 + 8) / (30 + 10) = 80.0;
    # previous API Sprint 1: 15 / 20 = 75.0. Scope (6 + 0 + 0 + 4) / 40 = 25.0; previous 8 / 20 = 40.0.
    # Carryover (9 + 2) / ((27 + 8) + (9 + 2)) = 11 / 46; previous 6 / 24 = 25.0.
    assert (t["planned_vs_done_pct"].value, t["planned_vs_done_pct"].sample_size) == (80.0, 2)
    assert t["planned_vs_done_pct"].previous == 75.0
    assert (t["scope_change_pct"].value, t["scope_change_pct"].previous) == (25.0, 40.0)
    assert t["carryover_pct"].value == pytest.approx(1100 / 46)
    assert t["carryover_pct"].basis == "points"

    # Blocked at the end of 03-15 (metrics_daily's org row): 3, p50 3.5 days; at the end of 03-01: 1, 3.0.
    assert (t["blocked_issues"].value, t["blocked_issues"].previous) == (3.0, 1.0)
    assert (t["blocked_age_p50_days"].value, t["blocked_age_p50_days"].previous) == (3.5, 3.0)
    assert t["blocked_age_p50_days"].note == "oldest 5.5 days"
    assert all(tile.previous_ingested for tile in t.values())


def test_team_and_repo_filters(src: Source) -> None:
    t = by_key(tiles.tiles(src, Filters(team="platform", start=WINDOW.start, end=WINDOW.end)))
    # platform: d1 d2 d3 dbot d4 = 5 / 14; failures d2 d4: 2 / 5; blocks 1 and 4 deployment days: median 2.5.
    assert t["deployment_frequency_per_day"].value == pytest.approx(5 / 14)
    assert t["deployment_frequency_per_day"].band == "high"
    assert t["change_failure_rate"].value == 0.4
    assert t["cycle_time_p50_hours"].value == 20.0  # 10 20 30
    # API Sprint 2 alone: 24 / 30, 6 / 30, 9 / 36.
    assert (t["planned_vs_done_pct"].value, t["scope_change_pct"].value, t["carryover_pct"].value) == (80.0, 20.0, 25.0)
    # platform's row of 03-15: 2 blocked, p50 4.5; of 03-01: 1, 3.0.
    assert (t["blocked_issues"].value, t["blocked_age_p50_days"].value, t["blocked_age_p50_days"].change) == (2.0, 4.5, 1.5)

    web = by_key(tiles.tiles(src, Filters(repo="acme/web", start=WINDOW.start, end=WINDOW.end)))
    # acme/web: PR 201 alone, 40.0 h, one sample, marked.
    assert (web["cycle_time_p50_hours"].value, web["cycle_time_p50_hours"].low_sample) == (40.0, True)


def test_planning_basis(src: Source) -> None:
    t = by_key(tiles.tiles(src, WINDOW, basis="issues"))
    # Issues: (8 + 4) / (10 + 5) = 80.0; (3 + 0 + 0 + 2) / 15 = 33.33; (3 + 1) / ((9 + 4) + (3 + 1)) = 4 / 17.
    assert t["planned_vs_done_pct"].value == 80.0
    assert t["scope_change_pct"].value == pytest.approx(500 / 15)
    assert t["carryover_pct"].value == pytest.approx(400 / 17)
    assert t["carryover_pct"].basis == "issues"

    table = tiles.sprint_table(src, WINDOW)
    # Completed in the window: API Sprint 2 (03-13), WEB Sprint 7 (03-15); API Sprint 3 starts 03-16.
    assert [r["sprint_name"] for r in table] == ["API Sprint 2", "WEB Sprint 7"]
    assert [r["basis"] for r in table] == ["points", "points"]
    assert [r["scope_change_pct"] for r in table] == [20.0, 40.0]  # the mart's columns, by points
    assert [r["carryover"] for r in table] == [9, 2]
    by_issues = tiles.sprint_table(src, WINDOW, basis="issues")
    assert [r["scope_change_pct"] for r in by_issues] == [30.0, 40.0]  # 3/10, 2/5
    assert [r["carryover"] for r in by_issues] == [3, 1]


def test_previous_period_only_where_ingested(src: Source) -> None:
    # Ingested from 2026-02-01: the 28 days before 02-01 .. 02-28 were not ingested: no previous, no change.
    feb = Filters(start=date(2026, 2, 1), end=date(2026, 2, 28))
    t = by_key(tiles.tiles(src, feb))
    assert not tiles.previous_ingested(src, feb)
    freq = t["deployment_frequency_per_day"]
    assert (freq.value, freq.previous, freq.change, freq.previous_ingested) == (pytest.approx(3 / 28), None, None, False)
    # Blocks back from 02-28: 2, 1, 0, 0 deployment days: median 0.5 < 1; 3 / 28 per day >= 1 / 30 -> medium.
    assert (freq.band, freq.previous_band) == ("medium", None)


def test_series_per_week_and_day(src: Source) -> None:
    weekly = Filters(start=WINDOW.start, end=WINDOW.end, granularity="week")
    cycle = tiles.series(src, "cycle_time_p50_hours", weekly)
    # Week of 03-02: 101 (10) and 102 (20) -> 15.0 from 2; week of 03-09: 103 (30) 201 (40) 301 (100) -> 40.0.
    assert cycle == [tiles.Point(date(2026, 3, 2), 15.0, 2), tiles.Point(date(2026, 3, 9), 40.0, 3)]
    freq = tiles.series(src, "deployment_frequency_per_day", weekly)
    assert [(p.value, p.sample_size) for p in freq] == [(pytest.approx(4 / 7), 4), (pytest.approx(4 / 7), 4)]
    daily = tiles.series(src, "deployment_frequency_per_day", WINDOW)
    assert len(daily) == 14
    assert daily[4] == tiles.Point(date(2026, 3, 6), 0.0, 0)  # no deployment that day: 0, not missing
    cfr = tiles.series(src, "change_failure_rate", WINDOW)
    assert cfr[1] == tiles.Point(date(2026, 3, 3), 1.0, 1) and cfr[4].value is None  # NULL on 0 deployments
    blocked = tiles.series(src, "blocked_issues", WINDOW)
    assert blocked[-1] == tiles.Point(date(2026, 3, 15), 3.0, 3)
    with pytest.raises(KeyError, match="no series"):
        tiles.series(src, "blocked_age_p50_days", WINDOW)


def test_period_values_over_a_sprint(src: Source) -> None:
    start, end = datetime(2026, 3, 2, 9), datetime(2026, 3, 13, 17)  # API Sprint 2
    values = tiles.period_values(src, Filters(team="platform"), start, end)
    # platform's human PRs merged in the sprint: 101 (03-02 10:00) 102 103 -> 10 20 30: p50 20.0 from 3.
    assert values["cycle_time_p50_hours"] == (20.0, 3)
    # Deployments d1 d2 d3 dbot d4 = 5 over 11 days 8 hours; failures d2 d4.
    assert values["deployment_frequency_per_day"] == (pytest.approx(5 / (11 + 8 / 24)), 5)
    assert values["change_failure_rate"] == (0.4, 5)


def test_blocked_now_counts_planning_issues_only(src: Source) -> None:
    found = tiles.blocked_now(src, WINDOW)
    # The sub-task API-8 does not count for planning. Ages at 03-16 00:00 (the build; the last ingested
    # day ends then too): API-7 since 03-10 12:00 = 5.5, API-9 3.5, WEB-3 1.5.
    assert [r["issue_key"] for r in found] == ["API-7", "API-9", "WEB-3"]
    assert [round(r["blocked_days"], 3) for r in found] == [5.5, 3.5, 1.5]
    assert [r["issue_key"] for r in tiles.blocked_now(src, Filters(team="web"))] == ["WEB-3"]


def test_dimensions_and_the_ingested_calendar(src: Source) -> None:
    dims = filters.dimensions(src)
    assert dims.teams == ("data", "platform", "web")
    assert dims.repos(["platform"]) == ("acme/api",)
    assert dims.orgs == ("acme",)
    assert (dims.first_day, dims.last_day, dims.latest_day) == (date(2026, 2, 1), date(2026, 3, 15), date(2026, 3, 15))


GAP = ("2026-03-05", "2026-03-08")  # four days never ingested between two backfilled ranges
DAILY_TABLES = ("mv_dora_by_repo_day", "mv_flow_by_repo_day", "mv_planning_by_team_day", "metrics_daily",
                "fct_ingested_days")


def _without_gap(conn: object) -> None:
    """The per-day marts as dbt builds them over a calendar with a gap: no row for a day never ingested."""
    for table in DAILY_TABLES:
        conn.execute(f"delete from {table} where \"date\" between '{GAP[0]}' and '{GAP[1]}'")  # type: ignore[attr-defined]  # noqa: S608


@pytest.fixture(params=["duckdb", "postgres"])
def gapped(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    if request.param == "duckdb":
        import duckdb

        live = tmp_path / "warehouse.duckdb"
        build_duckdb_warehouse(live)
        with duckdb.connect(str(live)) as conn:
            _without_gap(conn)
        return published_source(f"duckdb:///{live}")
    import psycopg

    url = request.getfixturevalue("postgres_url")
    build_postgres_warehouse(url)
    with psycopg.connect(url, autocommit=True) as conn:
        _without_gap(conn)
    return published_source(url)


def test_a_gap_in_the_ingested_calendar_stays_a_gap(gapped: Source) -> None:
    dims = filters.dimensions(gapped)
    assert dims.days is not None and date(2026, 3, 6) not in dims.days and date(2026, 3, 4) in dims.days
    # WINDOW 03-02 .. 03-15 has 14 - 4 = 10 ingested days. Deployments d1 d2 d3 d4 d5 d6 d7 = 7 (dbot at 03-05
    # 10:00 is dated in the gap: left out, as the per-day marts have no row for its day) -> 7 / 10 per day;
    # failed d2 d4 d6 -> 3 / 7.
    t = by_key(tiles.tiles(gapped, WINDOW))
    assert (t["deployment_frequency_per_day"].value, t["deployment_frequency_per_day"].sample_size) == (
        pytest.approx(0.7), 7)
    assert t["change_failure_rate"].value == pytest.approx(3 / 7)
    # Lead time without the bot's PR #105 (deployed 03-05): 12 25 40 50 110 -> p50 40.0 from 5.
    assert (t["lead_time_p50_hours"].value, t["lead_time_p50_hours"].sample_size) == (40.0, 5)
    # A series has no value on a day never ingested (not a zero); 03-04 and 03-09 are ingested.
    daily = {p.bucket: p for p in tiles.series(gapped, "deployment_frequency_per_day", WINDOW)}
    assert daily[date(2026, 3, 6)] == tiles.Point(date(2026, 3, 6), None, 0)
    assert (daily[date(2026, 3, 4)].value, daily[date(2026, 3, 9)].value) == (1.0, 1.0)
    blocked = {p.bucket: p.value for p in tiles.series(gapped, "blocked_issues", WINDOW)}
    assert blocked[date(2026, 3, 6)] is None
    # The week 03-09 .. 03-15 compares with 03-02 .. 03-08, which holds the gap: no previous period.
    week = Filters(start=date(2026, 3, 9), end=date(2026, 3, 15))
    assert not tiles.previous_ingested(gapped, week)
    assert by_key(tiles.tiles(gapped, week))["deployment_frequency_per_day"].previous is None


@pytest.mark.parametrize(("bad", "param"), [
    (Filters(team="nosuchteam"), "team"),
    (Filters(repo="acme/nosuch"), "repo"),
    (Filters(team="platform", repo="acme/web"), "repo"),
    (Filters(org="globex"), "org"),
    (Filters(start=date(2026, 3, 5), end=date(2026, 3, 1)), "from"),
    (Filters(granularity="month"), "granularity"),
])
def test_bad_filters_name_the_parameter(duck: Source, bad: Filters, param: str) -> None:
    with pytest.raises(FilterError) as err:
        filters.validate(duck, bad)
    assert err.value.param == param


def test_previous_is_the_equal_period_just_before() -> None:
    prev = WINDOW.previous()
    assert (prev.start, prev.end, prev.days) == (date(2026, 2, 16), date(2026, 3, 1), 14)
    assert (WINDOW.start_ts, WINDOW.end_ts) == (datetime(2026, 3, 2), datetime(2026, 3, 16))


def test_empty_warehouse_says_how_to_fill_it(tmp_path: Path) -> None:
    empty = source.open_source(parse_database_url(f"duckdb:///{tmp_path / 'none.duckdb'}"))
    assert isinstance(empty, EmptyWarehouse)
    assert "make demo" in empty.commands


def test_catalogue_formats_and_bands() -> None:
    cfr = catalogue.metric("change_failure_rate")
    assert catalogue.format_value(cfr, 0.375) == "37.5%"  # a rate is shown × 100
    assert catalogue.format_delta(cfr, 0.042) == "+4.2 pp"
    assert catalogue.format_value(catalogue.metric("lead_time_p50_hours"), 12.0, trim=True) == "12 h"
    assert catalogue.format_value(catalogue.metric("blocked_issues"), None) == "—"
    # DORA 2024: lead time under a day is elite; exactly 24 h is not under a day -> high.
    assert catalogue.dora_band("lead_time_p50_hours", {"lead_time_p50_hours": 23.9}) == "elite"
    assert catalogue.dora_band("lead_time_p50_hours", {"lead_time_p50_hours": 24.0}) == "high"
    assert catalogue.dora_band("change_failure_rate", {"change_failure_rate": 0.05}) == "elite"
    assert catalogue.dora_band("change_failure_rate", {"change_failure_rate": None}) is None
    assert catalogue.DORA_REPORT_YEAR == 2024
    assert set(catalogue.DORA_BANDS) == {k for k, m in catalogue.CATALOGUE.items() if m.dora_key}


def test_fixture_tables_are_the_marts_contracts() -> None:
    """The fixture's tables are the dbt contracts' (every column, its type); the columns its rows fill are
    among them, and every table it writes is a published mart (or the sprint_health record table)."""
    from emd.snapshot import MART_TABLES as PUBLISHED

    for table in MART_TABLES:
        contract = [name for name, _ in CONTRACT_COLUMNS[table]]
        missing = set(columns(table)) - set(contract)
        assert not missing, f"{table}: fixture columns not in the dbt contract: {sorted(missing)}"
        assert MART_DDL[table].split(", ")[0].split()[0] == contract[0]
    assert set(MART_TABLES) <= set(PUBLISHED)
    assert dict(CONTRACT_COLUMNS["fct_ingested_days"]) == {"source": "text", "date": "date"}


def test_metricflow_metrics_are_named_and_labelled_as_the_catalogue() -> None:
    """The MetricFlow metrics beside the marts use the catalogue's keys and labels (DECISIONS.md)."""
    defined: dict[str, str] = {}
    for path in DBT_MODELS.rglob("*__semantic_models.yml"):
        for m in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("metrics") or []:
            defined[m["name"]] = m["label"]
    in_catalogue = {k: v for k, v in defined.items() if k in catalogue.CATALOGUE}
    assert len(in_catalogue) >= 9
    for key, label in in_catalogue.items():
        assert label == catalogue.CATALOGUE[key].label, key
    # The helper metrics (counts a ratio is built from) are not catalogue metrics.
    assert set(defined) - set(in_catalogue) <= {"deployments", "failed_deployments", "rework_deployments",
                                                "finished_prs", "reopened_prs"}


def test_postgres_reads_reuse_pooled_read_only_sessions(pg: Source) -> None:
    """Twenty statements of the layer on Postgres run on one pooled session (not a connection each), read only
    and on the build's schema."""
    pids = {source.rows(pg, "select pg_backend_pid() as pid")[0]["pid"] for _ in range(20)}
    assert len(pids) == 1
    session = source.rows(pg, "select current_setting('default_transaction_read_only') as ro, "
                              "current_schema() as schema")[0]
    assert session == {"ro": "on", "schema": pg.schema}


def test_postgres_requests_open_the_build_on_a_pooled_session(pg: Source) -> None:
    """Opening the published build, as every API request does, reuses the pool's session too (no connection per
    request), and a statement after it still reads the build's schema."""
    from emd.settings import parse_database_url

    target = parse_database_url(pg.url or "")
    opened = [source.open_source(target) for _ in range(20)]
    assert {(s.schema, s.build_id) for s in opened if isinstance(s, Source)} == {(pg.schema, pg.build_id)}
    pids = {source.rows(s, "select pg_backend_pid() as pid")[0]["pid"] for s in opened}
    assert len(pids) == 1
    assert source.rows(opened[-1], "select current_schema() as schema")[0]["schema"] == pg.schema


def test_a_bad_pool_size_names_the_variable(pg: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    from emd.settings import SettingsError

    # A warehouse URL no pool serves yet (the pool is sized when it is made).
    url = (pg.url or "") + ("&" if "?" in (pg.url or "") else "?") + "application_name=emd-bad-pool-size"
    monkeypatch.setenv("EMD_POSTGRES_POOL_SIZE", "ten")
    with pytest.raises(SettingsError, match="EMD_POSTGRES_POOL_SIZE must be a whole number"):
        source.rows(dataclasses.replace(pg, url=url), "select 1 as one")
