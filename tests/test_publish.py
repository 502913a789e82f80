"""Publishing the dashboard's snapshot: consistent copy, atomic swap, readers unaffected by writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, Definitions, materialize

from app import queries
from emd.metrics.agreements import TABLES as AGREEMENT_MARTS
from emd.metrics.source import frame
from emd.settings import parse_database_url
from emd.snapshot import (
    KEEP_BUILDS,
    MART_TABLES,
    PublishError,
    builds_dir,
    dashboard_target,
    publish_build,
    snapshot_path,
)
from emd.warehouse import Warehouse
from orchestration.defs.publish import dashboard_snapshot, publish_defs
from orchestration.resources import WarehouseResource
from tests.fixtures.marts import build_duckdb_warehouse as build_fixture_warehouse

# The hand-made fixture has neither the working-agreement marts (tests/fixtures/agreements.py) nor the
# drilldown ones (tests/fixtures/drilldown.py): publishing reports them missing.
DRILLDOWN_MARTS = ("fct_failure_signals", "fct_pull_request_reviews", "fct_sprint_issues")
SLO_MARTS = ("fct_slo_days", "fct_slo_deployment_burn")  # nor the SLO marts (no SLO configured)


def warehouse_at(path: Path) -> Warehouse:
    return Warehouse(parse_database_url(f"duckdb:///{path}"))


@pytest.fixture
def live(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    build_fixture_warehouse(path)
    return path


def test_snapshot_sits_next_to_the_warehouse() -> None:
    target = parse_database_url("duckdb:///data/warehouse.duckdb")
    assert snapshot_path(target) == Path("data/warehouse.published.duckdb")
    assert builds_dir(target) == Path("data/warehouse.published.builds")
    assert dashboard_target(target).duckdb_path == Path("data/warehouse.published.duckdb")
    postgres = parse_database_url("postgresql://u:secret@db:5432/metrics")
    assert dashboard_target(postgres) == postgres  # Postgres is read live


def test_publish_copies_the_marts_with_a_build_record(live: Path) -> None:
    result = publish_build(warehouse_at(live))
    # The fixture has 11 deployments, 11 pull requests, 5 sprints (one before the first ingested day) and
    # 2 Sprint Health cards.
    assert result["tables"]["fct_deployments"] == 11
    assert result["tables"]["fct_pull_requests"] == 11
    assert result["tables"]["mv_planning_by_sprint"] == 5
    assert result["tables"]["sprint_health"] == 2
    # The hand-made fixture has no fct_deployment_teams (the layer then reads fct_deployments.team alone).
    assert sorted(result["missing"]) == sorted([*AGREEMENT_MARTS, *DRILLDOWN_MARTS, *SLO_MARTS, "fct_deployment_teams", "ingestion_runs"])
    assert result["rows"] == sum(result["tables"].values())

    stable = live.with_name("warehouse.published.duckdb")
    assert stable.is_symlink() and stable.exists()
    conn = duckdb.connect(str(stable), read_only=True)
    try:
        build_id, _published_at, tables = conn.execute("select build_id, published_at, tables from _build").fetchone()
        assert build_id == result["build_id"]
        assert json.loads(tables) == result["tables"]
        assert conn.execute("select count(*) from fct_deployments where is_failure").fetchone() == (4,)
    finally:
        conn.close()


def test_missing_tables_are_reported_not_invented(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("create table fct_pull_requests (pr_id varchar)")
    conn.execute("create table fct_deployments (deployment_id varchar)")
    conn.close()
    result = publish_build(warehouse_at(path))
    assert set(result["tables"]) == {"fct_pull_requests", "fct_deployments"}
    assert "sprint_health" in result["missing"] and "metrics_daily" in result["missing"]


def test_publish_names_what_to_run_first(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match=r"no DuckDB warehouse at .*nothing.duckdb \(DATABASE_URL\)"):
        publish_build(warehouse_at(tmp_path / "nothing.duckdb"))
    raw_only = tmp_path / "raw.duckdb"
    duckdb.connect(str(raw_only)).close()
    with pytest.raises(PublishError, match="none of the mart tables"):
        publish_build(warehouse_at(raw_only))
    assert not (tmp_path / "raw.published.duckdb").exists()
    assert list((tmp_path / "raw.published.builds").glob("*")) == []  # no partial file left behind


WRITER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
conn.execute("begin transaction")
conn.execute("insert into fct_deployments (deployment_id, repo, team, deployed_at, source, is_failure, "
             "is_rework, recovered_at) values "
             "('w1', 'acme/api', 'platform', '2026-03-14 10:00', 'merge', true, false, null)")
print("holding the warehouse", flush=True)
time.sleep(60)
"""


