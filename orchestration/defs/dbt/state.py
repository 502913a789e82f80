"""The record of the last complete dbt build, in the warehouse beside the marts (`_emd_dbt_state`, one row):
the hash of its dbt variables and of the project's code, and the newest raw fetch time it had seen. The
dbt asset reads it before a build (build_plan decides full or incremental) and writes it after one succeeded;
a failed build leaves the previous row, so the next build recomputes at least as much again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emd.warehouse import INGESTED_PARTITIONS, Warehouse
from orchestration.defs.dbt.project import BUILD_STATE_TABLE, BuildState

_COLUMNS = "vars_hash, project_hash, built_through, built_at, full_refresh"


def _execute(conn: Any, kind: str, sql: str, params: list[Any] | None = None) -> list[tuple]:
    if kind == "duckdb":
        cursor = conn.execute(sql, params or [])
        return cursor.fetchall() if cursor.description else []
    with conn.cursor() as cur:
        cur.execute(sql.replace("?", "%s"), params or [])
        return cur.fetchall() if cur.description else []


def _table_exists(conn: Any, kind: str, name: str) -> bool:
    catalog = " and table_catalog = current_database()" if kind == "duckdb" else ""
    rows = _execute(conn, kind, "select count(*) from information_schema.tables "  # noqa: S608 - no user text
                                f"where table_name = ? and table_schema = current_schema(){catalog}", [name])
    return bool(rows and rows[0][0])


def read_build_state(warehouse: Warehouse) -> tuple[BuildState | None, datetime | None]:
    """(the last complete build's state or None, the newest raw_ingested_partitions.fetched_at now or None)."""
    with warehouse.connect() as conn:
        kind = warehouse.kind
        newest = None
        if _table_exists(conn, kind, INGESTED_PARTITIONS):
            rows = _execute(conn, kind, f"select max(fetched_at) from {INGESTED_PARTITIONS}")  # noqa: S608
            newest = rows[0][0] if rows else None
        previous = None
        if _table_exists(conn, kind, BUILD_STATE_TABLE):
            rows = _execute(conn, kind, f"select vars_hash, project_hash, built_through from {BUILD_STATE_TABLE}")  # noqa: S608
            if rows:
                previous = BuildState(str(rows[0][0]), str(rows[0][1] or ""), rows[0][2])
    return previous, newest


def record_build_state(warehouse: Warehouse, state: BuildState, *, built_at: datetime, full_refresh: bool) -> None:
    """Replace the row of `_emd_dbt_state` with the build that just succeeded (one transaction)."""
    with warehouse.connect() as conn:
        kind = warehouse.kind
        _execute(conn, kind, f"create table if not exists {BUILD_STATE_TABLE} (vars_hash text, project_hash text, "
                             "built_through timestamp, built_at timestamp, full_refresh boolean)")
        if kind == "duckdb":
            conn.execute("begin transaction")
        _execute(conn, kind, f"delete from {BUILD_STATE_TABLE}")  # noqa: S608
        _execute(conn, kind, f"insert into {BUILD_STATE_TABLE} ({_COLUMNS}) values (?, ?, ?, ?, ?)",  # noqa: S608
                 [state.vars_hash, state.project_hash, state.built_through, built_at, full_refresh])
        if kind == "duckdb":
            conn.execute("commit")
