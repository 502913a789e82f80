"""The one daily partitions definition every ingestion asset uses (UTC days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dagster import BackfillPolicy, DailyPartitionsDefinition, MonthlyPartitionsDefinition

# Far enough back that any realistic history can be backfilled (`emd pipeline --start 2025-01-01`).
PARTITIONS_START = "2024-01-01"

daily_partitions = DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=1)

# A backfill of N days runs in ceil(N / 30) runs (one process start, one set of Jira lookups each), not N;
# inside a run every day is still fetched, written and replaced on its own (`context.partition_keys`).
MAX_PARTITIONS_PER_RUN = 30
ingestion_backfill_policy = BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN)


def day_window(partition_key: str) -> tuple[datetime, datetime]:
    """Half-open UTC window [D, D+1) of a day partition key `YYYY-MM-DD`."""
    start = datetime.strptime(partition_key, "%Y-%m-%d").replace(tzinfo=UTC)
    return start, start + timedelta(days=1)


def days_between(start: date, end: date) -> list[str]:
    """Partition keys for every day in the inclusive range."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


# The executive readouts' months (`exec_readout`): a partition key 2026-03-01 is the month 2026-03.
monthly_partitions = MonthlyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")


def month_of(partition_key: str) -> str:
    """`2026-03-01` -> `2026-03` (the readout's --period)."""
    return partition_key[:7]
