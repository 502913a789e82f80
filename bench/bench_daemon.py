"""The UI-style backfill: `dagster-daemon` + `dagster-webserver` with the project's dagster.yaml, the mock org
over HTTP, a DuckDB warehouse; a DAYS-day partition backfill launched through GraphQL with the first-run,
hourly and marts sensors live. Prints runs, wall time and failures (lock errors counted apart).

`python bench/bench_daemon.py [--days 14] [--no-instance-settings]` runs it alone (the second flag runs on
Dagster's default instance settings, as before the project shipped its dagster.yaml).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(days: int, instance_settings: bool) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.dagster_ui import ACTIVE, DagsterUi

    today = datetime.now(UTC).date()
    keys = [(today - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as workdir:
        ui = DagsterUi(Path(workdir), anchor=today - timedelta(days=1), backfill_days=days,
                       dagster_yaml=(ROOT / "dagster.yaml") if instance_settings else None)
        with ui:
            began = time.monotonic()
            backfill = ui.launch_backfill(keys)
            try:
                runs = ui.wait_until_settled(backfill, timeout_s=1800)
            except TimeoutError as exc:
                runs = ui.runs()
                print(f"daemon: {exc}")
            wall = time.monotonic() - began
            failed = [r for r in runs if r["status"] == "FAILURE"]
            reasons = [msg for r in failed for msg in ui.failures(r["runId"])]
            locks = sum(1 for m in reasons if "lock" in m.lower())
            by_job = Counter((r["jobName"], r["status"]) for r in runs)
            print(f"daemon: {days}-day backfill through GraphQL, sensors live, "
                  f"{'the project dagster.yaml' if instance_settings else 'Dagster default instance settings'}")
            print(f"  wall time (launch to settled): {wall:.0f}s; runs: {len(runs)} "
                  f"({', '.join(f'{j} {s}={n}' for (j, s), n in sorted(by_job.items()))})")
            print(f"  failed runs: {len(failed)}; step failures mentioning a lock: {locks}; "
                  f"still active: {sum(1 for r in runs if r['status'] in ACTIVE)}")
            for message in sorted(set(m[:300] for m in reasons))[:5]:
                print(f"  failure: {message}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--no-instance-settings", action="store_true")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    run(args.days, not args.no_instance_settings)


if __name__ == "__main__":
    main()
