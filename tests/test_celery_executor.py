"""Steps on a distributed executor, tested the way it runs (docs/scale-out.md): two real Celery workers
(`celery -A orchestration.celery_app worker`, distinct names) over the RabbitMQ at 127.0.0.1:5672, Dagster's
instance storage on Postgres (dagster-postgres, a database of its own) in a shared DAGSTER_HOME, a Postgres
warehouse (a schema of its own) and the mock APIs over HTTP. `dagster job execute` runs the ingestion job over
three day partitions (one run over the range, as the backfill policy makes of a backfill) with
EMD_EXECUTOR=celery, then the marts job. The ingestion steps must have run on both workers (each step's "in
celery worker" engine event names the worker), never more of them at once than the `warehouse` pool's limit,
and the marts must equal those of the in-process pipeline over the same days in another schema (row digests).

Skipped, saying why, only when no RabbitMQ answers at EMD_TEST_CELERY_BROKER_URL (default
amqp://guest:guest@127.0.0.1:5672//) or no Postgres server answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from fixtures.servers import spawn, stop

from emd.snapshot import MART_TABLES, content_digest
from mock_apis.server import MockApi
from orchestration.defs.ingestion import RANGE_END_TAG, RANGE_START_TAG
from orchestration.pipeline import INGESTION_JOB, MARTS_JOB

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BROKER_ENV = "EMD_TEST_CELERY_BROKER_URL"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
DAYS = 3
POOL_LIMIT = 2  # the instance's `warehouse` pool limit; the workers have 2 x 2 = 4 slots between them
WORKERS = ("emd-worker-a", "emd-worker-b")


# The in-process reference (orchestration.pipeline.run_pipeline, what `emd pipeline` runs) without insights_job.
REFERENCE_PIPELINE = """
import sys, time
from datetime import date
from orchestration.pipeline import INGESTION_JOB, MARTS_JOB, run_pipeline
began = time.monotonic()
run_pipeline(date.fromisoformat(sys.argv[1]), date.fromisoformat(sys.argv[2]), steps=(INGESTION_JOB, MARTS_JOB),
             log=print)
print(f"ingestion and marts in {time.monotonic() - began:.1f}s")
"""


def _broker() -> str:
    """The broker URL, or a skip naming it (without its password) when nothing answers there."""
    from kombu import Connection

    url = os.environ.get(BROKER_ENV) or DEFAULT_BROKER
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no broker here"
        from emd.settings import redact_url

        pytest.skip(f"no RabbitMQ reachable at {redact_url(url)} (set {BROKER_ENV}): {type(exc).__name__}: {exc}")
    return url


@pytest.fixture
def celery_queue(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(broker URL, a queue of this test's own): other runs on the same broker never take its steps. The queue
    and its exchange are deleted afterwards."""
    broker = _broker()
    queue = f"emd_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    yield broker, queue
    from kombu import Connection

    with Connection(broker, connect_timeout=3) as conn:
        channel = conn.default_channel
        channel.queue_delete(queue)
        channel.exchange_delete(queue)


@pytest.fixture
def dagster_database(postgres_database: str) -> Iterator[str]:
    """A database of its own for Dagster's instance storage (runs, event logs), dropped afterwards."""
    name = f"emd_dagster_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


def _dagster_home(home: Path) -> None:
    """docs/scale-out.md's dagster.yaml: storage on Postgres (credentials from the environment) and the
    project's pools, with room for POOL_LIMIT warehouse steps at once (parallel ingestion is fine on Postgres)."""
    home.mkdir(parents=True)
    config = {
        "storage": {"postgres": {"postgres_db": {
            "hostname": {"env": "DAGSTER_PG_HOST"}, "port": {"env": "DAGSTER_PG_PORT"},
            "username": {"env": "DAGSTER_PG_USER"}, "password": {"env": "DAGSTER_PG_PASSWORD"},
            "db_name": {"env": "DAGSTER_PG_DB"}, "scheme": "postgresql+psycopg2"}}},
        "concurrency": {"pools": {"granularity": "op", "default_limit": POOL_LIMIT}},
        "telemetry": {"enabled": False},
    }
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _pg_env(database_url: str, db_name: str) -> dict[str, str]:
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    return {"DAGSTER_PG_HOST": str(info.get("host") or "127.0.0.1"), "DAGSTER_PG_PORT": str(info.get("port") or 5432),
            "DAGSTER_PG_USER": str(info.get("user") or "postgres"),
            "DAGSTER_PG_PASSWORD": str(info.get("password") or ""), "DAGSTER_PG_DB": db_name}


