"""Metrics API latency: `/metrics/tiles` under 20 concurrent clients on loopback, against a real uvicorn.

Target (issue 11): p95 < 100 ms. The warehouse is bench_app's generated warehouse of the large synthetic
org (`--scale large`: 10 teams, 52 repos, 45 days), published like the pipeline does; `emd api` serves it
in a child process on a free port. The load is an asyncio httpx client per simulated user, each sending
its requests one after the other (a closed loop), over a mix of filters: all teams, each team, a repo,
30- and 14-day windows. The first request of each filter shape is reported apart (cold), since the
answers are cached per published build.

    .venv/bin/python bench/bench_api.py [--scale large|default] [--clients 20] [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def filter_shapes(live: Path) -> list[dict[str, str]]:
    """All teams, each team and one repo over the last 30 and 14 days (the build's own dimensions)."""
    from emd.metrics.filters import dimensions
    from emd.metrics.source import Source, open_source
    from emd.settings import parse_database_url

    source = open_source(parse_database_url(f"duckdb:///{live}"))
    assert isinstance(source, Source), source
    dims = dimensions(source)
    end = dims.latest_day
    assert end is not None
    shapes: list[dict[str, str]] = []
    for days in (30, 14):
        window = {"from": (end - timedelta(days=days - 1)).isoformat(), "to": end.isoformat()}
        shapes.append(window)
        shapes += [{"team": team, **window} for team in dims.teams]
        shapes.append({"repo": dims.repos()[0], **window})
    return shapes


async def load(url: str, shapes: list[dict[str, str]], clients: int, requests: int) -> tuple[list[float], int]:
    import httpx

    latencies: list[float] = []
    errors = 0

    async def user(index: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for i in range(requests):
                params = shapes[(index * 7 + i) % len(shapes)]
                began = time.perf_counter()
                answer = await client.get("/metrics/tiles", params=params)
                latencies.append((time.perf_counter() - began) * 1000)
                if answer.status_code != 200:
                    errors += 1

    await asyncio.gather(*(user(i) for i in range(clients)))
    return latencies, errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_api")
    parser.add_argument("--scale", choices=["large", "default"], default="large")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="requests per client")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    import httpx

    from bench.bench_app import generate_warehouse, percentile
    from emd.settings import parse_database_url
    from emd.snapshot import publish_build
    from emd.warehouse import Warehouse
    from tests.fixtures.servers import free_port, spawn, stop, wait_until_answers

    with tempfile.TemporaryDirectory(prefix="emd-bench-api-") as tmp:
        live = Path(tmp) / "warehouse.duckdb"
        counts = generate_warehouse(live, args.scale)
        publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")))
        print(f"warehouse ({args.scale}): " + ", ".join(f"{t} {n}" for t, n in counts.items()))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DATABASE_URL": f"duckdb:///{live}"}
        log_path = Path(tmp) / "api.log"
        process = spawn([sys.executable, "-m", "orchestration.cli", "api", "--port", str(port)], cwd=ROOT, env=env,
                        log_path=log_path)
        try:
            wait_until_answers(url + "/healthz", [process], "emd api", logs=log_path)
            health = httpx.get(url + "/healthz", timeout=5).json()
            print(f"emd api on {url}: build {health['build_id']}")
            shapes = filter_shapes(live)
            cold = []
            for params in shapes:
                began = time.perf_counter()
                answer = httpx.get(url + "/metrics/tiles", params=params, timeout=30)
                cold.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200, (params, answer.status_code, answer.text[:300])
            print(f"cold /metrics/tiles (first request of each of {len(shapes)} filter shapes, one client): "
                  f"p50 {percentile(cold, 0.5):.1f} ms, p95 {percentile(cold, 0.95):.1f} ms, max {max(cold):.1f} ms")
            warm = []
            with httpx.Client(base_url=url, timeout=30) as one:
                for i in range(5 * len(shapes)):
                    began = time.perf_counter()
                    one.get("/metrics/tiles", params=shapes[i % len(shapes)])
                    warm.append((time.perf_counter() - began) * 1000)
            print(f"warm /metrics/tiles (answers cached per build), one client, {len(warm)} requests: "
                  f"p50 {percentile(warm, 0.5):.1f} ms, p95 {percentile(warm, 0.95):.1f} ms")
            began = time.perf_counter()
            latencies, errors = asyncio.run(load(url, shapes, args.clients, args.requests))
            elapsed = time.perf_counter() - began
            p95 = percentile(latencies, 0.95)
            print(f"/metrics/tiles, {args.clients} concurrent clients x {args.requests} requests over "
                  f"{len(shapes)} filter shapes: {len(latencies)} requests in {elapsed:.1f}s "
                  f"({len(latencies) / elapsed:.0f} req/s), {errors} non-200")
            print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the load clients share them)")
            print(f"  p50 {percentile(latencies, 0.5):.1f} ms, p95 {p95:.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
                  f"max {max(latencies):.1f} ms (target p95 < 100 ms: {'OK' if p95 < 100 and not errors else 'MISSED'})")
        finally:
            stop(process, timeout_s=15)


if __name__ == "__main__":
    main()
