"""The Dagster code location: the only place that builds the top-level Definitions.

`defs` is loaded lazily (Dagster calls it when it loads the code location; importing this module runs
nothing). Cross-cutting policy is applied here:
- every asset's `kinds` gets the warehouse's kind (duckdb or postgres, from DATABASE_URL) instead of a fixed one;
- runs use the in-process executor by default: a run's steps go one after another in one process (no process
  start-up per step, and the Jira client and its lookups are shared by the run's steps). With
  EMD_EXECUTOR=celery, a run's steps are Celery tasks on `celery -A orchestration.celery_app worker` processes
  (dagster-celery; EMD_CELERY_BROKER_URL, docs/scale-out.md). Either way, across runs and within one, the assets
  that write the warehouse share the concurrency pool `warehouse`, limited by the instance's dagster.yaml.
"""

from __future__ import annotations

import warnings

from dagster import (
    AssetSpec,
    Definitions,
    ExecutorDefinition,
    PreviewWarning,
    colored_console_logger,
    definitions,
    in_process_executor,
)

from emd import settings
from emd.logs import JSON_RUN_LOGGER
from emd.settings import SettingsError
from orchestration.defs.alerts.definitions import alerts_defs
from orchestration.defs.dbt.definitions import dbt_defs
from orchestration.defs.github.definitions import github_defs
from orchestration.defs.ingestion import ingestion_defs, marts_after_ingestion
from orchestration.defs.insights.definitions import insights_defs
from orchestration.defs.jira.definitions import jira_defs
from orchestration.defs.pagerduty.definitions import pagerduty_defs
from orchestration.defs.publish import publish_defs
from orchestration.defs.readouts.definitions import readouts_defs
from orchestration.defs.slos.definitions import slo_defs
from orchestration.loggers import json_run_logger
from orchestration.resources import ProjectConfigResource, WarehouseResource

WAREHOUSE_KINDS = {"duckdb", "postgres"}


def shared_resources(config_path: str | None = None) -> dict:
    # Both read EMD_CONFIG / DATABASE_URL when a run uses them, never at import time; a tenant's code location
    # (orchestration/tenant_locations.py) names its config file.
    return {"project_config": ProjectConfigResource(path=config_path), "warehouse": WarehouseResource()}


def warehouse_kind() -> str | None:
    """duckdb or postgres, as DATABASE_URL says; None when it is malformed (the run then says what to fix)."""
    try:
        return settings.database_target().kind
    except SettingsError:
        return None


def with_warehouse_kind(spec: AssetSpec, kind: str | None) -> AssetSpec:
    """Replace any warehouse kind on the spec (dagster-dbt adds the adapter it parsed with) by this one."""
    kinds = {k for k in spec.kinds if k not in WAREHOUSE_KINDS}
    if kind is not None and ({"github", "jira", "dbt", "python"} & kinds):
        kinds.add(kind)
    return spec.replace_attributes(kinds=kinds)


def run_executor() -> ExecutorDefinition:
    """The executor of every job (EMD_EXECUTOR): in-process, or dagster-celery's with the broker, result backend
    and queue from EMD_CELERY_BROKER_URL / EMD_CELERY_BACKEND_URL / EMD_CELERY_QUEUE. The broker URL goes in as
    an `env:` reference, so its password is read where the executor starts and never stored in a run's config."""
    if settings.executor_name() == "in_process":
        return in_process_executor
    from dagster_celery import celery_executor

    settings.celery_broker_url()  # a missing or malformed URL stops the code location here, naming the variable
    backend: str | dict[str, str] = ({"env": settings.CELERY_BACKEND_ENV} if settings.env(settings.CELERY_BACKEND_ENV)
                                     else settings.DEFAULT_CELERY_BACKEND)
    return celery_executor.configured({"broker": {"env": settings.CELERY_BROKER_ENV}, "backend": backend,
                                       "config_source": {"task_default_queue": settings.celery_queue()}},
                                      name="celery")


def build_definitions(config_path: str | None = None) -> Definitions:
    kind = warehouse_kind()
    merged = Definitions.merge(
        ingestion_defs(),
        github_defs(),
        jira_defs(),
        pagerduty_defs(),
        slo_defs(),
        dbt_defs(),
        insights_defs(),
        alerts_defs(),
        publish_defs(),
        readouts_defs(),
        # Cross-cutting: the sensor that joins ingestion to the marts needs both parts.
        Definitions(sensors=[marts_after_ingestion], resources=shared_resources(config_path), executor=run_executor(),
                    # Dagster's console logger stays the default; EMD_LOG_FORMAT=json selects the JSON one.
                    loggers={"console": colored_console_logger, JSON_RUN_LOGGER: json_run_logger}),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)  # map_asset_specs is "preview" in Dagster 1.13
        return merged.map_asset_specs(func=lambda spec: with_warehouse_kind(spec, kind))


@definitions
def defs() -> Definitions:
    return build_definitions()
