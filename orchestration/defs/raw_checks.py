"""Asset checks of every raw table (GitHub and Jira), evaluated on the partition just written.

They run inside the ingestion asset's own step (declared as `check_specs`), so each check sees exactly
the partition that step wrote:
- `no_duplicate_keys`: no natural key (warehouse.RAW_KEYS) appears twice in the partition;
- `row_count`: the partition holds exactly the rows fetched (the replace transaction was complete);
- `fresh`: the partition was fetched after its day ended (else it may still miss that day's later updates;
  the hourly schedule refreshes today and yesterday). A warning, not an error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from emd import ingestion_log
from emd.warehouse import RAW_KEYS, Warehouse
from orchestration.partitions import day_window


def check_specs(table: str) -> list[AssetCheckSpec]:
    keys = ", ".join(RAW_KEYS[table])
    return [
        AssetCheckSpec("no_duplicate_keys", asset=table, description=f"No ({keys}) appears twice in a partition."),
        AssetCheckSpec("row_count", asset=table, description="The partition holds exactly the rows fetched."),
        AssetCheckSpec("fresh", asset=table, description="The partition was fetched after its UTC day ended."),
    ]


def check_results(warehouse: Warehouse, table: str, partition_key: str, rows_written: int,
                  window_end: datetime, fetched_at: datetime) -> list[AssetCheckResult]:
    ph = "?" if warehouse.kind == "duckdb" else "%s"
    keys = ", ".join(RAW_KEYS[table])  # identifiers from our own constants
    day = datetime.strptime(partition_key, "%Y-%m-%d").date()
    duplicates = warehouse.query(
        f"select count(*) from (select {keys} from {table} where partition_date = {ph} "  # noqa: S608
        f"group by {keys} having count(*) > 1) d", [day])[0][0]
    stored = warehouse.query(f"select count(*) from {table} where partition_date = {ph}", [day])[0][0]  # noqa: S608
    complete = fetched_at >= window_end
    asset_key = AssetKey(table)
    return [
        AssetCheckResult(asset_key=asset_key, check_name="no_duplicate_keys", passed=duplicates == 0,
                         metadata={"duplicate_keys": int(duplicates), "key": keys}),
        AssetCheckResult(asset_key=asset_key, check_name="row_count", passed=stored == rows_written,
                         metadata={"rows_in_partition": int(stored), "rows_fetched": rows_written}),
        AssetCheckResult(asset_key=asset_key, check_name="fresh", passed=complete, severity=AssetCheckSeverity.WARN,
                         metadata={"fetched_at": fetched_at.astimezone(UTC).isoformat(),
                                   "window_end": window_end.isoformat(),
                                   "day_complete_when_fetched": complete}),
    ]


def write_and_check(warehouse: Warehouse, tables: dict[str, list[dict[str, Any]]], partition_key: str
                    ) -> tuple[dict[str, int], list[AssetCheckResult]]:
    """Replace the partition of every table in one transaction, then check what landed."""
    return write_chunks_and_check(warehouse, list(tables), [tables], partition_key)


def write_chunks_and_check(warehouse: Warehouse, tables: list[str],
                           chunks: Iterable[Mapping[str, Sequence[Mapping[str, Any]]]], partition_key: str
                           ) -> tuple[dict[str, int], list[AssetCheckResult]]:
    """Replace the partition of `tables` in one transaction from rows that arrive in chunks (fetched as they
    are written, so a huge day never sits in memory whole), then check what landed."""
    fetched_at = datetime.now(UTC)
    written = warehouse.replace_partitions_chunked(tables, chunks, partition_key, fetched_at=fetched_at)
    _, end = day_window(partition_key)
    results: list[AssetCheckResult] = []
    for table, count in written.items():
        results.extend(check_results(warehouse, table, partition_key, count, end, fetched_at))
    return written, results


@dataclass
class IngestedDays:
    """What one run wrote: rows per table (all days), rows per day and table, the merged check results, and
    the source's totals in the ingestion log after this run (emd/ingestion_log.py)."""

    written: dict[str, int] = field(default_factory=dict)
    by_day: dict[str, dict[str, int]] = field(default_factory=dict)
    checks: list[AssetCheckResult] = field(default_factory=list)
    totals: ingestion_log.SourceTotals | None = None

    def metadata(self, table: str) -> dict[str, Any]:
        """What every ingestion asset shows for a table it wrote: rows, window, partitions, rows per day, and
        the source's success/failure counts and rows so far in the ingestion log."""
        return {"rows": self.written.get(table, 0), "window": self.window(), "partitions": len(self.by_day),
                "rows_by_day": MetadataValue.json(self.rows_by_day(table)),
                **(self.totals.as_metadata() if self.totals is not None else {})}

    def window(self) -> str:
        days = sorted(self.by_day)
        if not days:
            return "[]"
        return f"[{day_window(days[0])[0].isoformat()}, {day_window(days[-1])[1].isoformat()})"

    def rows_by_day(self, table: str) -> dict[str, int]:
        return {day: tables.get(table, 0) for day, tables in sorted(self.by_day.items())}


