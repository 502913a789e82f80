"""The dashboard on Postgres: the live database in a read-only session, caches keyed on the published build."""

from __future__ import annotations

from datetime import date

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
        assert (source.schema, source.build_id) == (f"{schema}__build_1", result["build_id"])  # its published copy
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


def _schemas_like(database_url: str, schema: str) -> list[str]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return [r[0] for r in conn.execute("select nspname from pg_namespace where starts_with(nspname, %s) "
                                           "order by nspname", [schema + "__build_"]).fetchall()]


def test_a_reader_that_started_before_a_publish_reads_one_build(marts_url: str, postgres_database: str) -> None:
    """Each build is a schema of its own (`<schema>__build_<n>`) that `_build` points at: a reader that resolved
    the build before dbt rewrote the live tables and a new build was published reads the old build whole; a reader
    opened while dbt is half-way (one table rewritten, nothing published) reads the published build, not a mix."""
    from emd.metrics.source import open_source

    schema = marts_url.rsplit("%3D", 1)[1]
    warehouse = Warehouse(parse_database_url(marts_url))
    first = publish_build(warehouse)
    assert first["build_schema"] == f"{schema}__build_1"
    before = open_source(parse_database_url(marts_url))
    assert isinstance(before, queries.Source) and before.schema == f"{schema}__build_1"
    count = "select (select count(*) from fct_deployments) as deployments, (select count(*) from fct_pull_requests) as prs"
    original = frame(before, count).iloc[0].tolist()
    assert original[0] == 11

    # dbt half-way: fct_deployments rewritten in the live schema, fct_pull_requests not yet; nothing published.
    with warehouse.connect() as conn:
        conn.execute("delete from fct_deployments where deployment_id in ('d1', 'p1')")
    midway = open_source(parse_database_url(marts_url))
    assert isinstance(midway, queries.Source)
    assert (midway.build_id, frame(midway, count).iloc[0].tolist()) == (first["build_id"], original)

    # dbt finishes (fct_pull_requests rewritten too) and the build is published, while `before` is still reading.
    with warehouse.connect() as conn:
        conn.execute("delete from fct_pull_requests where pr_id = (select min(pr_id) from fct_pull_requests)")
    second = publish_build(warehouse)
    assert second["build_schema"] == f"{schema}__build_2" and not second["unchanged"]
    assert frame(before, count).iloc[0].tolist() == original  # the old build, whole: 11 deployments, every PR
    after = open_source(parse_database_url(marts_url))
    assert isinstance(after, queries.Source) and after.build_id == second["build_id"]
    assert frame(after, count).iloc[0].tolist() == [9, original[1] - 1]  # 11 - d1 - p1; one PR fewer

    # Builds are kept three deep: the fourth and fifth publications drop build_1, then build_2.
    for n in (3, 4, 5):
        with warehouse.connect() as conn:
            conn.execute("delete from fct_deployments where deployment_id = %s", [f"d{n}"])
        result = publish_build(warehouse)
        assert result["build_schema"] == f"{schema}__build_{n}"
    assert _schemas_like(postgres_database, schema) == [f"{schema}__build_{n}" for n in (3, 4, 5)]
    assert result["dropped_schemas"] == [f"{schema}__build_2"]


def test_the_api_caches_an_answer_under_the_build_it_read(marts_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer computed from a build that a publish replaced while it was computed is the old build's answer,
    cached under the old build id; the next request reads (and caches under) the new build."""
    from fastapi.testclient import TestClient

    from api.cache import answers
    from api.deps import get_source
    from api.main import create_app
    from emd.metrics import tiles as layer
    from emd.metrics.filters import Filters

    monkeypatch.setenv("DATABASE_URL", marts_url)
    monkeypatch.setenv("EMD_CONFIG", "/nonexistent/no-config.yaml")
    warehouse = Warehouse(parse_database_url(marts_url))
    first = publish_build(warehouse)
    window = {"from": "2026-03-02", "to": "2026-03-15"}
    answers.clear()

    def frequency(body: dict) -> tuple[float, int]:
        tile = next(t for t in body["tiles"] if t["key"] == "deployment_frequency_per_day")
        return tile["value"], tile["sample_size"]

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        # 8 deployments in the 14 days (d1 d2 d3 dbot d4 d5 d6 d7)
        assert frequency(client.get("/metrics/tiles", params=window).json()) == (pytest.approx(8 / 14), 8)
        old = get_source(None)  # a request that resolved the build before the publish below
        assert old.build_id == first["build_id"]
        with warehouse.connect() as conn:
            conn.execute("delete from fct_deployments where deployment_id = 'd1'")
        # Not yet published: the live schema has changed, the API still answers the published build.
        assert frequency(client.get("/metrics/tiles", params=window).json()) == (pytest.approx(8 / 14), 8)
        second = publish_build(warehouse)
        assert second["build_id"] != first["build_id"]
        # The old request computes now, after the publish: it reads its own build, and is cached under it.
        wanted = Filters(org=None, team=None, repo=None, start=date(2026, 3, 2), end=date(2026, 3, 15),
                         granularity="day")
        late = answers.get(old, ("probe", wanted), lambda: next(
            t for t in layer.tiles(old, wanted, None) if t.key == "deployment_frequency_per_day").sample_size)
        assert late == 8
        assert (old.key, first["build_id"], ("probe", wanted)) in answers._answers
        assert (old.key, second["build_id"], ("probe", wanted)) not in answers._answers
        # A new request reads the new build: d1 gone, 7 in 14 days.
        assert frequency(client.get("/metrics/tiles", params=window).json()) == (pytest.approx(7 / 14), 7)
        assert client.get("/healthz").json()["build_id"] == second["build_id"]
        builds = {key[1] for key in answers._answers}
        assert builds == {first["build_id"], second["build_id"]}
    answers.clear()
