"""The ingested calendar is per source (docs/metrics.md Conventions): a day on which GitHub was ingested but
Jira was not is a GitHub day only. The scenario of tests/dbt_fixtures/scenario.py (days 1-5 = 2026-03-02 ..
03-06; every Jira row is in the 03-06 partition, the earlier Jira partitions are empty) with GitHub ingested
on all five days and Jira on 1-2 and 4-5 (its 03-04 partition failed): dbt builds the marts, the build is
published and the metrics layer reads it, on DuckDB and on Postgres. The Jira metrics have a gap on 03-04
(no mart row, no series value, no day of a window or previous period); the GitHub ones do not.

Expected values by hand from the scenario (tests/test_dbt_marts.py has the same days with every source):
- acme/api deployments per day 03-02 .. 03-06: 1, 1, 2, 1, 0 (api#1; api#2; api#4 and api#5; api#7; none).
- org deployments on 03-04: api#4, api#5 and web v1.1 = 3.
- platform's blocked issues at the end of each day: 03-02 none; 03-03 API-7 (flagged since 03-03 08:00);
  03-04 API-7 and API-5 (Blocked since 03-04 10:00) = 2, but Jira's 03-04 was not ingested: unknown;
  03-05 API-5 (API-7 unflagged at 08:00); 03-06 API-5. The org has the same (web's WEB-1 is not blocked).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import postgres_schema
from dbt_fixtures import scenario

from emd.config import parse_config
from emd.metrics import tiles
from emd.metrics.filters import Filters, dimensions
from emd.metrics.source import Source, as_date, rows
from emd.settings import parse_database_url
from emd.warehouse import Warehouse
from orchestration.defs.dbt.project import dbt_vars, run_dbt
from tests.fixtures.marts import published_source

JIRA_FAILED = "2026-03-04"
D = date.fromisoformat
DAYS = [D(d) for d in scenario.INGESTED_DAYS]  # 03-02 .. 03-06
JIRA_DAYS = [d for d in DAYS if d != D(JIRA_FAILED)]
WINDOW = Filters(start=DAYS[0], end=DAYS[-1])


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    work: Path = tmp_path_factory.mktemp(f"calendar-{request.param}")
    url = f"duckdb:///{work / 'warehouse.duckdb'}"
    if request.param == "postgres":
        url = postgres_schema(request.getfixturevalue("postgres_database"))[0]
    warehouse = Warehouse(parse_database_url(url))
    fetched = datetime(2026, 3, 7, 1, 0, tzinfo=UTC)
    for day, tables in scenario.github_partitions().items():
        warehouse.replace_partitions(tables, day, fetched_at=fetched)
    jira = scenario.jira_partitions()
    assert not any(jira[JIRA_FAILED].values())  # the failed day held no rows: only the calendar differs
    for day, tables in jira.items():
        if day != JIRA_FAILED:
            warehouse.replace_partitions(tables, day, fetched_at=fetched)
    run_dbt(["build"], warehouse.target, dbt_vars(parse_config(scenario.CONFIG, work / "config.yaml")),
            work_dir=work)
    yield published_source(url)


def _days(source: Source, sql: str) -> list[date]:
    return [d for d in (as_date(r["d"]) for r in rows(source, sql)) if d is not None]


def test_the_marts_put_a_sources_rows_on_its_own_ingested_days(built: Source) -> None:
    calendar = rows(built, "select source, date from fct_ingested_days where source in ('github', 'jira')")
    assert sorted((r["source"], as_date(r["date"])) for r in calendar) == sorted(
        [("github", d) for d in DAYS] + [("jira", d) for d in JIRA_DAYS])
    # GitHub's marts: every day, 03-04 too.
    assert _days(built, "select date as d from mv_dora_by_repo_day where repo = 'acme/api' order by 1") == DAYS
    assert _days(built, "select date as d from mv_flow_by_repo_day where repo = 'acme/api' order by 1") == DAYS
    api = rows(built, "select deployments from mv_dora_by_repo_day where repo = 'acme/api' order by date")
    assert [r["deployments"] for r in api] == [1, 1, 2, 1, 0]
    # Jira's: no row on 03-04.
    assert _days(built, "select date as d from mv_planning_by_team_day where team = 'platform' order by 1") == JIRA_DAYS
    # metrics_daily: the org row of 03-04 exists (GitHub was ingested) with its DORA values and no planning ones.
    org = {as_date(r["date"]): r for r in rows(
        built, "select date, dora_deployments, planning_blocked_issues, planning_wip_issues from metrics_daily "
               "where team = '*' and repo = '*'")}
    assert sorted(org) == DAYS
    assert (org[D(JIRA_FAILED)]["dora_deployments"], org[D(JIRA_FAILED)]["planning_blocked_issues"],
            org[D(JIRA_FAILED)]["planning_wip_issues"]) == (3, None, None)
    assert [org[d]["planning_blocked_issues"] for d in JIRA_DAYS] == [0, 1, 1, 1]


def test_the_layer_reads_the_same_calendar_per_source(built: Source) -> None:
    dims = dimensions(built)
    assert dims.calendar("github") == frozenset(DAYS)
    assert dims.calendar("jira") == frozenset(JIRA_DAYS)
    assert (dims.ingested_days(DAYS[0], DAYS[-1], "github"), dims.ingested_days(DAYS[0], DAYS[-1], "jira")) == (5, 4)
    # A Jira fact dated 03-04 is outside the window's Jira days: 03-02 .. 03-03 and 03-05 .. 03-06.
    assert dims.spans(datetime(2026, 3, 2), datetime(2026, 3, 7), "jira") == [
        (datetime(2026, 3, 2), datetime(2026, 3, 4)), (datetime(2026, 3, 5), datetime(2026, 3, 7))]
    assert dims.spans(datetime(2026, 3, 2), datetime(2026, 3, 7), "github") == [
        (datetime(2026, 3, 2), datetime(2026, 3, 7))]


def test_a_jira_gap_is_a_gap_in_series_for_jira_metrics_only(built: Source) -> None:
    for f in (WINDOW, Filters(start=DAYS[0], end=DAYS[-1], team="platform")):
        blocked = [p.value for p in tiles.series(built, "blocked_issues", f)]
        assert blocked == [0, 1, None, 1, 1], f  # 03-04 unknown, not 2 and not 0
    deployments = tiles.series(built, "deployment_frequency_per_day", Filters(start=DAYS[0], end=DAYS[-1],
                                                                              repo="acme/api"))
    assert [(p.value, p.sample_size) for p in deployments] == [(1, 1), (1, 1), (2, 2), (1, 1), (0, 0)]
    # A week bucket divides by its ingested days: 03-02 .. 03-06 are five GitHub days -> 5 / 5 per day.
    weekly = tiles.series(built, "deployment_frequency_per_day", Filters(start=DAYS[0], end=DAYS[-1],
                                                                         repo="acme/api", granularity="week"))
    assert [(p.value, p.sample_size) for p in weekly] == [(1.0, 5)]


def test_the_previous_period_holding_the_jira_gap_has_no_comparison_for_jira_tiles_only(built: Source) -> None:
    # 03-05 .. 03-06 compares with 03-03 .. 03-04: GitHub ingested both days, Jira not 03-04.
    window = Filters(start=D("2026-03-05"), end=D("2026-03-06"), repo="acme/api")
    t = {x.key: x for x in tiles.tiles(built, window)}
    freq = t["deployment_frequency_per_day"]
    # api: 03-05 api#7, 03-06 none -> 1 / 2 days; before: 03-03 api#2, 03-04 api#4 and api#5 -> 3 / 2 days.
    assert (freq.value, freq.previous, freq.previous_ingested) == (0.5, 1.5, True)
    assert freq.change == pytest.approx(-1.0)
    for key in ("planned_vs_done_pct", "scope_change_pct", "carryover_pct", "blocked_issues"):
        assert (t[key].previous_ingested, t[key].previous, t[key].change) == (False, None, None), key
    # Blocked at the end of 03-06: API-5 only.
    assert t["blocked_issues"].value == 1
    # A window whose last day is the Jira gap has no blocked value (unknown), DORA has one.
    on_gap = {x.key: x for x in tiles.tiles(built, Filters(start=D(JIRA_FAILED), end=D(JIRA_FAILED), repo="acme/api"))}
    assert "blocked_issues" not in on_gap
    assert on_gap["deployment_frequency_per_day"].value == 2.0
