"""The record of the last complete dbt build, in the warehouse beside the marts (`_emd_dbt_state`, one row):
the hash of its dbt variables and of the project's code, and the newest raw fetch time it had seen. The
dbt asset reads it before a build (build_plan decides full or incremental) and writes it after one succeeded;
a failed build leaves the previous row, so the next build recomputes at least as much again. A `RecordTable`
(emd/records.py), like the other small tables our own code writes."""

from __future__ import annotations

from datetime import datetime

from emd.records import RecordTable
from emd.warehouse import INGESTED_PARTITIONS, Warehouse
from orchestration.defs.dbt.project import BUILD_STATE_TABLE, BuildState

STATE = RecordTable(BUILD_STATE_TABLE, (
    ("vars_hash", "text"), ("project_hash", "text"), ("built_through", "timestamp"), ("built_at", "timestamp"),
    ("full_refresh", "boolean"),
), key=())  # one row: a write replaces it


def read_build_state(warehouse: Warehouse) -> tuple[BuildState | None, datetime | None]:
    """(the last complete build's state or None, the newest raw_ingested_partitions.fetched_at now or None)."""
    with warehouse.connect() as conn:
        warehouse.ensure_raw_tables(conn)  # a fresh warehouse: dbt's sources exist, empty
        newest = (conn.execute(f"select max(fetched_at) from {INGESTED_PARTITIONS}").fetchone() or (None,))[0]  # noqa: S608
        found = STATE.select(conn)
    previous = BuildState(str(found[0][0]), str(found[0][1] or ""), found[0][2]) if found else None
    return previous, newest


def record_build_state(warehouse: Warehouse, state: BuildState, *, built_at: datetime, full_refresh: bool) -> None:
    """Replace the row of `_emd_dbt_state` with the build that just succeeded (one transaction)."""
    with STATE.writing(warehouse) as writes:
        writes.replace([state.vars_hash, state.project_hash, state.built_through, built_at, full_refresh])
