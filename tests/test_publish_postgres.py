"""The dashboard on Postgres: the live database in a read-only session, caches keyed on the published build."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from test_app_pages import CURRENT, MART_DDL, build_fixture_warehouse, metric, run_app

from app import queries
from orchestration.publish import publish_build
from orchestration.settings import parse_database_url
from orchestration.warehouse import Warehouse

pytestmark = pytest.mark.postgres
SERVER = os.environ.get("EMD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own (other tests use the shared one), filled with the fixture marts."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {SERVER} (set EMD_TEST_POSTGRES): {exc}")
    name = f"emd_app_test_{os.getpid()}"
    admin.execute(f'drop database if exists "{name}"')
    admin.execute(f'create database "{name}"')
    url = re.sub(r"/[^/]*$", f"/{name}", SERVER)
    try:
        fixture = tmp_path / "fixture.duckdb"
        build_fixture_warehouse(fixture)
        source = duckdb.connect(str(fixture), read_only=True)
        with psycopg.connect(url) as conn:
            for table, ddl in MART_DDL.items():
                columns = re.sub(r"\bdouble\b", "double precision", ddl)
                conn.execute(f"create table {table} ({columns})")
                rows = source.execute(f"select * from {table}").fetchall()  # noqa: S608 - fixture table names
                if rows:
                    marks = ", ".join(["%s"] * len(rows[0]))
                    with conn.cursor() as cur:
                        cur.executemany(f"insert into {table} values ({marks})", rows)  # noqa: S608
        source.close()
        yield url
    finally:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def test_publish_records_the_build_and_the_app_reads_live_read_only(postgres_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    result = publish_build(Warehouse(parse_database_url(postgres_url)))
    assert result["tables"]["fct_deployments"] == 11 and result["missing"] == []
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    source = queries.open_source()
    assert isinstance(source, queries.Source)
    assert source.build_id == result["build_id"]
    assert "secret" not in source.label
    import psycopg

    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        queries.execute(source, "create table written_by_the_dashboard (a integer)")

    # The same hand-computed values as on DuckDB (percentile_cont instead of quantile_cont).
    at = run_app(CURRENT)
    assert metric(at, "Deployment frequency (per day)").value == "0.57/day · Elite"
    assert metric(at, "Lead time p90 (hours)").value == "80.0 h"  # 50 + 0.5 * (110 - 50)
    assert metric(at, "Failed deployment recovery time p50 (hours)").value == "15.0 h"  # (6 + 24) / 2
    assert metric(at, "PR cycle time p90 (hours)").value == "76.0 h"  # 40 + 0.6 * (100 - 40)
    assert metric(at, "Carryover (%)").value == "23.9%"  # 11 / 46
    assert metric(at, "Blocked age p50 (days)").value == "3.5 days"
    for page in ("app_pages/delivery.py", "app_pages/flow.py", "app_pages/planning.py",
                 "app_pages/sprint_health.py"):
        run_app(CURRENT, page=page)
