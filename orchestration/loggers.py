"""Dagster's side of the JSON logs (emd/logs.py): the `json` run logger and the run config that picks it."""

from __future__ import annotations

import logging
from typing import Any

from dagster import Field, logger

from emd.logs import JSON_RUN_LOGGER, json_logs, stderr_handler


@logger(config_schema={"log_level": Field(str, is_required=False, default_value="INFO")},
        description="Dagster run logs as JSON lines on stderr, each with the run id (EMD_LOG_FORMAT=json).")
def json_run_logger(init_context) -> logging.Logger:
    run_log = logging.Logger("dagster", level=init_context.logger_config["log_level"].upper())
    run_log.addHandler(stderr_handler())
    return run_log


def run_logger_config() -> dict[str, Any]:
    """Run config for headless runs: the JSON logger when EMD_LOG_FORMAT=json; otherwise Dagster's console
    logger at WARNING, so a terminal shows emd's one progress line per run, warnings and errors (the full
    event log stays in the Dagster instance and its UI)."""
    if json_logs():
        return {"loggers": {JSON_RUN_LOGGER: {"config": {"log_level": "INFO"}}}}
    return {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
