"""Headless runs: `emd pipeline --start --end` executes the code location's jobs in order.

1. `ingestion_job` for every day partition in the inclusive range (one run per day, so a failure
   leaves every other day's data in place and names the day that failed);
2. `marts_job` (dbt build) when the code location defines it;
3. `insights_job` (Sprint Health, then the Slack post) when it is defined and configured.

Runs go to the Dagster instance in DAGSTER_HOME when it is set (so they show in the UI), else to an
ephemeral one.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import date

from dagster import DagsterInstance, Definitions, JobDefinition

from orchestration.job_names import (  # noqa: F401 - re-exported
    INGESTION_JOB,
    INSIGHTS_JOB,
    MARTS_FULL_REFRESH_JOB,
    MARTS_JOB,
)
from orchestration.partitions import days_between


class PipelineError(RuntimeError):
    """A step of the pipeline failed; the message names it and what to fix."""


def _instance() -> DagsterInstance:
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


def _failure_message(result) -> str:
    """One line per distinct cause, naming the steps it failed (a missing token fails every asset alike)."""
    steps_by_cause: dict[str, list[str]] = {}
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            # The user's exception is the deepest cause; Dagster wraps it in its own.
            while error is not None and error.cause is not None:
                error = error.cause
            text = (error.message if error else event.message or "").strip()
            # "emd.settings.SettingsError: GITHUB_TOKEN is not set..." -> the sentence itself
            head, sep, rest = text.partition(": ")
            if sep and "." in head and " " not in head:
                text = rest
            steps_by_cause.setdefault(text, []).append(event.step_key or "?")
    lines = [f"{', '.join(steps)}: {cause}" for cause, steps in steps_by_cause.items()]
    return "\n  ".join(["", *lines]) if len(lines) > 1 else (lines[0] if lines else
                                                                "the run failed (see the Dagster event log)")


def _job(defs: Definitions, name: str) -> JobDefinition | None:
    try:
        return defs.resolve_job_def(name)
    except Exception:  # the job is not part of this code location (yet)
        return None


def run_job(job: JobDefinition, instance: DagsterInstance, partition_key: str | None = None,
            run_config: dict | None = None) -> str:
    """Run `job` in process; returns the Dagster run id. EMD_LOG_FORMAT=json selects the JSON run logger."""
    from emd import tenants
    from orchestration.defs.ingestion import TENANT_TAG
    from orchestration.loggers import run_logger_config

    tenant = tenants.active()
    result = job.execute_in_process(instance=instance, partition_key=partition_key,
                                    run_config={**(run_config or {}), **run_logger_config()}, raise_on_error=False,
                                    tags={TENANT_TAG: tenant} if tenant else None)
    if not result.success:
        where = f"{job.name} for {partition_key}" if partition_key else job.name
        raise PipelineError(f"{where} failed: {_failure_message(result)}")
    return result.run_id


def _progress(log: Callable[[str], None] | None, message: str, job: str, run_id: str) -> None:
    if log is not None:
        log(message)
        return
    from emd.logs import configure_logging

    if not logging.getLogger("emd").handlers:
        configure_logging()
    logging.getLogger("emd.pipeline").info(message, extra={"run_id": run_id, "job": job})


def run_pipeline(start: date, end: date, *, defs: Definitions | None = None,
                 steps: Sequence[str] = (INGESTION_JOB, MARTS_JOB, INSIGHTS_JOB),
                 log: Callable[[str], None] | None = None, full_refresh: bool = False,
                 rewrite_posted: bool = False) -> None:
    """`log` gets one progress line per run; by default they go to the `emd` logger with the run id.
    `full_refresh` builds the marts with `marts_full_refresh_job` (every model rebuilt from scratch);
    `rewrite_posted` writes again the Sprint Health cards already posted whose metrics changed."""
    from orchestration.definitions import build_definitions

    defs = defs or build_definitions()
    instance = _instance()
    keys = days_between(start, end)
    if INGESTION_JOB in steps:
        job = _job(defs, INGESTION_JOB)
        if job is None:
            raise PipelineError("the code location defines no ingestion_job")
        for i, key in enumerate(keys, 1):
            began = time.monotonic()
            run_id = run_job(job, instance, partition_key=key)
            _progress(log, f"[{i}/{len(keys)}] ingested {key} in {time.monotonic() - began:.1f}s", job.name, run_id)
    for name in (MARTS_JOB, INSIGHTS_JOB):
        if name not in steps:
            continue
        job = _job(defs, MARTS_FULL_REFRESH_JOB if name == MARTS_JOB and full_refresh else name)
        if job is None:
            continue
        began = time.monotonic()
        config = {"ops": {"sprint_health": {"config": {"rewrite_posted": True}}}} \
            if name == INSIGHTS_JOB and rewrite_posted else None
        run_id = run_job(job, instance, run_config=config)
        _progress(log, f"{name} done in {time.monotonic() - began:.1f}s", name, run_id)
