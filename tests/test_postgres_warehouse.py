"""The Postgres warehouse's own edges: a schema that does not exist, and the test fixture's skip rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.settings import parse_database_url
from orchestration.warehouse import Warehouse, WarehouseError

pytestmark = pytest.mark.postgres
TESTS = Path(__file__).parent


def test_a_missing_schema_is_named_and_nothing_is_written(postgres_database: str) -> None:
    url = f"{postgres_database}?options=-csearch_path%3Dno_such_schema"
    with pytest.raises(WarehouseError, match=r"no schema of the search_path \(no_such_schema.*create schema"):
        Warehouse(parse_database_url(url)).replace_partition("raw_jira_statuses", "2026-03-31", [])


def test_postgres_tests_skip_with_the_reason_when_no_server_answers() -> None:
    env = {**os.environ, "EMD_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:1/postgres"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                             str(TESTS / "test_dbt_postgres.py")], cwd=TESTS.parent, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 skipped" in result.stdout
    assert "no PostgreSQL server reachable at postgresql://127.0.0.1:1/postgres (set EMD_TEST_POSTGRES_URL)" \
        in result.stdout