def _wait_ready(workers: list[subprocess.Popen], logs: list[Path], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for worker, log in zip(workers, logs, strict=True):
            if worker.poll() is not None:
                raise AssertionError(f"a celery worker exited with {worker.returncode}: {log.read_text()[-3000:]}")
        if all(" ready." in log.read_text(errors="replace") for log in logs):
            return
        time.sleep(0.5)
    raise AssertionError(f"the celery workers were not ready within {timeout_s:.0f}s (logs: {logs})")


def _dagster(args: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run([str(BIN / "dagster"), "job", "execute", "-m", "orchestration.definitions", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"dagster job execute {args}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _mart_digests(database_url: str) -> tuple[str, dict[str, str]]:
    """The product's publish digest (emd/snapshot.py): per mart its row count and the md5 of its rows' md5s
    in order (the order of rows does not count), then content_digest over them."""
    sums = {}
    with psycopg.connect(database_url) as conn:
        for table in MART_TABLES:
            count, agg = conn.execute(
                f"select count(*), coalesce(md5(string_agg(md5(t::text), '' order by md5(t::text))), '') "  # noqa: S608
                f"from {table} t").fetchone() or (0, "")
            sums[table] = f"{count}:{agg}"
    return content_digest(sums), sums


def _step_records(instance: Any, run_id: str) -> dict[str, dict[str, Any]]:
    """{step key: {"worker": the Celery worker's name, "start": ts, "end": ts}} from the run's event log."""
    from dagster import DagsterEventType

    out: dict[str, dict[str, Any]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        record = out.setdefault(event.step_key, {})
        if event.event_type == DagsterEventType.ENGINE_EVENT and "in celery worker" in (event.message or ""):
            record["worker"] = event.engine_event_data.metadata["Celery worker"].value
        elif event.event_type == DagsterEventType.STEP_START:
            record["start"] = entry.timestamp
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            record["end"] = entry.timestamp
    return out


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_a_three_day_backfill_on_two_celery_workers_gives_the_in_process_marts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, celery_queue: tuple[str, str], mock_api: MockApi,
        config_path: Path, postgres_database: str, dagster_database: str) -> None:
    from conftest import ANCHOR, postgres_schema

    broker, queue = celery_queue
    days = [(ANCHOR - timedelta(days=DAYS - 1 - i)) for i in range(DAYS)]
    celery_url, celery_schema = postgres_schema(postgres_database)
    inprocess_url, inprocess_schema = postgres_schema(postgres_database)
    home = tmp_path / "dagster_home"
    _dagster_home(home)
    env = {**os.environ, **mock_api.env(), "EMD_CONFIG": str(config_path), "DATABASE_URL": celery_url,
           "DAGSTER_HOME": str(home), **_pg_env(postgres_database, dagster_database),
           "EMD_EXECUTOR": "celery", "EMD_CELERY_BROKER_URL": broker, "EMD_CELERY_QUEUE": queue,
           "PYTHONPATH": str(ROOT)}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EMD_LLM_MODEL", "EMD_CELERY_BACKEND_URL"):
        env.pop(name, None)

    logs = [tmp_path / f"{name}.log" for name in WORKERS]
    workers = [spawn([str(BIN / "celery"), "-A", "orchestration.celery_app", "worker", "-Q", queue,
                      "-n", f"{name}@%h", "--concurrency", "2", "--prefetch-multiplier", "1", "-l", "INFO"],
                     cwd=ROOT, env=env, log_path=log) for name, log in zip(WORKERS, logs, strict=True)]
    # Meanwhile, the same days in process in another schema: the headless pipeline (one in-process run per day,
    # then the marts), with no DAGSTER_HOME (an ephemeral instance) and no EMD_EXECUTOR.
    reference_env = {key: value for key, value in env.items()
                     if key not in ("DAGSTER_HOME", "EMD_EXECUTOR") and not key.startswith(("EMD_CELERY_", "DAGSTER_PG_"))}
    reference_env["DATABASE_URL"] = inprocess_url
    reference_log = tmp_path / "in_process.log"
    reference = spawn([sys.executable, "-c", REFERENCE_PIPELINE, days[0].isoformat(), days[-1].isoformat()],
                      cwd=tmp_path, env=reference_env, log_path=reference_log)
    request.addfinalizer(lambda: stop(reference))
    began = time.monotonic()
    try:
        _wait_ready(workers, logs)
        ready_s = time.monotonic() - began
        tags = json.dumps({RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()})
        _dagster(["-j", INGESTION_JOB, "--tags", tags], env, tmp_path)
        ingested_s = time.monotonic() - began
        _dagster(["-j", MARTS_JOB], env, tmp_path)
        marts_s = time.monotonic() - began
    finally:
        stop(*workers)
    print(f"celery: workers ready {ready_s:.1f}s, ingestion done {ingested_s:.1f}s, marts done {marts_s:.1f}s")

    # Each step's worker, from the run's event log in the Postgres instance.
    from dagster import DagsterInstance, DagsterRunStatus

    for key, value in _pg_env(postgres_database, dagster_database).items():
        monkeypatch.setenv(key, value)
    with DagsterInstance.from_config(str(home)) as instance:
        runs = {run.job_name: run for run in instance.get_runs()}
        assert set(runs) == {INGESTION_JOB, MARTS_JOB}, runs
        assert all(run.status == DagsterRunStatus.SUCCESS for run in runs.values()), runs
        assert runs[INGESTION_JOB].tags[RANGE_START_TAG] == days[0].isoformat()
        # The broker URL (and its password) went in as an env reference: no run's config holds it.
        assert not any(broker in json.dumps(run.run_config) for run in runs.values())
        ingestion = _step_records(instance, runs[INGESTION_JOB].run_id)
        marts = _step_records(instance, runs[MARTS_JOB].run_id)
    assert len(ingestion) >= 4, ingestion
    names = {step: str(record.get("worker", "")).split("@")[0] for step, record in ingestion.items()}
    assert set(names.values()) == set(WORKERS), f"ingestion steps by worker: {names}"
    assert all(str(record.get("worker", "")).split("@")[0] in WORKERS for record in marts.values()), marts
    # The pool limit holds for celery steps (the run claims a slot before it submits a step).
    spans = [(record["start"], record["end"]) for record in ingestion.values()]
    assert _most_at_once(spans) <= POOL_LIMIT, ingestion
    print(f"ingestion steps by worker: {names}; at most {_most_at_once(spans)} at once")

    reference.wait(timeout=600)
    reference_out = reference_log.read_text(errors="replace")
    assert reference.returncode == 0, f"the in-process pipeline failed: {reference_out[-4000:]}"
    print("in process:", [line for line in reference_out.splitlines() if line.startswith("ingestion and marts in")])

    celery_digest, celery_sums = _mart_digests(celery_url)
    inprocess_digest, inprocess_sums = _mart_digests(inprocess_url)
    assert sum(int(s.split(":")[0]) for s in inprocess_sums.values()) > 0, inprocess_sums
    assert celery_sums == inprocess_sums
    assert celery_digest == inprocess_digest
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        for schema in (celery_schema, inprocess_schema):
            conn.execute(f"drop schema if exists {schema} cascade")



# -- the executor's settings (no broker needed) ----------------------------------------------------------------

def test_the_executor_is_in_process_unless_emd_executor_says_celery(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster_celery import celery_executor

    from orchestration.definitions import in_process_executor, run_executor

    monkeypatch.delenv("EMD_EXECUTOR", raising=False)
    assert run_executor() is in_process_executor
    monkeypatch.setenv("EMD_EXECUTOR", "celery")
    monkeypatch.setenv("EMD_CELERY_BROKER_URL", "amqp://emd:s3cret-pass@rabbit.internal:5672//")
    monkeypatch.setenv("EMD_CELERY_QUEUE", "emd_prod")
    chosen = run_executor()
    assert chosen.name == "celery" and chosen.executor_creation_fn is celery_executor.executor_creation_fn
    # The definition holds an env reference, not the URL (nor its password); it resolves where a run starts.
    schema = chosen.config_schema
    configured = schema._config_fn({})  # type: ignore[attr-defined]  # noqa: SLF001
    assert configured["broker"] == {"env": "EMD_CELERY_BROKER_URL"} and "s3cret-pass" not in repr(configured)
    resolved = schema.resolve_config({}).value["config"]  # type: ignore[attr-defined]
    assert resolved["broker"] == "amqp://emd:s3cret-pass@rabbit.internal:5672//"
    assert resolved["backend"] == "rpc://"
    assert resolved["config_source"] == {"task_default_queue": "emd_prod"}


@pytest.mark.parametrize(("variables", "named", "said"), [
    ({"EMD_EXECUTOR": "kubernetes"}, "EMD_EXECUTOR", "one of in_process, celery"),
    ({"EMD_EXECUTOR": "celery"}, "EMD_CELERY_BROKER_URL", "is not set"),
    ({"EMD_EXECUTOR": "celery", "EMD_CELERY_BROKER_URL": "https://emd:s3cret-pass@rabbit.internal/"},
     "EMD_CELERY_BROKER_URL", "its scheme is 'https'"),
    ({"EMD_EXECUTOR": "celery", "EMD_CELERY_BROKER_URL": "amqp://emd:s3cret-pass@rabbit.internal//",
      "EMD_CELERY_QUEUE": "steps for emd"}, "EMD_CELERY_QUEUE", "queue name"),
])
def test_a_bad_executor_setting_stops_the_code_location_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str, said: str) -> None:
    from emd.settings import SettingsError
    from orchestration.definitions import build_definitions

    for name in ("EMD_EXECUTOR", "EMD_CELERY_BROKER_URL", "EMD_CELERY_QUEUE", "EMD_CELERY_BACKEND_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        build_definitions()
    assert named in str(caught.value) and said in str(caught.value), caught.value
    assert "s3cret-pass" not in str(caught.value)
