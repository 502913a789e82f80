"""The foundation's contracts: settings rules from DESIGN.md, config validation, partition windows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from emd.config import ConfigError, load_config
from emd.settings import SettingsError, github_graphql_url, parse_database_url
from emd.warehouse import to_db_timestamp
from orchestration.partitions import day_window, days_between


@pytest.mark.parametrize(
    ("api_url", "graphql"),
    [
        ("https://api.github.com", "https://api.github.com/graphql"),
        ("https://api.github.com/", "https://api.github.com/graphql"),
        ("https://github.acme.example/api/v3", "https://github.acme.example/api/graphql"),
        ("https://github.acme.example/api/v3/", "https://github.acme.example/api/graphql"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765/graphql"),
    ],
)
def test_github_graphql_url_follows_design(api_url: str, graphql: str) -> None:
    assert github_graphql_url(api_url) == graphql


def test_database_url_forms() -> None:
    assert parse_database_url(None).duckdb_path == Path("data/warehouse.duckdb")
    assert parse_database_url("duckdb:///rel/w.duckdb").duckdb_path == Path("rel/w.duckdb")
    assert parse_database_url("duckdb:////var/lib/emd/w.duckdb").duckdb_path == Path("/var/lib/emd/w.duckdb")
    pg = parse_database_url("postgresql://u:secret@db:5433/emd")
    assert pg.kind == "postgres" and "secret" not in pg.describe()
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        parse_database_url("mysql://x")


def test_day_window_is_half_open_utc() -> None:
    start, end = day_window("2025-03-09")
    assert start == datetime(2025, 3, 9, tzinfo=UTC)
    assert end == datetime(2025, 3, 10, tzinfo=UTC)
    assert days_between(date(2025, 1, 30), date(2025, 2, 2)) == ["2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02"]


def test_timestamps_are_stored_as_naive_utc() -> None:
    assert to_db_timestamp("2025-01-02T03:04:05.000+0530") == datetime(2025, 1, 1, 21, 34, 5)
    assert to_db_timestamp("2025-01-02T03:04:05Z") == datetime(2025, 1, 2, 3, 4, 5)
    assert to_db_timestamp(None) is None


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


BASE = {"org": "acme", "github": {"repos": ["acme/api", "acme/web"]}, "jira": {"projects": ["API"], "boards": [12]}}


def test_config_example_loads() -> None:
    config = load_config(Path(__file__).parents[1] / "config.example.yaml")
    assert config.org and config.repos


def test_config_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = _write(tmp_path, {**BASE, "deployment": {"source": "merge"}})
    with pytest.raises(ConfigError, match=r"config\.yaml: `deployment` is not a known key"):
        load_config(path)


def test_config_team_with_unknown_repo(tmp_path: Path) -> None:
    path = _write(tmp_path, {**BASE, "teams": {"platform": {"repos": ["acme/nope"]}}})
    with pytest.raises(ConfigError, match=r"`teams\.platform\.repos` names 'acme/nope'"):
        load_config(path)


def test_config_bad_deployment_source(tmp_path: Path) -> None:
    path = _write(tmp_path, {**BASE, "deployments": {"repos": {"acme/web": {"source": "tags"}}}})
    with pytest.raises(ConfigError, match=r"deployments\.repos\.acme/web\.source` must be one of merge, release"):
        load_config(path)


def test_config_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config.example.yaml"):
        load_config(tmp_path / "missing.yaml")


def test_config_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("org: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_config_pr_type_rules(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, {**BASE, "pr_types": {"chore": {"labels": ["deps"], "prefixes": ["ci"]}}}))
    assert [(r.name, r.labels, r.prefixes) for r in config.pr_type_rules] == [("chore", ("deps",), ("ci",))]
    with pytest.raises(ConfigError, match=r"`pr_types\.hotfix` cannot be configured"):
        load_config(_write(tmp_path, {**BASE, "pr_types": {"hotfix": {"labels": ["urgent"]}}}))
    with pytest.raises(ConfigError, match=r"`pr_types\.docs` needs at least one of labels or prefixes"):
        load_config(_write(tmp_path, {**BASE, "pr_types": {"docs": {}}}))
    with pytest.raises(ConfigError, match=r"`pr_types\.docs\.label` is not a known key"):
        load_config(_write(tmp_path, {**BASE, "pr_types": {"docs": {"label": ["docs"]}}}))
