"""Observability (issue 6): with EMD_LOG_FORMAT=json, `emd pipeline` writes its progress lines and
Dagster's run logs as JSON lines, each carrying the Dagster run id of the run it belongs to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi, MockState

DAY = date(2026, 3, 23)
EMD = str(Path(sys.executable).with_name("emd"))


def test_json_logs_carry_the_dagster_run_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import DagsterInstance

    org = SyntheticOrg(seed=7, anchor=date(2026, 3, 31))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(org.config(), sort_keys=False), encoding="utf-8")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    with MockApi(MockState(org=org)) as api:
        env = {**os.environ, **api.env(), "EMD_CONFIG": str(tmp_path / "config.yaml"),
               "DATABASE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}", "DAGSTER_HOME": str(home),
               "EMD_LOG_FORMAT": "json"}
        done = subprocess.run([EMD, "pipeline", "--start", DAY.isoformat(), "--end", DAY.isoformat()], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    # Dagster's plain console format is gone: its lines are all JSON now.
    assert " - dagster - " not in done.stderr
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = DagsterInstance.get()
    runs = {run.run_id: run.job_name for run in instance.get_runs()}
    instance.dispose()
    assert sorted(runs.values()) == ["ingestion_job", "insights_job", "marts_job"]

    progress = [line for line in lines if line["logger"] == "emd.pipeline"]
    # One progress line per run, naming that run and its job.
    assert {line["run_id"]: line["job"] for line in progress} == runs
    assert any(line["message"].startswith(f"[1/1] ingested {DAY}") for line in progress)
    run_lines = [line for line in lines if line["logger"] == "dagster"]
    assert run_lines and all(line["run_id"] in runs for line in run_lines)
    # Every run's own log lines (its steps' context.log, dbt's output) are there with its id and job.
    assert {runs[line["run_id"]] for line in run_lines} == set(runs.values())
    assert all(line["job"] == runs[line["run_id"]] for line in run_lines)
    assert all({"ts", "level", "message", "step_key"} <= set(line) for line in lines)


def test_json_is_the_default_when_stdout_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import pty

    from emd.logs import json_logs

    monkeypatch.delenv("EMD_LOG_FORMAT", raising=False)
    with open(os.devnull, "w") as piped:  # a service's stdout: a file, a pipe, a log shipper
        monkeypatch.setattr(sys, "stdout", piped)
        assert json_logs()
        monkeypatch.setenv("EMD_LOG_FORMAT", "text")
        assert not json_logs()
    primary, secondary = pty.openpty()  # a person at a terminal
    with os.fdopen(secondary, "w") as terminal:
        monkeypatch.setattr(sys, "stdout", terminal)
        monkeypatch.delenv("EMD_LOG_FORMAT")
        assert not json_logs()
        monkeypatch.setenv("EMD_LOG_FORMAT", "json")
        assert json_logs()
    os.close(primary)
