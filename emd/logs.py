"""Structured logs: every log line is one JSON object that carries the Dagster run id, for log shippers (Loki,
CloudWatch, Datadog) -- by default when stdout is not a terminal (a service, a container, a pipe), or always with
EMD_LOG_FORMAT=json; EMD_LOG_FORMAT=text gives plain lines, as a terminal gets by default.

- Dagster's run logs (every event and `context.log` call) go through the `json` run logger
  (orchestration/loggers.py, built on the formatter below): the code location defines it next to
  Dagster's default `console` logger, and `emd pipeline` selects it
  with run config (`run_logger_config`) when EMD_LOG_FORMAT=json.
- The product's own Python log records (logger `emd`, e.g. the pipeline's progress lines) get the same
  JSON formatter on stderr; a record names its run with `extra={"run_id": ...}`.

Fields: ts (UTC ISO-8601), level, logger, message, run_id, job, step_key, event_type (Dagster events).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOG_FORMAT_ENV = "EMD_LOG_FORMAT"
JSON_RUN_LOGGER = "json"


def json_logs() -> bool:
    """EMD_LOG_FORMAT `json` or `text`; unset, JSON unless stdout is a terminal (a person reading)."""
    from emd.settings import env

    chosen = (env(LOG_FORMAT_ENV) or "").strip().lower()
    if chosen:
        return chosen == "json"
    return not sys.stdout.isatty()


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record; Dagster's records carry their run in `dagster_meta`."""

    def format(self, record: logging.LogRecord) -> str:
        meta: dict[str, Any] = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": meta.get("orig_message") or record.getMessage(),
            "run_id": meta.get("run_id") or getattr(record, "run_id", None),
            "job": meta.get("job_name") or getattr(record, "job", None),
            "step_key": meta.get("step_key"),
            "event_type": getattr(event, "event_type_value", None),
        }
        line.update(getattr(record, "fields", None) or {})  # a record's own fields (the API's access lines)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _StdStreamHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout/sys.stderr is at emit time (a test's capture, a redirected stream)."""

    def __init__(self, name: str):
        super().__init__(getattr(sys, name))
        self.stream_name = name

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = getattr(sys, self.stream_name)
        super().emit(record)


def stderr_handler() -> logging.Handler:
    handler = _StdStreamHandler("stderr")
    handler.setFormatter(JsonLineFormatter())
    return handler


def configure_logging() -> logging.Logger:
    """The `emd` logger: JSON lines on stderr when `json_logs()`, plain lines on stdout otherwise."""
    emd = logging.getLogger("emd")
    emd.setLevel(logging.INFO)
    emd.propagate = False
    for handler in list(emd.handlers):
        emd.removeHandler(handler)
    if json_logs():
        emd.addHandler(stderr_handler())
    else:
        plain = _StdStreamHandler("stdout")
        plain.setFormatter(logging.Formatter("%(message)s"))
        emd.addHandler(plain)
    return emd
