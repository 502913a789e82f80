"""Shared fixtures: a real mock API server over HTTP, a real DuckDB file, a config that matches the org,
and a Postgres database of this run (a schema per test) on the local server."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml

from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi, MockState

# Fixtures shared by several modules (the Slack post's `slack_env`, the OpenID provider `oidc_provider`).
pytest_plugins = ["tests.fixtures.slack", "tests.fixtures.oidc"]

def pytest_configure(config: pytest.Config) -> None:
    """Before pytest-xdist starts its workers (or a serial run its tests): the dbt manifest the code
    location loads is parsed once here, so two workers never run `dbt parse` into target/ at once."""
    if not hasattr(config, "workerinput"):
        from orchestration.defs.dbt.assets import dbt_project, ensure_manifest

        ensure_manifest(dbt_project())


# A fixed last day of synthetic activity, so every test sees the same org.
ANCHOR = date(2026, 3, 31)


@pytest.fixture
def org() -> SyntheticOrg:
    return SyntheticOrg(seed=7, anchor=ANCHOR)


@pytest.fixture
def mock_api(org: SyntheticOrg) -> Iterator[MockApi]:
    """A fresh mock server (its own counters, switches and faults) serving the default synthetic org."""
    with MockApi(MockState(org=org)) as api:
        yield api


@pytest.fixture
def config_path(tmp_path: Path, org: SyntheticOrg) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(org.config(), sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def mock_env(monkeypatch: pytest.MonkeyPatch, mock_api: MockApi, config_path: Path, warehouse_path: Path,
             tmp_path: Path) -> MockApi:
    """Point the whole product at the mock: API URLs and tokens, the config file and a fresh DuckDB file."""
    for key, value in mock_api.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EMD_CONFIG", str(config_path))
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{warehouse_path}")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return mock_api


# The Postgres tests' server: any database on it that the user may connect to and create databases from.
POSTGRES_SERVER_ENV = "EMD_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database for this test run on EMD_TEST_POSTGRES_URL (default: 127.0.0.1:5432, user postgres),
    dropped at the end. Skips only when no server answers there."""
    psycopg = pytest.importorskip("psycopg")
    server = os.environ.get(POSTGRES_SERVER_ENV) or DEFAULT_POSTGRES_SERVER
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server reachable at {re.sub(r'//[^@/]*@', '//', server)} "
                    f"(set {POSTGRES_SERVER_ENV}): {str(exc).strip().splitlines()[0]}")
    name = f"emd_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin.execute(f'create database "{name}"')
    try:
        yield re.sub(r"^(postgres(?:ql)?://[^/?]*)/?[^?]*", rf"\1/{name}", server, count=1)
    finally:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def postgres_schema(database_url: str) -> tuple[str, str]:
    """(DATABASE_URL, schema) of a fresh schema in `database_url`'s database: raw tables, dbt models,
    sprint_health and the dashboard's reads all land in it through `options=-csearch_path=<schema>`."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
    sep = "&" if "?" in database_url else "?"
    return f"{database_url}{sep}options=-csearch_path%3D{schema}", schema


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """DATABASE_URL of a fresh schema (in this run's database) for one test (see postgres_schema)."""
    import psycopg

    url, schema = postgres_schema(postgres_database)
    try:
        yield url
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            conn.execute(f"drop schema if exists {schema} cascade")
            # and the builds published from it (emd/snapshot.py: `<schema>__build_<n>`)
            for (built,) in conn.execute("select nspname from pg_namespace where starts_with(nspname, %s)",
                                         [f"{schema}__build_"]).fetchall():
                conn.execute(f'drop schema if exists "{built}" cascade')
