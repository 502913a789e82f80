"""The ingestion job over every source's day-partitioned assets (group `ingestion`), its schedules and sensors.

- `hourly_refresh` re-ingests today's and yesterday's partitions every hour.
- `first_run_backfill` requests the last `backfill_days` (config, default 30) partitions once, when no
  ingestion partition has ever been materialized on this Dagster instance.
- `marts_after_ingestion` starts `marts_job` (dbt build, then whatever is downstream in that job) once
  ingestion runs have finished and landed data newer than the last marts build.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from emd.config import ConfigError, load_config
from orchestration.job_names import INGESTION_JOB, MARTS_JOB

INGESTION_GROUP = "ingestion"
# Written by every ingestion run; its latest materialization says "new raw data landed".
INGESTION_SENTINEL = AssetKey("raw_github_pull_requests")
MARTS_SENTINEL = AssetKey("metrics_daily")

ingestion_job = define_asset_job(
    INGESTION_JOB,
    selection=AssetSelection.groups(INGESTION_GROUP),
    description="Fetch one UTC day of GitHub and Jira activity into the raw_* tables.",
)


def refresh_partition_keys(now: datetime) -> list[str]:
    """Yesterday's and today's UTC day partitions."""
    today = now.astimezone(timezone.utc).date()
    return [(today - timedelta(days=1)).isoformat(), today.isoformat()]


def backfill_partition_keys(now: datetime, days: int) -> list[str]:
    """The last `days` UTC days, today included, oldest first."""
    today = now.astimezone(timezone.utc).date()
    return [(today - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


@schedule(cron_schedule="15 * * * *", job=ingestion_job, execution_timezone="UTC",
          default_status=DefaultScheduleStatus.RUNNING)
def hourly_refresh(context: ScheduleEvaluationContext):
    """Every hour: re-ingest yesterday and today (late updates to yesterday land too)."""
    when = context.scheduled_execution_time or datetime.now(timezone.utc)
    for key in refresh_partition_keys(when):
        yield RunRequest(run_key=f"hourly-{when:%Y-%m-%dT%H}-{key}", partition_key=key)


@sensor(job=ingestion_job, default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=60)
def first_run_backfill(context: SensorEvaluationContext):
    """The first run backfills the last `backfill_days` days; afterwards it does nothing."""
    if context.cursor == "done" or context.instance.get_latest_materialization_event(INGESTION_SENTINEL):
        context.update_cursor("done")
        return SkipReason("ingestion has run before on this instance")
    try:
        days = load_config().backfill_days
    except ConfigError as exc:
        return SkipReason(f"no backfill until the project config loads: {exc}")
    context.update_cursor("done")
    return [RunRequest(run_key=f"first-run-{key}", partition_key=key)
            for key in backfill_partition_keys(datetime.now(timezone.utc), days)]


@sensor(job_name=MARTS_JOB, default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=120)
def marts_after_ingestion(context: SensorEvaluationContext):
    """Rebuild the marts once ingestion is idle and has landed data newer than the last build."""
    latest = context.instance.get_latest_materialization_event(INGESTION_SENTINEL)
    if latest is None:
        return SkipReason("no ingestion yet")
    built = context.instance.get_latest_materialization_event(MARTS_SENTINEL)
    if built is not None and built.timestamp >= latest.timestamp:
        return SkipReason("the marts are up to date")
    busy = context.instance.get_runs(
        filters=RunsFilter(job_name=ingestion_job.name,
                           statuses=[DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED,
                                     DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]),
        limit=1,
    )
    if busy:
        return SkipReason("waiting for ingestion runs to finish")
    return RunRequest(run_key=f"marts-after-{latest.timestamp}")


def ingestion_defs() -> Definitions:
    return Definitions(jobs=[ingestion_job], schedules=[hourly_refresh], sensors=[first_run_backfill])
