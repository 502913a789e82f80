"""Shared fixtures: a real mock API server over HTTP, a real DuckDB file, a config that matches the org."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml

from orchestration.mock.org import SyntheticOrg
from orchestration.mock.server import MockApi, MockState

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
