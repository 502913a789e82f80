"""The Postgres warehouse's own edges: two runs writing one partition (or the Sprint Health cards, or
the published build, or a fresh schema's raw tables) at once, a schema that does not exist, and the test fixture's skip rule."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.sprint_health import SprintHealthRow, upsert_rows
from emd.warehouse import Warehouse, WarehouseError

pytestmark = pytest.mark.postgres
TESTS = Path(__file__).parent


def statuses(*ids: str) -> list[dict]:
    return [{"status_id": i, "name": i, "category": "new", "payload": "{}"} for i in ids]


def test_two_runs_of_one_partition_at_once_leave_only_the_later_runs_rows(postgres_url: str) -> None:
    """A schedule and a backfill may write the same day at once. DuckDB's file lock makes the second wait;
    on Postgres, without a lock, its delete misses the first run's uncommitted rows and both copies land."""
    warehouse = Warehouse(parse_database_url(postgres_url))
    day = "2026-03-31"
    warehouse.replace_partition("raw_jira_statuses", day, statuses("old"))
    deleted, release = threading.Event(), threading.Event()

    class PausedRows(list):
        """The first run's rows: iterated after its delete, inside its still open transaction."""

        def __iter__(self):
            deleted.set()
            release.wait(30)
            return super().__iter__()

    first = threading.Thread(target=warehouse.replace_partition,
                             args=("raw_jira_statuses", day, PausedRows(statuses("a", "b"))))
    second = threading.Thread(target=warehouse.replace_partition, args=("raw_jira_statuses", day, statuses("c")))
    first.start()
    assert deleted.wait(30)
    second.start()
    assert wait_for_a_blocked_session(warehouse) == 1
    release.set()
    first.join(30)
    second.join(30)
    assert warehouse.query("select status_id from raw_jira_statuses order by status_id") == [("c",)]


def wait_for_a_blocked_session(warehouse: Warehouse) -> int:
    """Poll until another session waits on a lock (the second writer queued behind the first)."""
    waiting = 0
    for _ in range(300):
        waiting = warehouse.query("select count(*) from pg_stat_activity where datname = current_database() "
                                  "and wait_event_type = 'Lock'")[0][0]
        if waiting:
            break
        time.sleep(0.05)
    return waiting


def card(name: str) -> SprintHealthRow:
    at = datetime(2026, 3, 30)
    return SprintHealthRow(team="platform", period_kind="week", period_id="2026-W13", period_name=name,
                           period_start=at, period_end=at, metrics_json="{}", metrics_hash=name,
                           prompt_version="v", model=None, source="fallback", card_json="{}", card_text=name,
                           tokens_used=0, slack_channel=None, slack_ts=None, slack_message_json=None,
                           generated_at=at, posted_at=None, fallback_reason=None)


