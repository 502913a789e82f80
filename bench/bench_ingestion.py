"""GitHub ingestion benchmark: requests per 1,000 PRs, and a 30-day backfill of `--scale large`.

The mock API runs in its own process (`emd mock-api --scale large`), so the peak RSS reported for the
backfill is the ingestion's own (Dagster, the client, DuckDB writes), not the synthetic data's.
The GitHub assets run through Dagster (`materialize`) the way a UI backfill does under the ingestion
assets' backfill policy -- runs of up to 30 day partitions (30 days = 1 run), each day written on its own --
into a fresh DuckDB file. The Jira side has its own bench file.
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

import requests
import yaml

ANCHOR = date(2026, 3, 31)
BACKFILL_DAYS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _graphql_requests(url: str) -> int:
    return int(requests.get(url + "/_mock/counts", timeout=30).json().get("github:graphql", 0))


def main() -> None:
    from dagster import AssetsDefinition, materialize

    from orchestration.defs.github.definitions import github_defs
    from orchestration.defs.ingestion import RANGE_END_TAG, RANGE_START_TAG
    from orchestration.partitions import MAX_PARTITIONS_PER_RUN
    from orchestration.resources import ProjectConfigResource, WarehouseResource

    work = Path(tempfile.mkdtemp(prefix="bench-ingestion-"))
    port = _free_port()
    config = work / "config.yaml"
    mock = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "mock-api", "--scale", "large", "--anchor", ANCHOR.isoformat(),
         "--port", str(port), "--write-config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert mock.stdout is not None
        line = mock.stdout.readline()
        if "serving" not in line:
            raise RuntimeError(f"the mock API did not start: {line}")
        began = time.monotonic()
        requests.post(url + "/graphql", json={"query": "{ rateLimit { remaining } }"},
                      headers={"Authorization": "bearer mock-github-token"}, timeout=300).raise_for_status()
        print(f"mock: synthetic large org generated and schema built in {time.monotonic() - began:.1f}s")
        requests.post(url + "/_mock/reset", timeout=30)

        # CODEOWNERS teams on: the PR files (100 PRs per request) and CODEOWNERS queries are measured too
        written = yaml.safe_load(config.read_text(encoding="utf-8"))
        for name, team in written["teams"].items():
            team["github_teams"] = [f"acme/{name}-team"]
        config.write_text(yaml.safe_dump(written, sort_keys=False), encoding="utf-8")
        os.environ.update({"GITHUB_API_URL": url, "GITHUB_TOKEN": "mock-github-token", "EMD_CONFIG": str(config)})
        defs = github_defs()
        assets = [a for a in (defs.assets or []) if isinstance(a, AssetsDefinition)]
        resources: dict[str, Any] = {**(defs.resources or {}), "project_config": ProjectConfigResource(),
                                     "warehouse": WarehouseResource()}
        os.environ["DATABASE_URL"] = f"duckdb:///{work / 'warehouse.duckdb'}"
        days = [(ANCHOR - timedelta(days=BACKFILL_DAYS - 1 - i)).isoformat() for i in range(BACKFILL_DAYS)]
        rows: dict[str, int] = {}
        pr_requests = 0
        file_requests = 0
        windows = 0
        started = time.monotonic()
        runs = 0
        for i in range(0, len(days), MAX_PARTITIONS_PER_RUN):
            chunk = days[i: i + MAX_PARTITIONS_PER_RUN]
            result = materialize(assets, resources=resources, tags={RANGE_START_TAG: chunk[0],
                                                                    RANGE_END_TAG: chunk[-1]})
            runs += 1
            if not result.success:
                raise RuntimeError(f"partitions {chunk[0]}..{chunk[-1]} failed")
            seen: set[str] = set()
            for event in result.get_asset_materialization_events():
                table = event.asset_key.path[-1]
                if table in seen:  # a run over many days records one event per day, each with the run's totals
                    continue
                seen.add(table)
                meta = event.step_materialization_data.materialization.metadata
                rows[table] = rows.get(table, 0) + int(meta["rows"].value)
                if table == "raw_github_pull_requests":
                    pr_requests += int(meta["api_requests"].value)
                    windows += int(meta["search_windows"].value)
                if table in ("raw_github_pull_request_files", "raw_github_codeowners"):
                    file_requests += int(meta["api_requests"].value)
        wall = time.monotonic() - started
        total_requests = _graphql_requests(url)
        prs = rows["raw_github_pull_requests"]
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"backfill: {BACKFILL_DAYS} day partitions of --scale large ({runs} Dagster run(s)), "
              f"{wall:.1f}s wall, {wall / BACKFILL_DAYS:.2f}s per day")
        print(f"backfill: peak RSS {own_peak:.0f} MiB (ingestion process); mock API process {_peak_rss_mib(mock.pid):.0f} MiB")
        print("rows: " + ", ".join(f"{table}={count}" for table, count in sorted(rows.items())))
        print(f"requests: {pr_requests} for {prs} pull requests (with reviews, commits, events; {windows} search "
              f"strings) = {pr_requests * 1000 / prs:.1f} per 1,000 PRs")
        print(f"requests: {file_requests} for PR files and CODEOWNERS (teams from CODEOWNERS) = "
              f"{file_requests * 1000 / prs:.1f} per 1,000 PRs")
        print(f"requests: {total_requests} in all, with releases, deployments, PR files and CODEOWNERS = "
              f"{total_requests * 1000 / prs:.1f} per 1,000 PRs")
    finally:
        mock.terminate()
        mock.wait(timeout=30)


if __name__ == "__main__":
    main()
