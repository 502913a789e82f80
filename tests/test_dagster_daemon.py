"""Tested the way it runs: the real `dagster-daemon` and `dagster-webserver` with the project's dagster.yaml in
a temp DAGSTER_HOME, the mock APIs over HTTP, a temp DuckDB warehouse. A multi-day partition backfill is
launched through the webserver's GraphQL API (`launchPartitionBackfill`, what the UI's Materialize button does)
while the first-run backfill sensor, the hourly schedule and the marts sensor are live. Every run must succeed
(no DuckDB lock errors), and the marts must equal those of the headless pipeline (`emd pipeline`) for the
same days. A launch whose run config sets a URL is refused.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from fixtures.dagster_ui import DagsterUi

from emd.snapshot import MART_TABLES

DAYS = 3
EMD = str(Path(sys.executable).parent / "emd")


def _mart_rows(path: Path) -> dict[str, list[tuple]]:
    out = {}
    with duckdb.connect(str(path), read_only=True) as conn:
        for table in MART_TABLES:
            rows = conn.execute(f"select * from {table}").fetchall()  # noqa: S608 - our table names
            out[table] = sorted(rows, key=repr)
    return out


@pytest.mark.timeout(900)
def test_ui_backfill_with_sensors_live_succeeds_and_matches_the_headless_pipeline(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=DAYS - 1 - i)).isoformat() for i in range(DAYS)]
    # The org's activity ends yesterday, so both runs of today's partition see the same (quiet) day.
    ui = DagsterUi(tmp_path / "ui", anchor=today - timedelta(days=1), backfill_days=DAYS)
    with ui:
        refused = ui.launch_run("ingestion_job", {"resources": {"github": {"config": {
            "api_url": "https://attacker.example"}}}})
        assert refused["__typename"] == "RunConfigValidationInvalid", refused
        assert any("api_url" in e["message"] and "unexpected config entr" in e["message"]
                   for e in refused["errors"]), refused

        backfill = ui.launch_backfill(days)
        runs = ui.wait_until_settled(backfill, timeout_s=600)
        failures = {r["runId"]: ui.failures(r["runId"]) for r in runs if r["status"] != "SUCCESS"}
        assert not failures, f"runs did not succeed: {failures}"
        jobs = Counter(r["jobName"] for r in runs)
        assert jobs["marts_job"] >= 1, jobs
        # The backfill's days ran in one run (backfill policy), not one run per day.
        backfill_runs = [r for r in runs if any(t["key"] == "dagster/backfill" and t["value"] == backfill
                                                 for t in r["tags"])]
        assert len(backfill_runs) == 1, backfill_runs

        headless = tmp_path / "headless"
        headless.mkdir()
        env = {**ui.env, "DATABASE_URL": f"duckdb:///{headless / 'warehouse.duckdb'}"}
        env.pop("DAGSTER_HOME")
        done = subprocess.run([EMD, "pipeline", "--start", days[0], "--end", days[-1]], cwd=headless, env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]

    ui_marts = _mart_rows(tmp_path / "ui" / "warehouse.duckdb")
    headless_marts = _mart_rows(headless / "warehouse.duckdb")
    assert sum(len(rows) for rows in headless_marts.values()) > 0
    for table in MART_TABLES:
        assert ui_marts[table] == headless_marts[table], table