def test_two_writers_on_a_fresh_schema_do_not_wait_on_each_others_raw_tables(postgres_url: str) -> None:
    """Parallel ingestion steps (Celery workers) on a fresh warehouse: the first writer creates the raw tables
    and its partition write is still open when a second step writes another table. Created inside the first
    transaction, the tables' catalog rows would block the second writer until the first committed, and then
    fail it (UniqueViolation on pg_type_typname_nsp_index); created in a transaction of their own, the second
    write goes through at once."""
    warehouse = Warehouse(parse_database_url(postgres_url))
    second: dict[str, object] = {}

    def write_second() -> None:
        try:
            second["written"] = warehouse.replace_partition("raw_jira_statuses", "2026-03-30", statuses("todo"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            second["error"] = exc

    with warehouse.connect() as first:
        warehouse.ensure_raw_tables(first)
        first.execute("delete from raw_jira_sprints where partition_date = %s", ["2026-03-31"])
        writer = threading.Thread(target=write_second)
        writer.start()
        writer.join(timeout=20)
        finished_while_open = not writer.is_alive()
    writer.join(timeout=20)
    assert finished_while_open, "the second writer waited for the first one's transaction"
    assert "error" not in second, second
    assert second["written"] == 1
    with warehouse.connect(read_only=True) as conn:
        assert conn.execute("select status_id from raw_jira_statuses").fetchall() == [("todo",)]


def test_two_first_writers_of_a_record_table_both_land(postgres_url: str) -> None:
    """Two ingestion steps on two Celery workers record their attempts (`ingestion_runs`) on a fresh warehouse.
    The later writer waits for the earlier's table lock, then writes; were the table created inside the earlier
    writer's transaction, the later's `create table` would fail when the earlier commits (UniqueViolation)."""
    from emd.records import RecordTable

    table = RecordTable("emd_test_records", (("k", "text"), ("v", "integer")), ("k",))
    warehouse = Warehouse(parse_database_url(postgres_url))
    first_open, release = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def write(key: str, hold: bool) -> None:
        try:
            with table.writing(warehouse) as writes:
                writes.conn.execute("insert into emd_test_records values (%s, 1)", [key])
                if hold:
                    first_open.set()
                    release.wait(timeout=20)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
            first_open.set()

    first = threading.Thread(target=write, args=("a", True))
    first.start()
    assert first_open.wait(timeout=20)
    second = threading.Thread(target=write, args=("b", False))
    second.start()
    time.sleep(1)  # the second writer is waiting (for the table lock) while the first is open
    release.set()
    first.join(timeout=20)
    second.join(timeout=20)
    assert not errors, errors
    assert sorted(table.read(warehouse)) == [("a", 1), ("b", 1)]


def test_two_card_runs_at_once_leave_one_card_per_period(postgres_url: str) -> None:
    warehouse = Warehouse(parse_database_url(postgres_url))
    upsert_rows(warehouse, [card("old")])
    deleted, release = threading.Event(), threading.Event()

    class PausedCard(SprintHealthRow):
        def values(self) -> list:  # called for the insert, after the delete, inside the open transaction
            deleted.set()
            release.wait(30)
            return super().values()

    first = threading.Thread(target=upsert_rows, args=(warehouse, [PausedCard(*card("first").values())]))
    second = threading.Thread(target=upsert_rows, args=(warehouse, [card("second")]))
    first.start()
    assert deleted.wait(30)
    second.start()
    waiting = wait_for_a_blocked_session(warehouse)
    release.set()
    first.join(30)
    second.join(30)
    assert waiting == 1
    assert warehouse.query("select period_name from sprint_health") == [("second",)]


def test_two_publishes_at_once_leave_one_build(postgres_url: str) -> None:
    import psycopg

    warehouse = Warehouse(parse_database_url(postgres_url))
    with warehouse.connect() as conn:
        conn.execute("create table fct_pull_requests (repo text)")
    first_id = publish_build(warehouse)["build_id"]
    results: list[dict] = []
    with psycopg.connect(postgres_url) as earlier:  # another publish, between its delete and its commit
        earlier.execute("delete from _build")
        earlier.execute("insert into _build values ('earlier', now(), '{}')")
        later = threading.Thread(target=lambda: results.append(publish_build(warehouse)))
        later.start()
        waiting = wait_for_a_blocked_session(warehouse)
    later.join(30)
    assert waiting == 1 and results and results[0]["build_id"] != first_id
    assert warehouse.query("select build_id from _build") == [(results[0]["build_id"],)]


def test_a_missing_schema_is_named_and_nothing_is_written(postgres_database: str) -> None:
    url = f"{postgres_database}?options=-csearch_path%3Dno_such_schema"
    with pytest.raises(WarehouseError, match=r"no schema of the search_path \(no_such_schema.*create schema"):
        Warehouse(parse_database_url(url)).replace_partition("raw_jira_statuses", "2026-03-31", [])


def test_postgres_tests_skip_with_the_reason_when_no_server_answers() -> None:
    env = {**os.environ, "EMD_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:1/postgres"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                             str(TESTS / "test_dbt_postgres.py")], cwd=TESTS.parent, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 skipped" in result.stdout
    assert "no PostgreSQL server reachable at postgresql://127.0.0.1:1/postgres (set EMD_TEST_POSTGRES_URL)" \
        in result.stdout
