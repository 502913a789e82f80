"""Huge-day benchmark: one day partition on which 50,000 PRs, and one on which 200,000 Jira issues, were
updated (a bulk edit, a migration), each ingested through Dagster into a fresh DuckDB file in its own
process; prints each ingestion process's peak RSS (goal: < 1 GB).

The mock runs in its own process (`emd mock-api --huge-day`), so the peak RSS is the ingestion's own. PR
pages and batches of 1,000 issues are written as they arrive, inside the partition's one transaction
(Warehouse.replace_partitions_chunked). `EMD_BENCH_HUGE_PRS` / `EMD_BENCH_HUGE_ISSUES` change the sizes.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import requests

ANCHOR = date(2026, 3, 31)
HUGE_DAY = ANCHOR + timedelta(days=1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    source = os.environ.get("EMD_BENCH_HUGE_SOURCE")
    if source is None:  # each source in its own process, so each peak RSS is its own
        for name in ("github", "jira"):
            code = f"import runpy, sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); " \
                   f"runpy.run_path({str(Path(__file__).resolve())!r})['main']()"
            subprocess.run([sys.executable, "-c", code], env={**os.environ, "EMD_BENCH_HUGE_SOURCE": name},
                           check=True)
        return
    if source == "jira":
        jira_day()
    else:
        github_day()


def _start_mock(work: Path, prs: int, issues: int) -> tuple[subprocess.Popen[str], str, Path]:
    port = _free_port()
    config = work / "config.yaml"
    mock = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "mock-api", "--anchor", ANCHOR.isoformat(), "--port", str(port),
         "--write-config", str(config), "--huge-day", HUGE_DAY.isoformat(), "--huge-day-prs", str(prs),
         "--huge-day-issues", str(issues)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert mock.stdout is not None
    line = mock.stdout.readline()
    if "serving" not in line:
        mock.terminate()
        raise RuntimeError(f"the mock API did not start: {line}")
    return mock, f"http://127.0.0.1:{port}", config


def jira_day() -> None:
    from dagster import AssetsDefinition, materialize

    from orchestration.defs.jira.definitions import jira_defs
    from orchestration.resources import ProjectConfigResource, WarehouseResource

    issues = int(os.environ.get("EMD_BENCH_HUGE_ISSUES", "200000"))
    work = Path(tempfile.mkdtemp(prefix="bench-huge-jira-day-"))
    mock, url, config = _start_mock(work, 0, issues)
    try:
        os.environ.update({"JIRA_BASE_URL": url, "JIRA_EMAIL": "bot@acme.example", "JIRA_API_TOKEN": "mock-jira-token",
                           "EMD_CONFIG": str(config)})
        defs = jira_defs()
        assets = [a for a in (defs.assets or []) if isinstance(a, AssetsDefinition)
                  and "raw_jira_issues" in {k.path[-1] for k in a.keys}]
        warehouse = work / "warehouse.duckdb"
        resources: dict[str, Any] = {**(defs.resources or {}), "project_config": ProjectConfigResource(),
                                     "warehouse": WarehouseResource()}
        os.environ["DATABASE_URL"] = f"duckdb:///{warehouse}"
        before = _rss_mib()
        began = time.monotonic()
        result = materialize(assets, partition_key=HUGE_DAY.isoformat(), resources=resources)
        wall = time.monotonic() - began
        if not result.success:
            raise RuntimeError(f"partition {HUGE_DAY} failed")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            rows = {table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608
                    for table in ("raw_jira_issues", "raw_jira_changelog")}
        meta = next(e for e in result.get_asset_materialization_events()
                    if e.asset_key.path[-1] == "raw_jira_issues").step_materialization_data.materialization
        print(f"huge day (Jira): {rows['raw_jira_issues']} issues updated on {HUGE_DAY} ingested in {wall:.1f}s, "
              f"{int(meta.metadata['api_requests'].value)} requests")
        print("huge day (Jira) rows: " + ", ".join(f"{t}={n}" for t, n in rows.items()))
        print(f"huge day (Jira): peak RSS {peak:.0f} MiB (ingestion process; {before:.0f} MiB before the run; "
              f"goal < 1024 MiB)")
    finally:
        mock.terminate()
        mock.wait(timeout=30)


def github_day() -> None:
    from dagster import AssetsDefinition, materialize

    from orchestration.defs.github.definitions import github_defs
    from orchestration.resources import ProjectConfigResource, WarehouseResource

    prs = int(os.environ.get("EMD_BENCH_HUGE_PRS", "50000"))
    work = Path(tempfile.mkdtemp(prefix="bench-huge-day-"))
    mock, url, config = _start_mock(work, prs, 0)
    try:
        requests.post(url + "/graphql", json={"query": "{ rateLimit { remaining } }"},
                      headers={"Authorization": "bearer mock-github-token"}, timeout=300).raise_for_status()
        os.environ.update({"GITHUB_API_URL": url, "GITHUB_TOKEN": "mock-github-token", "EMD_CONFIG": str(config)})
        defs = github_defs()
        assets = [a for a in (defs.assets or []) if isinstance(a, AssetsDefinition)
                  and "raw_github_pull_requests" in {k.path[-1] for k in a.keys}]
        warehouse = work / "warehouse.duckdb"
        resources: dict[str, Any] = {**(defs.resources or {}), "project_config": ProjectConfigResource(),
                                     "warehouse": WarehouseResource()}
        os.environ["DATABASE_URL"] = f"duckdb:///{warehouse}"
        before = _rss_mib()
        began = time.monotonic()
        result = materialize(assets, partition_key=HUGE_DAY.isoformat(), resources=resources)
        wall = time.monotonic() - began
        if not result.success:
            raise RuntimeError(f"partition {HUGE_DAY} failed")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            rows = {table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608
                    for table in ("raw_github_pull_requests", "raw_github_reviews", "raw_github_commits",
                                  "raw_github_timeline_events")}
        meta = next(e for e in result.get_asset_materialization_events()
                    if e.asset_key.path[-1] == "raw_github_pull_requests").step_materialization_data.materialization
        print(f"huge day (GitHub): {rows['raw_github_pull_requests']} PRs updated on {HUGE_DAY} ingested in "
              f"{wall:.1f}s, {int(meta.metadata['api_requests'].value)} requests, "
              f"{int(meta.metadata['search_windows'].value)} search windows")
        print("huge day (GitHub) rows: " + ", ".join(f"{t}={n}" for t, n in rows.items()))
        print(f"huge day (GitHub): peak RSS {peak:.0f} MiB (ingestion process; {before:.0f} MiB before the run; "
              f"goal < 1024 MiB)")
    finally:
        mock.terminate()
        mock.wait(timeout=30)


if __name__ == "__main__":
    main()
