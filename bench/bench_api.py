"""Metrics API latency: `/metrics/tiles` under 20 concurrent clients on loopback, against a real uvicorn.

Target (issue 22): p99 < 100 ms with 20 concurrent clients, on DuckDB and on Postgres. The warehouse is
bench_app's generated warehouse of the large synthetic org (`--scale large`: 10 teams, 52 repos, 45 days),
published like the pipeline does, and the same tables copied into a Postgres schema of their own
(EMD_BENCH_POSTGRES_URL, default the local test database; dropped afterwards); `emd api` serves each in a
child process on a free port. The load is an asyncio httpx client per simulated user, each sending
its requests one after the other (a closed loop), over a mix of filters: all teams, each team, a repo,
30- and 14-day windows. The first request of each filter shape is reported apart (cold), since the
answers are cached per published build.

    .venv/bin/python bench/bench_api.py [--scale large|default] [--clients 20] [--requests 50]
                                  [--engine duckdb|postgres|both]
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


POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"  # EMD_BENCH_POSTGRES_URL overrides it
PG_TYPES = {"VARCHAR": "text", "DOUBLE": "double precision", "FLOAT": "real", "HUGEINT": "numeric"}


def copy_to_postgres(live: Path, url: str, schema: str) -> None:
    """The generated warehouse's tables, copied into a fresh Postgres schema (same columns, Postgres types)."""
    import duckdb
    import psycopg

    source = duckdb.connect(str(live), read_only=True)
    try:
        tables = [row[0] for row in source.execute(
            "select table_name from information_schema.tables where table_schema = 'main' order by 1").fetchall()]
        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute(f'drop schema if exists "{schema}" cascade')
            pg.execute(f'create schema "{schema}"')
            for table in tables:
                cols = source.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = 'main' and table_name = ? order by ordinal_position", [table]).fetchall()
                ddl = ", ".join(f'"{name}" {PG_TYPES.get(kind, kind)}' for name, kind in cols)
                pg.execute(f'create table "{schema}"."{table}" ({ddl})')
                with pg.cursor() as cur, cur.copy(f'copy "{schema}"."{table}" from stdin') as copy:
                    for row in source.execute(f'select * from "{table}"').fetchall():  # noqa: S608 - our tables
                        copy.write_row(row)
    finally:
        source.close()


def postgres_reachable(url: str) -> str | None:
    """Why the Postgres figures cannot be taken (None when they can)."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means: no Postgres figures, and why
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def measure(label: str, database_url: str, shapes: list[dict[str, str]], clients: int, requests: int,
            log_dir: str) -> None:
    """`emd api` against `database_url` in a child process: first answers of the build, then warm, then load."""
    import httpx

    from bench.bench_app import percentile
    from tests.fixtures.servers import free_port, spawn, stop, wait_until_answers

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": database_url}
    log_path = Path(log_dir) / f"api-{label}.log"  # one JSON access-log line per request
    process = spawn([sys.executable, "-m", "orchestration.cli", "api", "--port", str(port)], cwd=ROOT, env=env,
                    log_path=log_path)
    try:
        wait_until_answers(url + "/healthz", [process], "emd api", logs=log_path)
        health = httpx.get(url + "/healthz", timeout=5).json()
        print(f"[{label}] emd api on {url}: build {health['build_id']}")
        cold = []
        for params in shapes:
            began = time.perf_counter()
            answer = httpx.get(url + "/metrics/tiles", params=params, timeout=30)
            cold.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200, (params, answer.status_code, answer.text[:300])
        print(f"[{label}] first answers of the build (/metrics/tiles, each of {len(shapes)} filter shapes once, one "
              f"client): p50 {percentile(cold, 0.5):.1f} ms, p95 {percentile(cold, 0.95):.1f} ms, "
              f"max {max(cold):.1f} ms")
        warm = []
        with httpx.Client(base_url=url, timeout=30) as one:
            for i in range(5 * len(shapes)):
                began = time.perf_counter()
                one.get("/metrics/tiles", params=shapes[i % len(shapes)])
                warm.append((time.perf_counter() - began) * 1000)
        print(f"[{label}] warm /metrics/tiles (answers cached per build), one client, {len(warm)} requests: "
              f"p50 {percentile(warm, 0.5):.1f} ms, p95 {percentile(warm, 0.95):.1f} ms")
        began = time.perf_counter()
        latencies, errors = asyncio.run(load(url, shapes, clients, requests))
        elapsed = time.perf_counter() - began
        p99 = percentile(latencies, 0.99)
        print(f"[{label}] /metrics/tiles, {clients} concurrent clients x {requests} requests over "
              f"{len(shapes)} filter shapes: {len(latencies)} requests in {elapsed:.1f}s "
              f"({len(latencies) / elapsed:.0f} req/s), {errors} non-200")
        print(f"[{label}]   load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the load clients share them)")
        print(f"[{label}]   p50 {percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
              f"p99 {p99:.1f} ms, max {max(latencies):.1f} ms "
              f"(target p99 < 100 ms: {'OK' if p99 < 100 and not errors else 'MISSED'})")
    finally:
        stop(process, timeout_s=15)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_api")
    parser.add_argument("--scale", choices=["large", "default"], default="large")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="requests per client")
    parser.add_argument("--engine", choices=["duckdb", "postgres", "both"], default="both",
                        help="the warehouse the API reads (Postgres: EMD_BENCH_POSTGRES_URL, default " + POSTGRES_URL
                             + ", in a schema of its own, dropped afterwards)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])

    from bench.bench_app import generate_warehouse
    from emd.settings import parse_database_url
    from emd.snapshot import publish_build
    from emd.warehouse import Warehouse

    with tempfile.TemporaryDirectory(prefix="emd-bench-api-") as tmp:
        live = Path(tmp) / "warehouse.duckdb"
        counts = generate_warehouse(live, args.scale)
        print(f"warehouse ({args.scale}): " + ", ".join(f"{t} {n}" for t, n in counts.items()))
        publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")))
        shapes = filter_shapes(live)
        if args.engine in ("duckdb", "both"):
            measure("duckdb", f"duckdb:///{live}", shapes, args.clients, args.requests, tmp)
        if args.engine in ("postgres", "both"):
            base = os.environ.get("EMD_BENCH_POSTGRES_URL", POSTGRES_URL)
            why = postgres_reachable(base)
            if why is not None:
                print(f"[postgres] skipped: {base} is not reachable ({why}); set EMD_BENCH_POSTGRES_URL")
                return
            schema = f"emd_bench_api_{os.getpid()}"
            pg_url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
            copy_to_postgres(live, base, schema)
            try:
                publish_build(Warehouse(parse_database_url(pg_url)))
                measure("postgres", pg_url, shapes, args.clients, args.requests, tmp)
            finally:
                import psycopg

                with psycopg.connect(base, autocommit=True) as pg:
                    pg.execute(f'drop schema if exists "{schema}" cascade')


if __name__ == "__main__":
    main()
