"""The dashboard on Postgres: the live database in a read-only session, caches keyed on the published build."""

from __future__ import annotations

import pytest

from app import queries
from emd.metrics.agreements import TABLES as AGREEMENT_MARTS
from emd.metrics.source import frame
from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.warehouse import Warehouse
from tests.fixtures.app import metric, run_app
from tests.fixtures.marts import CURRENT, MART_DDL, build_postgres_warehouse

pytestmark = pytest.mark.postgres

# The hand-made fixture has neither the working-agreement marts (tests/fixtures/agreements.py) nor the
# drilldown ones (tests/fixtures/drilldown.py): publishing reports them missing.
DRILLDOWN_MARTS = ("fct_failure_signals", "fct_pull_request_reviews", "fct_sprint_issues")
SLO_MARTS = ("fct_slo_days", "fct_slo_deployment_burn")  # nor the SLO marts (no SLO configured)


@pytest.fixture
def marts_url(postgres_url: str) -> str:
    """A schema of its own (conftest's `postgres_url`), filled with the fixture marts."""
    build_postgres_warehouse(postgres_url)
    return postgres_url


def test_publish_records_the_build_and_the_app_reads_live_read_only(marts_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    result = publish_build(Warehouse(parse_database_url(marts_url)))
    assert result["tables"]["fct_deployments"] == 11 and sorted(result["missing"]) == sorted([*AGREEMENT_MARTS, *DRILLDOWN_MARTS, *SLO_MARTS,
                                                                                           "fct_deployment_teams",
                                                                                            "ingestion_runs"])
    monkeypatch.setenv("DATABASE_URL", marts_url)
    source = queries.open_source()
    assert isinstance(source, queries.Source)
    assert source.build_id == result["build_id"]
    assert "secret" not in source.label
    import psycopg

    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        frame(source, "create table written_by_the_dashboard (a integer)")

    # The same hand-computed values as on DuckDB (percentile_cont instead of quantile_cont).
    at = run_app(CURRENT)
    assert metric(at, "Deployment frequency (per day)").value == "0.57/day · Elite"
    assert metric(at, "Lead time p90 (hours)").value == "80.0 h"  # 50 + 0.5 * (110 - 50)
    assert metric(at, "Failed deployment recovery time p50 (hours)").value == "15.0 h · High"  # (6 + 24) / 2
    assert metric(at, "PR cycle time p90 (hours)").value == "76.0 h"  # 40 + 0.6 * (100 - 40)
    assert metric(at, "Carryover (%)").value == "23.9%"  # 11 / 46
    assert metric(at, "Blocked age p50 (days)").value == "3.5 days"
    for page in ("app_pages/delivery.py", "app_pages/flow.py", "app_pages/planning.py",
                 "app_pages/sprint_health.py"):
        run_app(CURRENT, page=page)


def test_publish_and_the_app_keep_to_the_schema_database_url_names(marts_url: str, postgres_database: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Two deployments in one database, each with `options=-csearch_path=<its schema>` in DATABASE_URL:
    each publishes and reads its own marts, not the first schema (by name) that has a table of that name."""
    import uuid

    import psycopg

    schema = marts_url.rsplit("%3D", 1)[1]
    other = f"a_{uuid.uuid4().hex[:8]}"  # sorts before this test's schema (`t_...`)
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(f"create schema {other}")
        for table in MART_DDL:
            conn.execute(f"create table {other}.{table} (like {schema}.{table})")  # empty marts
        conn.execute(f"create table {other}.fct_slo_days (slo_name text)")  # only the other schema has it
    try:
        result = publish_build(Warehouse(parse_database_url(marts_url)))
        assert result["tables"]["fct_deployments"] == 11
        assert "fct_slo_days" in result["missing"] and "fct_slo_days" not in result["tables"]  # never a mix
        with psycopg.connect(postgres_database) as conn:
            assert conn.execute(f"select build_id from {schema}._build").fetchall() == [(result["build_id"],)]  # noqa: S608
            assert conn.execute("select count(*) from information_schema.tables where table_schema = %s "
                                "and table_name = '_build'", [other]).fetchone() == (0,)
        monkeypatch.setenv("DATABASE_URL", marts_url)
        source = queries.open_source()
        assert isinstance(source, queries.Source)
        assert (source.schema, source.build_id) == (schema, result["build_id"])
        assert frame(source, "select count(*) as n from fct_deployments")["n"].tolist() == [11]
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            conn.execute(f"drop schema if exists {other} cascade")


def test_a_build_that_changed_nothing_keeps_its_build_id_on_postgres(marts_url: str) -> None:
    warehouse = Warehouse(parse_database_url(marts_url))
    first = publish_build(warehouse)
    again = publish_build(warehouse)
    assert (again["build_id"], again["unchanged"]) == (first["build_id"], True)
    with warehouse.connect() as conn:
        conn.execute("update fct_deployments set is_failure = not is_failure where deployment_id = "
                     "(select min(deployment_id) from fct_deployments)")
    changed = publish_build(warehouse)
    assert changed["build_id"] != first["build_id"] and not changed["unchanged"]
    with warehouse.connect() as conn:
        assert conn.execute("select count(*), min(build_id) from _build").fetchone() == (1, changed["build_id"])
