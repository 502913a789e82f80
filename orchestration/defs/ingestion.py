"""The ingestion job over every source's day-partitioned assets (group `ingestion`), its schedules and sensors.

- `hourly_refresh` re-ingests today's and yesterday's partitions every hour (one run over both days).
- `first_run_backfill` requests the last `backfill_days` (config, default 30) partitions once, when no
  ingestion partition has ever been materialized on this Dagster instance (one run per 30 days).
- `marts_after_ingestion` starts `marts_job` (dbt build, then whatever is downstream in that job) once
  ingestion is idle -- no backfill in progress, no ingestion run queued or running -- and has landed data
  newer than the last marts build: a backfill of any length rebuilds the marts once, after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    EventLogEntry,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from emd import tenants
from emd.config import ConfigError, load_config
from orchestration.job_names import INGESTION_JOB, INSIGHTS_JOB, MARTS_FULL_REFRESH_JOB, MARTS_JOB
from orchestration.partitions import MAX_PARTITIONS_PER_RUN

INGESTION_GROUP = "ingestion"
# Dagster's run tags for a run over a range of partitions (what a backfill policy's runs carry).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
ACTIVE_STATUSES = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
                   DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
# Runs that do not ingest: the marts wait for every other run (ingestion_job, UI backfills' asset runs).
NOT_INGESTION_JOBS = (MARTS_JOB, MARTS_FULL_REFRESH_JOB, INSIGHTS_JOB)
# Written by every ingestion run; its latest materialization says "new raw data landed".
INGESTION_SENTINEL = AssetKey("raw_github_pull_requests")
MARTS_SENTINEL = AssetKey("metrics_daily")

# A run's tenant: its code location (one per tenant, orchestration/tenant_locations.py) or, for `emd pipeline
# --tenant` (in-process runs), this tag.
TENANT_TAG = "emd/tenant"


def run_tenant(run: DagsterRun) -> str | None:
    if run.tags.get(TENANT_TAG):
        return run.tags[TENANT_TAG]
    origin = run.remote_job_origin
    return origin.location_name if origin is not None else None


def ours(instance: DagsterInstance, run_id: str, tenant: str | None) -> bool:
    """Whether the run is `tenant`'s (every run is, with one tenant: `tenant` None)."""
    if tenant is None:
        return True
    run = instance.get_run_by_id(run_id)
    return run is not None and run_tenant(run) == tenant


def latest_materialization(instance: DagsterInstance, key: AssetKey) -> EventLogEntry | None:
    """The asset's latest materialization by this process's tenant (any run with one tenant). Several tenants'
    code locations share one Dagster instance and the same asset keys, so each sensor looks at its own only."""
    tenant = tenants.active()
    if tenant is None:
        return instance.get_latest_materialization_event(key)
    for record in instance.fetch_materializations(key, limit=100).records:
        if ours(instance, record.run_id, tenant):
            return record.event_log_entry
    return None


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


def range_run_requests(keys: list[str], run_key_prefix: str) -> list[RunRequest]:
    """Consecutive day keys (oldest first) as runs of up to MAX_PARTITIONS_PER_RUN days each."""
    out = []
    for i in range(0, len(keys), MAX_PARTITIONS_PER_RUN):
        chunk = keys[i: i + MAX_PARTITIONS_PER_RUN]
        if len(chunk) == 1:
            out.append(RunRequest(run_key=f"{run_key_prefix}-{chunk[0]}", partition_key=chunk[0]))
        else:
            out.append(RunRequest(run_key=f"{run_key_prefix}-{chunk[0]}..{chunk[-1]}",
                                  tags={RANGE_START_TAG: chunk[0], RANGE_END_TAG: chunk[-1]}))
    return out


@schedule(cron_schedule="15 * * * *", job=ingestion_job, execution_timezone="UTC",
          default_status=DefaultScheduleStatus.RUNNING)
def hourly_refresh(context: ScheduleEvaluationContext):
    """Every hour: re-ingest yesterday and today (late updates to yesterday land too)."""
    when = context.scheduled_execution_time or datetime.now(timezone.utc)
    yield from range_run_requests(refresh_partition_keys(when), f"hourly-{when:%Y-%m-%dT%H}")


@sensor(job=ingestion_job, default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=30)
def first_run_backfill(context: SensorEvaluationContext):
    """The first run backfills the last `backfill_days` days; afterwards it does nothing."""
    if context.cursor == "done" or latest_materialization(context.instance, INGESTION_SENTINEL):
        context.update_cursor("done")
        return SkipReason("ingestion has run before on this instance")
    try:
        days = load_config().backfill_days
    except ConfigError as exc:
        return SkipReason(f"no backfill until the project config loads: {exc}")
    context.update_cursor("done")
    return range_run_requests(backfill_partition_keys(datetime.now(timezone.utc), days), "first-run")


@sensor(job_name=MARTS_JOB, default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=30)
def marts_after_ingestion(context: SensorEvaluationContext):
    """Rebuild the marts once ingestion is idle and has landed data newer than the last build."""
    latest = latest_materialization(context.instance, INGESTION_SENTINEL)
    if latest is None:
        return SkipReason("no ingestion yet")
    built = latest_materialization(context.instance, MARTS_SENTINEL)
    if built is not None and built.timestamp >= latest.timestamp:
        return SkipReason("the marts are up to date")
    # A UI backfill's runs are asset runs (not ingestion_job), and between its runs none may be in progress.
    if any(backfill.status.value in ("REQUESTED", "CANCELING") for backfill in context.instance.get_backfills(limit=50)):
        return SkipReason("waiting for the backfill in progress to finish")
    tenant = tenants.active()
    active = [run for run in context.instance.get_runs(filters=RunsFilter(statuses=ACTIVE_STATUSES), limit=100)
              if tenant is None or run_tenant(run) == tenant]
    if any(run.job_name not in NOT_INGESTION_JOBS for run in active):
        return SkipReason("waiting for ingestion runs to finish")
    if any(run.job_name == MARTS_JOB for run in active):
        return SkipReason("a marts build is in progress")
    return RunRequest(run_key=f"marts-after-{latest.timestamp}")


def ingestion_defs() -> Definitions:
    return Definitions(jobs=[ingestion_job], schedules=[hourly_refresh], sensors=[first_run_backfill])
