"""The Dagster code location: the only place that builds the top-level Definitions."""

from __future__ import annotations

from dagster import Definitions, colored_console_logger

from emd.logs import JSON_RUN_LOGGER
from orchestration.defs.dbt.definitions import dbt_defs
from orchestration.defs.github.definitions import github_defs
from orchestration.defs.ingestion import ingestion_defs, marts_after_ingestion
from orchestration.defs.insights.definitions import insights_defs
from orchestration.defs.jira.definitions import jira_defs
from orchestration.defs.pagerduty.definitions import pagerduty_defs
from orchestration.defs.publish import publish_defs
from orchestration.loggers import json_run_logger
from orchestration.resources import ProjectConfigResource, WarehouseResource


def shared_resources() -> dict:
    # Both read EMD_CONFIG / DATABASE_URL when a run uses them, never at import time.
    return {"project_config": ProjectConfigResource(), "warehouse": WarehouseResource()}


def build_definitions() -> Definitions:
    return Definitions.merge(
        ingestion_defs(),
        github_defs(),
        jira_defs(),
        pagerduty_defs(),
        dbt_defs(),
        insights_defs(),
        publish_defs(),
        # Cross-cutting: the sensor that joins ingestion to the marts needs both parts.
        Definitions(sensors=[marts_after_ingestion], resources=shared_resources(),
                    # Dagster's console logger stays the default; EMD_LOG_FORMAT=json selects the JSON one.
                    loggers={"console": colored_console_logger, JSON_RUN_LOGGER: json_run_logger}),
    )


defs = build_definitions()