def test_reader_keeps_answering_while_a_writer_holds_the_live_file(live: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    publish_build(warehouse_at(live))
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{live}")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(live)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "holding the warehouse"
        # The live file is locked by the writer process: nobody else can even read it...
        with pytest.raises(duckdb.IOException):
            duckdb.connect(str(live), read_only=True)
        # ...but the dashboard reads the published build, and answers.
        source = queries.open_source()
        assert isinstance(source, queries.Source)
        failed = frame(source, "select count(*) as n from fct_deployments where is_failure")
        assert failed["n"].tolist() == [4]
    finally:
        writer.kill()
        writer.wait()


def test_a_build_that_changed_nothing_keeps_its_build_id(live: Path) -> None:
    first = publish_build(warehouse_at(live))
    again = publish_build(warehouse_at(live))
    assert (again["build_id"], again["published_at"], again["unchanged"]) == (first["build_id"], first["published_at"], True)
    assert len(list(builds_dir(parse_database_url(f"duckdb:///{live}")).iterdir())) == 1
    # One changed value in one row (same row count) is a new build.
    conn = duckdb.connect(str(live))
    conn.execute("update fct_deployments set is_failure = not is_failure where deployment_id = "
                 "(select min(deployment_id) from fct_deployments)")
    conn.close()
    changed = publish_build(warehouse_at(live))
    assert changed["build_id"] != first["build_id"] and not changed["unchanged"]
    assert changed["tables"] == first["tables"]


def test_republish_swaps_atomically_for_concurrent_readers(live: Path) -> None:
    stable = live.with_name("warehouse.published.duckdb")
    publish_build(warehouse_at(live))
    first_reader = duckdb.connect(os.path.realpath(stable), read_only=True)
    seen: list[tuple[str, int, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_continuously() -> None:
        # Every read must see one complete build: its rows match the counts the build recorded.
        while not stop.is_set():
            try:
                conn = duckdb.connect(os.path.realpath(stable), read_only=True)
            except duckdb.IOException:
                continue  # that build was pruned between resolving the link and opening it: re-resolve
            try:
                build_id, tables = conn.execute("select build_id, tables from _build").fetchone()
                rows = conn.execute("select count(*) from fct_deployments").fetchone()[0]
                seen.append((build_id, json.loads(tables)["fct_deployments"], rows))
            except BaseException as exc:
                errors.append(exc)
            finally:
                conn.close()

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for i in range(5):
            conn = duckdb.connect(str(live))
            conn.execute("insert into fct_deployments (deployment_id, repo, team, deployed_at, source, "
                         "is_failure, is_rework, recovered_at) values "
                         "(?, 'acme/api', 'platform', '2026-03-14 10:00', 'merge', false, false, null)", [f"n{i}"])
            conn.close()
            publish_build(warehouse_at(live))
            time.sleep(0.05)
    finally:
        stop.set()
        reader.join()
    first_reader_rows = first_reader.execute("select count(*) from fct_deployments").fetchone()
    first_reader.close()

    assert not errors, errors
    assert seen and all(recorded == rows for _, recorded, rows in seen)
    assert len({build for build, _, _ in seen}) >= 2  # the reader saw builds change under it
    # A reader that opened the first build keeps reading it, unchanged (11 deployments).
    assert first_reader_rows == (11,)
    # The link now names the newest build: 11 + 5 deployments.
    final = duckdb.connect(str(stable), read_only=True)
    assert final.execute("select count(*) from fct_deployments").fetchone() == (16,)
    final.close()
    files = sorted(p.name for p in live.with_name("warehouse.published.builds").iterdir())
    assert len(files) == KEEP_BUILDS and all(name.endswith(".duckdb") for name in files)
    assert not [p for p in live.parent.iterdir() if p.name.endswith(".link")]


def test_dashboard_snapshot_asset(live: Path) -> None:
    spec = dashboard_snapshot.specs_by_key[AssetKey("dashboard_snapshot")]
    assert spec.group_name == "serving"
    deps = {dep.asset_key for dep in spec.deps}
    assert {AssetKey(name) for name in MART_TABLES} | {AssetKey("sprint_health"),
                                                       AssetKey("sprint_health_slack_post")} == deps
    # definitions.py supplies the shared `warehouse` resource when it merges publish_defs().
    Definitions.validate_loadable(Definitions.merge(publish_defs(),
                                                    Definitions(resources={"warehouse": WarehouseResource()})))

    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", f"duckdb:///{live}")
        result = materialize([dashboard_snapshot], resources={"warehouse": WarehouseResource()})
    assert result.success
    metadata = result.asset_materializations_for_node("dashboard_snapshot")[0].metadata
    assert metadata["tables"].value["fct_deployments"] == 11
    build_id = metadata["build_id"].value
    conn = duckdb.connect(str(live.with_name("warehouse.published.duckdb")), read_only=True)
    assert conn.execute("select build_id from _build").fetchone() == (build_id,)
    conn.close()


def test_publish_command(live: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    from emd.snapshot import main

    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{live}")
    assert main() == 0
    assert "fct_deployments 11 rows" in capsys.readouterr().out
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{tmp_path / 'absent.duckdb'}")
    assert main() == 1
    assert "build it first with `make demo` or `emd pipeline --start" in capsys.readouterr().err


def test_cards_a_warehouse_held_before_the_record_store_move_there_once_with_their_slack_ts(live: Path) -> None:
    """A DuckDB warehouse written before the record store (emd/records.py) holds `sprint_health` itself. The first
    publish moves its rows, Slack channel and ts included, into `warehouse.records.sqlite` and drops the live
    table, so the cards have one home and a posted card is never posted a second time; the build copies them
    from the store. The fixture's cards were posted to C123 at ts 1710000000.000100."""
    import sqlite3

    from emd.sprint_health import read_rows

    with duckdb.connect(str(live)) as conn:  # the legacy table, without the later fallback_reason column
        assert conn.execute("select count(*) from sprint_health").fetchone() == (2,)
    store = live.with_name("warehouse.records.sqlite")
    assert not store.exists()
    result = publish_build(warehouse_at(live))
    assert result["tables"]["sprint_health"] == 2
    with duckdb.connect(str(live), read_only=True) as conn:
        assert conn.execute("select count(*) from information_schema.tables "
                            "where table_name = 'sprint_health'").fetchone() == (0,)
    cards = read_rows(warehouse_at(live))
    assert sorted(key for key in cards) == [("platform", "sprint", "1"), ("platform", "sprint", "2")]
    assert {(c.slack_channel, c.slack_ts, c.fallback_reason) for c in cards.values()} == {
        ("C123", "1710000000.000100", None)}
    assert cards[("platform", "sprint", "2")].period_start == datetime(2026, 3, 2, 9, 0)  # a timestamp again
    with sqlite3.connect(store) as conn:  # stored as ISO text in the file
        assert conn.execute("select period_start from sprint_health where period_id = '2'").fetchone() == (
            "2026-03-02 09:00:00",)
    with duckdb.connect(os.path.realpath(snapshot_path(warehouse_at(live).target)), read_only=True) as conn:
        assert conn.execute("select period_id, slack_ts, period_start from sprint_health order by period_id").fetchall() == [
            ("1", "1710000000.000100", datetime(2026, 2, 16, 9, 0)), ("2", "1710000000.000100", datetime(2026, 3, 2, 9, 0))]
    # Once: a later publish leaves the store as it is (nothing to move) and keeps the build.
    assert publish_build(warehouse_at(live))["unchanged"] is True
