"""A quiet day is still an ingested day: a partition written with no rows (a weekend, the early hours of today)
extends the ingested calendar, so blocked issues, WIP and every end-of-day value exist for it.

The scenario is tests/dbt_fixtures/scenario.py (days 2026-03-02 .. 03-06) plus 2026-03-07, ingested for every
raw table but with nothing reported by either source. Before raw_ingested_partitions, the calendar was read
from the raw rows and ended on 03-06.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from dbt_fixtures import scenario

from emd.config import parse_config
from emd.settings import parse_database_url
from emd.warehouse import RAW_TABLES, Warehouse
from orchestration.defs.dbt.project import dbt_vars, run_dbt

QUIET_DAY = "2026-03-07"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    work = tmp_path_factory.mktemp("quiet_day")
    target = parse_database_url(f"duckdb:///{work / 'warehouse.duckdb'}")
    warehouse = Warehouse(target)
    fetched = datetime(2026, 3, 8, 1, 0, tzinfo=UTC)
    for day, tables in scenario.github_partitions().items():
        warehouse.replace_partitions(tables, day, fetched_at=fetched)
    for day, tables in scenario.jira_partitions().items():
        warehouse.replace_partitions(tables, day, fetched_at=fetched)
    written = warehouse.replace_partitions({table: [] for table in RAW_TABLES}, QUIET_DAY, fetched_at=fetched)
    assert set(written.values()) == {0}
    run_dbt(["build"], target, dbt_vars(parse_config(scenario.CONFIG, work / "config.yaml")), work_dir=work)
    return warehouse


def test_the_quiet_day_is_recorded_per_table_with_its_fetch_time(built: Warehouse) -> None:
    recorded = built.query("select table_name, source, fetched_at, row_count from raw_ingested_partitions "
                           "where partition_date = ? order by table_name", [date.fromisoformat(QUIET_DAY)])
    assert [r[0] for r in recorded] == sorted(RAW_TABLES)
    assert {r[1] for r in recorded} == {"github", "jira", "pagerduty", "slo"}  # every raw table, the SLO ones too
    assert {(r[2], r[3]) for r in recorded} == {(datetime(2026, 3, 8, 1, 0), 0)}


def test_blocked_and_wip_exist_on_the_quiet_last_day(built: Warehouse) -> None:
    rows = built.query("select date, blocked_issues, blocked_age_max_days, wip_issues from mv_planning_by_team_day "
                       "where team = 'platform' order by date")
    assert rows[-1][0] == date(2026, 3, 7)                       # 03-02 .. 03-07: six days, the quiet one last
    assert len(rows) == 6
    _, blocked, age_max, wip = rows[-1]
    # API-5 is in status Blocked since 03-04 10:00 and nothing changed after: still blocked at the end of 03-07,
    # for 03-04 10:00 -> 03-08 00:00 = 14 + 24 + 24 + 24 = 86 hours.
    assert blocked == 1
    assert age_max == pytest.approx(86 / 24)
    # WIP at the end of 03-07: API-2 (In Progress since 03-03) and API-5 (Blocked, an In Progress category).
    assert wip == 2


def test_daily_marts_and_the_org_rollup_reach_the_quiet_day(built: Warehouse) -> None:
    for table in ("mv_dora_by_repo_day", "mv_flow_by_repo_day", "mv_planning_by_team_day", "metrics_daily"):
        assert built.query(f"select max(date) from {table}")[0][0] == date(2026, 3, 7), table  # noqa: S608
