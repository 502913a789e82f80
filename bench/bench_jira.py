"""Jira ingestion benchmark: a 30-day backfill of the `--scale large` synthetic org (>= 20,000 issues).

Prints Jira requests per 1,000 issues, wall time and the peak RSS of the backfilling process. The mock API
runs in its own process (`emd mock-api --scale large`), so the RSS is the client's alone (Dagster, the
client, DuckDB); the backfill runs through Dagster (`materialize`) the way a UI backfill does under the
ingestion assets' backfill policy: runs of up to 30 day partitions each (so 30 days = 1 run), every day
written on its own inside the run.

`python bench/bench_jira.py` runs it alone; `make bench` runs it with the others.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = date(2026, 3, 31)  # fixed, so figures are comparable between runs
DAYS = 30
CREDENTIALS = {"email": "bot@acme.example", "api_token": "mock-jira-token"}  # the mock's defaults


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the mock API exited with status {proc.returncode}")
        try:
            if requests.get(url + "/_mock/counts", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the mock API did not come up at {url}")


def backfill(url: str, workdir: Path) -> dict:
    """Run the 30 partitions through Dagster against the mock at `url`; returns the figures (child process)."""
    import resource

    import requests
    import yaml
    from dagster import DagsterInstance, materialize

    from emd.settings import parse_database_url
    from emd.warehouse import Warehouse
    from mock_apis.org import SyntheticOrg
    from orchestration.defs.ingestion import RANGE_END_TAG, RANGE_START_TAG
    from orchestration.defs.jira.assets import jira_issues, raw_jira_sprints, raw_jira_statuses
    from orchestration.defs.jira.resource import JiraResource
    from orchestration.partitions import MAX_PARTITIONS_PER_RUN
    from orchestration.resources import ProjectConfigResource, WarehouseResource

    org = SyntheticOrg(seed=7, scale="large", anchor=ANCHOR)
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(org.config(), sort_keys=False), encoding="utf-8")
    database_url = f"duckdb:///{workdir / 'warehouse.duckdb'}"
    # URLs and credentials come from the environment only.
    os.environ.update({"JIRA_BASE_URL": url, "JIRA_EMAIL": CREDENTIALS["email"],
                       "JIRA_API_TOKEN": CREDENTIALS["api_token"], "DATABASE_URL": database_url})
    resources = {
        "jira": JiraResource(),
        "project_config": ProjectConfigResource(path=str(config_path)),
        "warehouse": WarehouseResource(),
    }
    # Warm up: the mock generates the org's activity on first use; that is not the client's time.
    warm = time.monotonic()
    requests.post(url + "/rest/api/3/search/jql", json={"jql": "project = T00", "maxResults": 1},
                  auth=(CREDENTIALS["email"], CREDENTIALS["api_token"]), timeout=120).raise_for_status()
    generation_s = time.monotonic() - warm
    requests.post(url + "/_mock/reset", timeout=10)
    instance = DagsterInstance.ephemeral()
    keys = [(ANCHOR - timedelta(days=DAYS - 1 - i)).isoformat() for i in range(DAYS)]
    began = time.monotonic()
    slowest = (0.0, "")
    runs = 0
    for i in range(0, len(keys), MAX_PARTITIONS_PER_RUN):
        chunk = keys[i: i + MAX_PARTITIONS_PER_RUN]
        t0 = time.monotonic()
        result = materialize([jira_issues, raw_jira_sprints, raw_jira_statuses], resources=resources,
                             instance=instance, tags={RANGE_START_TAG: chunk[0], RANGE_END_TAG: chunk[-1]})
        runs += 1
        if not result.success:
            raise RuntimeError(f"partitions {chunk[0]}..{chunk[-1]} failed")
        slowest = max(slowest, (time.monotonic() - t0, f"{chunk[0]}..{chunk[-1]}"))
    wall = time.monotonic() - began
    counts = requests.get(url + "/_mock/counts", timeout=10).json()
    warehouse = Warehouse(parse_database_url(database_url))
    issues = warehouse.query("select count(*) from raw_jira_issues")[0][0]
    changelog = warehouse.query("select count(*) from raw_jira_changelog")[0][0]
    long_changelogs = warehouse.query(
        "select count(*) from (select issue_key from raw_jira_changelog group by issue_key "
        "having count(distinct history_id) > 40) as t")[0][0]
    jira_requests = {k: v for k, v in counts.items() if k.startswith("jira:")}
    return {
        "partitions": len(keys), "runs": runs, "issues": issues, "changelog_rows": changelog,
        "issues_with_changelog_beyond_search": long_changelogs,
        "jira_requests": sum(jira_requests.values()), "requests_by_endpoint": jira_requests,
        "wall_s": wall, "slowest_partition": slowest, "mock_generation_s": generation_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    mock = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "mock-api", "--scale", "large", "--anchor", ANCHOR.isoformat(),
         "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_up(url, mock)
        with tempfile.TemporaryDirectory(prefix="bench-jira-") as workdir:
            child = subprocess.run([sys.executable, __file__, "backfill", url, workdir], cwd=ROOT, env=env,
                                   capture_output=True, text=True, check=False)
            if child.returncode != 0:
                raise RuntimeError(f"backfill failed: {child.stderr[-2000:]}")
            figures = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        mock.terminate()
        mock.wait(timeout=30)
    per_1000 = figures["jira_requests"] / max(1, figures["issues"]) * 1000
    print(f"jira: 30-day backfill of --scale large ({figures['partitions']} partitions in {figures['runs']} "
          "Dagster run(s), the backfill policy's)")
    print(f"  issues ingested:             {figures['issues']:,} ({figures['changelog_rows']:,} changelog rows; "
          f"{figures['issues_with_changelog_beyond_search']} issues with more than 40 histories)")
    print(f"  Jira requests:               {figures['jira_requests']:,} = {per_1000:.1f} per 1,000 issues")
    print(f"  requests by endpoint:        {figures['requests_by_endpoint']}")
    print(f"  wall time:                   {figures['wall_s']:.1f}s "
          f"({figures['wall_s'] / figures['partitions']:.2f}s per partition; slowest run "
          f"{figures['slowest_partition'][1]} {figures['slowest_partition'][0]:.1f}s)")
    print(f"  peak RSS (backfill process): {figures['peak_rss_mb']:.0f} MB")
    print(f"  mock: generating the large org's Jira activity took {figures['mock_generation_s']:.1f}s (first request)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "backfill":
        sys.path.insert(0, str(ROOT))
        print(json.dumps(backfill(sys.argv[2], Path(sys.argv[3]))))
    else:
        sys.path.insert(0, str(ROOT))
        main()
