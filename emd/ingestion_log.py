"""The ingestion log: one row per partition an ingestion asset tried to write, succeeded or failed.

`raw_ingested_partitions` (emd/warehouse.py) records the days that are ingested now; it is rewritten with
every re-run and a failed run leaves no trace there. The counters the API exposes on `GET /prometheus`
(runs, partitions, rows and failures by source, the last successful refresh) must survive across processes
-- the Dagster run that ingests is not the API process that is scraped -- and must grow monotonically. So
every attempt is appended here, in the warehouse, in a transaction of its own after the partition's:

- `run_id`: one asset step (one Dagster run of one ingestion asset, which may hold many days);
- `source` (github | jira | pagerduty), `asset`, `partition_date`, `finished_at` (naive UTC);
- `status` `success` (with `row_count`, the rows written to the asset's tables) or `failure` (with
  `error_type`, the exception's class name only: messages may quote URLs or payloads, never logged here).

The table is copied into the published build (emd/snapshot.py), so the API reads it like the marts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from emd.records import RecordTable
from emd.warehouse import Warehouse

INGESTION_RUNS = "ingestion_runs"
TABLE = RecordTable(INGESTION_RUNS, (
    ("run_id", "text"), ("source", "text"), ("asset", "text"), ("partition_date", "date"),
    ("finished_at", "timestamp"), ("status", "text"), ("row_count", "bigint"), ("error_type", "text"),
), key=("run_id", "asset", "partition_date"))
SUCCESS = "success"
FAILURE = "failure"


def new_run_id() -> str:
    return uuid.uuid4().hex


def source_of(asset: str) -> str:
    """`raw_github_releases` or `github_pull_requests` -> `github` (for raw tables the same rule as
    `raw_ingested_partitions.source`)."""
    return asset.removeprefix("raw_").split("_")[0]


def record_attempt(warehouse: Warehouse, *, run_id: str, asset: str, partition_key: str, status: str,
                   row_count: int = 0, error: BaseException | None = None) -> None:
    """Append one attempt. Called after the partition's own transaction, so a failed partition is recorded
    as failed while its previous rows stay in place."""
    with TABLE.writing(warehouse) as writes:
        writes.insert([run_id, source_of(asset), asset, date.fromisoformat(partition_key),
                       datetime.now(UTC).replace(tzinfo=None), status, row_count,
                       type(error).__name__ if error is not None else None])


@dataclass(frozen=True)
class SourceTotals:
    """Everything ever recorded for one source."""

    source: str
    runs: int
    partitions_succeeded: int
    partitions_failed: int
    rows: int
    last_success: datetime | None  # naive UTC

    def as_metadata(self) -> dict[str, Any]:
        """The same figures for Dagster's asset metadata (prefixed with the source's name)."""
        return {f"{self.source}_runs_total": self.runs,
                f"{self.source}_partitions_succeeded_total": self.partitions_succeeded,
                f"{self.source}_partitions_failed_total": self.partitions_failed,
                f"{self.source}_rows_total": self.rows}


TOTALS_SQL = f"""
select source,
       count(distinct run_id) as runs,
       sum(case when status = '{SUCCESS}' then 1 else 0 end) as partitions_succeeded,
       sum(case when status = '{FAILURE}' then 1 else 0 end) as partitions_failed,
       coalesce(sum(case when status = '{SUCCESS}' then row_count else 0 end), 0) as rows_written,
       max(case when status = '{SUCCESS}' then finished_at end) as last_success
from {INGESTION_RUNS}
group by source
order by source
"""  # noqa: S608 - constants only


def totals_from_rows(rows: Sequence[Sequence[Any]]) -> list[SourceTotals]:
    return [SourceTotals(source=str(r[0]), runs=int(r[1]), partitions_succeeded=int(r[2] or 0),
                         partitions_failed=int(r[3] or 0), rows=int(r[4] or 0), last_success=r[5]) for r in rows]


def source_totals(warehouse: Warehouse, source: str) -> SourceTotals:
    """One source's totals in the live warehouse (for the ingestion asset's metadata)."""
    with warehouse.connect() as conn:
        TABLE.ensure(conn)
        found = totals_from_rows(conn.execute(TOTALS_SQL).fetchall())
    return next((t for t in found if t.source == source), SourceTotals(source, 0, 0, 0, 0, None))


def published_totals(source: Any) -> list[SourceTotals]:
    """Every source's totals in a published build (an `emd.metrics.source.Source`); none before the first
    build that carries the log."""
    from emd.metrics.source import rows

    if not source.has(INGESTION_RUNS):
        return []
    found = rows(source, TOTALS_SQL)
    return totals_from_rows([tuple(r.values()) for r in found])
