"""The dbt project builds on dbt-postgres too: the hand-crafted scenario of test_dbt_marts, written to a
schema of its own on the local server (conftest's `postgres_url`), gives the same hand-computed values
(a subset; test_warehouse_parity.py compares every mart of a whole pipeline run on both warehouses)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from dbt_fixtures import scenario
from dbt_fixtures.scenario import t

from emd.config import parse_config
from emd.settings import parse_database_url
from emd.warehouse import Warehouse
from orchestration.defs.dbt.project import dbt_vars, run_dbt

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_warehouse(postgres_url: str) -> Warehouse:
    return Warehouse(parse_database_url(postgres_url))


def test_scenario_builds_on_postgres_with_the_same_values(postgres_warehouse, tmp_path):
    warehouse = postgres_warehouse
    for day, tables in scenario.github_partitions().items():
        fetched = datetime(2026, 3, 3, 1, tzinfo=UTC) if day == "2026-03-02" else datetime(2026, 3, 7, 1, tzinfo=UTC)
        warehouse.replace_partitions(tables, day, fetched_at=fetched)
    for day, tables in scenario.jira_partitions().items():
        warehouse.replace_partitions(tables, day, fetched_at=datetime(2026, 3, 7, 1, tzinfo=UTC))
    variables = dbt_vars(parse_config(scenario.CONFIG, tmp_path / "config.yaml"))
    run_dbt(["build"], warehouse.target, variables, work_dir=tmp_path)

    def one(sql: str, params: tuple = ()) -> tuple:
        found = warehouse.query(sql, params)
        assert len(found) == 1, found
        return found[0]

    # api#1: first review 14:00 - ready 12:00 = 2 h; lead 18:00 - 08:00 = 10 h; depth 2 + 3 = 5
    assert one("select first_review_at, time_to_first_review_hours, lead_time_hours, review_depth "
               "from fct_pull_requests where repo = 'acme/api' and number = 1") == (t("03-02 14:00"), 2.0, 10.0, 5)
    # v1.1 ships web#1 (47 h) and web#2 (26 h): p50 36.5, p90 26 + 0.9 * 21 = 44.9
    p50, p90 = one("select lead_time_p50_hours, lead_time_p90_hours from mv_dora_by_repo_day "
                   "where repo = 'acme/web' and date = %s", (date(2026, 3, 4),))
    assert (p50, p90) == (pytest.approx(36.5), pytest.approx(44.9))
    # sprint 100: committed 4 issues / 11 points, planned vs done 5 / 11
    committed_issues, committed_points, planned = one(
        "select committed_issues, committed_points, planned_vs_done_pct from mv_planning_by_sprint where sprint_id = 100")
    assert (committed_issues, committed_points, planned) == (4, 11, pytest.approx(100 * 5 / 11))
    # end of 03-04: API-7 (40 h) and API-5 (14 h) blocked
    assert one("select blocked_issues, blocked_age_max_days from mv_planning_by_team_day "
               "where team = 'platform' and date = %s", (date(2026, 3, 4),)) == (2, pytest.approx(40 / 24))
    assert one("select count(*) from fct_deployments where is_failure") == (5,)
