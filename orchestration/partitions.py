"""The one daily partitions definition every ingestion asset uses (UTC days)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dagster import BackfillPolicy, DailyPartitionsDefinition, MonthlyPartitionsDefinition

from emd.http import RateLimitPacing

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


def is_backfill(partition_keys: Sequence[str], now: datetime) -> bool:
    """A run holding a day before yesterday (UTC) is a backfill; the hourly refresh is yesterday and today."""
    yesterday = now.astimezone(UTC).date() - timedelta(days=1)
    return any(date.fromisoformat(key) < yesterday for key in partition_keys)


def run_pacing(context: Any) -> RateLimitPacing:
    """The rate-limit pacing of an ingestion run: waits are logged to the run ("waiting until HH:MM UTC for
    GitHub's rate limit"), and a backfill leaves EMD_RATE_LIMIT_RESERVE of the budget to the hourly refresh."""
    keys = context.partition_keys if context.has_partition_key_range or context.has_partition_key else []
    return RateLimitPacing.from_env(backfill=is_backfill(keys, datetime.now(UTC)), log=context.log.info)