def ingest_days(warehouse: Warehouse, partition_keys: Sequence[str],
                fetch: Callable[[str], Mapping[str, list[dict[str, Any]]]], *, asset: str) -> IngestedDays:
    """Fetch and replace each day on its own, oldest first (a run may hold many days of a backfill); a failure
    leaves the days already written in place, and a re-run replaces them again. `asset`: the Dagster asset's
    name, whose prefix (`raw_github_...`, `jira_...`) names the source in the ingestion log."""
    return ingest_day_chunks(warehouse, partition_keys, None, lambda key: [fetch(key)], asset=asset)


def ingest_day_chunks(warehouse: Warehouse, partition_keys: Sequence[str], tables: list[str] | None,
                      fetch: Callable[[str], Iterable[Mapping[str, Sequence[Mapping[str, Any]]]]], *,
                      asset: str) -> IngestedDays:
    """`ingest_days` for a day whose rows arrive in chunks (`fetch(key)` yields them as it fetches, so a huge
    day never sits in memory whole): each day is still replaced in one transaction. `tables`: the tables
    every day replaces (None: the keys of the one chunk `fetch` returns). Every day's attempt, written or
    failed, is appended to the ingestion log (emd/ingestion_log.py) after its own transaction."""
    out = IngestedDays()
    run_id = ingestion_log.new_run_id()
    per_check: dict[tuple[Any, Any], list[tuple[str, AssetCheckResult]]] = {}
    for key in sorted(partition_keys):
        try:
            if tables is None:
                (chunk,) = list(fetch(key))
                written, checks = write_and_check(warehouse, {t: [dict(r) for r in rows] for t, rows in chunk.items()},
                                                  key)
            else:
                written, checks = write_chunks_and_check(warehouse, tables, fetch(key), key)
        except Exception as exc:
            # The failure is what the run reports; a log that cannot be written (the warehouse itself is
            # down) must not replace it with a second error.
            with contextlib.suppress(Exception):
                ingestion_log.record_attempt(warehouse, run_id=run_id, asset=asset, partition_key=key,
                                             status=ingestion_log.FAILURE, error=exc)
            raise
        ingestion_log.record_attempt(warehouse, run_id=run_id, asset=asset, partition_key=key,
                                     status=ingestion_log.SUCCESS, row_count=sum(written.values()))
        out.by_day[key] = written
        for table, count in written.items():
            out.written[table] = out.written.get(table, 0) + count
        for check in checks:
            per_check.setdefault((check.asset_key, check.check_name), []).append((key, check))
    for (asset_key, name), results in per_check.items():
        if len(results) == 1:
            out.checks.append(results[0][1])
            continue
        failed = [key for key, check in results if not check.passed]
        last = results[-1][1]
        out.checks.append(AssetCheckResult(
            asset_key=asset_key, check_name=name, passed=not failed, severity=last.severity,
            metadata={"partitions_checked": len(results), "failed_partitions": ", ".join(failed) or "none",
                      **{f"last_partition_{k}": v for k, v in (last.metadata or {}).items()}}))
    out.totals = ingestion_log.source_totals(warehouse, ingestion_log.source_of(asset))
    return out
