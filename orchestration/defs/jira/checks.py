"""Asset checks of the raw Jira tables, evaluated inside the asset's step on the partition it just wrote.

- `no_duplicate_keys`: no natural key (warehouse.RAW_KEYS) appears twice in the partition;
- `row_count`: the partition holds exactly the rows fetched (the replace transaction landed whole);
- `fresh`: the partition was fetched after its UTC day ended, so it cannot miss that day's later updates
  (the hourly schedule refreshes today and yesterday). A warning, not an error.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey

from orchestration.warehouse import RAW_KEYS, Warehouse


def jira_check_specs(table: str) -> list[AssetCheckSpec]:
    keys = ", ".join(RAW_KEYS[table])
    return [
        AssetCheckSpec("no_duplicate_keys", asset=table, description=f"No ({keys}) appears twice in a partition."),
        AssetCheckSpec("row_count", asset=table, description="The partition holds exactly the rows fetched."),
        AssetCheckSpec("fresh", asset=table, description="The partition was fetched after its UTC day ended."),
    ]


def jira_check_results(warehouse: Warehouse, table: str, partition_key: str, rows_written: int,
                       window_end: datetime, fetched_at: datetime) -> list[AssetCheckResult]:
    ph = "?" if warehouse.kind == "duckdb" else "%s"
    keys = ", ".join(RAW_KEYS[table])  # identifiers from our own constants, never user input
    day = date.fromisoformat(partition_key)
    duplicates = warehouse.query(
        f"select count(*) from (select {keys} from {table} where partition_date = {ph} "  # noqa: S608
        f"group by {keys} having count(*) > 1) as d", [day])[0][0]
    stored = warehouse.query(f"select count(*) from {table} where partition_date = {ph}", [day])[0][0]  # noqa: S608
    complete = fetched_at >= window_end
    asset_key = AssetKey(table)
    return [
        AssetCheckResult(asset_key=asset_key, check_name="no_duplicate_keys", passed=int(duplicates) == 0,
                         metadata={"duplicate_keys": int(duplicates), "key": keys}),
        AssetCheckResult(asset_key=asset_key, check_name="row_count", passed=int(stored) == rows_written,
                         metadata={"rows_in_partition": int(stored), "rows_fetched": rows_written}),
        AssetCheckResult(asset_key=asset_key, check_name="fresh", passed=complete, severity=AssetCheckSeverity.WARN,
                         metadata={"fetched_at": fetched_at.astimezone(UTC).isoformat(),
                                   "window_end": window_end.isoformat(), "day_complete_when_fetched": complete}),
    ]
