"""GitHub ingestion assets run through Dagster against the mock, into real DuckDB files."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from dagster import AssetKey, AssetsDefinition, Definitions, materialize

from emd.warehouse import RAW_TABLES
from mock_apis.github_data import github_data
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi
from orchestration.defs.github.definitions import github_defs
from orchestration.defs.ingestion import ingestion_defs
from orchestration.resources import ProjectConfigResource, WarehouseResource

DAY = "2026-03-16"  # holds acme/api#26, a PR with 121 reviews
GITHUB_TABLES = [t for t in RAW_TABLES if t.startswith("raw_github_")]


def run_github_assets(partition_key: str = DAY, warehouse: Path | None = None) -> Any:
    """The GitHub assets of one day; `warehouse` (a DuckDB file) instead of DATABASE_URL's."""
    defs = github_defs()
    assets = [a for a in (defs.assets or []) if isinstance(a, AssetsDefinition)]
    resources: dict[str, Any] = {**(defs.resources or {}), "project_config": ProjectConfigResource(),
                                 "warehouse": WarehouseResource()}
    with pytest.MonkeyPatch.context() as env:
        if warehouse is not None:
            env.setenv("DATABASE_URL", f"duckdb:///{warehouse}")
        return materialize(assets, partition_key=partition_key, resources=resources)


def table_rows(path: Path, table: str, with_fetched_at: bool = False) -> list[tuple]:
    columns = [c for c, _ in RAW_TABLES[table] if with_fetched_at or c != "fetched_at"]
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"select {', '.join(columns)} from {table} order by all").fetchall()  # noqa: S608


def test_partition_through_dagster_fills_every_table(mock_env: MockApi, org: SyntheticOrg, warehouse_path: Path) -> None:
    result = run_github_assets()
    assert result.success
    data = github_data(org)
    start, end = datetime.fromisoformat(DAY + "T00:00:00+00:00"), datetime.fromisoformat("2026-03-17T00:00:00+00:00")
    expected = [pr for pr in data.pull_requests if start <= pr["_updated"] < end]
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        prs = conn.execute("select repo, number, labels, author_type, state, is_draft, review_count, commit_count, "
                           "partition_date, updated_at from raw_github_pull_requests").fetchall()
        assert sorted((r[0], r[1]) for r in prs) == sorted((p["_repo"], p["number"]) for p in expected)
        assert all(str(r[8]) == DAY and start.replace(tzinfo=None) <= r[9] < end.replace(tzinfo=None) for r in prs)
        assert all(isinstance(json.loads(r[2]), list) for r in prs)
        big = conn.execute("select count(*), count(distinct review_id) from raw_github_reviews "
                           "where repo = 'acme/api' and pr_number = 26").fetchone()
        assert big == (121, 121)
        reviews = sum(len(p["_reviews"]) for p in expected)
        commits = sum(len(p["_commits"]) for p in expected)
        events = sum(len(p["_timeline"]) for p in expected)
        for table, count in (("raw_github_reviews", reviews), ("raw_github_commits", commits),
                             ("raw_github_timeline_events", events)):
            assert conn.execute(f"select count(*) from {table}").fetchone()[0] == count  # noqa: S608
        # No column is left empty where the API has a value (payload always; typed columns spot-checked).
        assert conn.execute("select count(*) from raw_github_pull_requests where payload is null or pr_id is null "
                            "or created_at is null or default_branch is null or author_login is null").fetchone()[0] == 0
        assert conn.execute("select count(*) from raw_github_commits where authored_at is null "
                            "or committed_at is null").fetchone()[0] == 0
        deployments = conn.execute("select distinct repo, latest_status from raw_github_deployments").fetchall()
        assert {r[0] for r in deployments} <= {"acme/infra"}
        assert {r[1] for r in deployments} <= {"success", "failure", "error", "in_progress", "queued"}
    materializations = {ev.asset_key.path[-1]: ev.step_materialization_data.materialization.metadata
                        for ev in result.get_asset_materialization_events()}
    assert set(materializations) == set(GITHUB_TABLES)
    pr_meta = materializations["raw_github_pull_requests"]
    assert pr_meta["rows"].value == len(expected)
    assert pr_meta["api_requests"].value == 2  # one search page (fewer than 100 PRs) + one page of reviews 101..121
    assert pr_meta["window"].value == "[2026-03-16T00:00:00+00:00, 2026-03-17T00:00:00+00:00)"
    assert {"retries", "rate_limit_waits"} <= set(pr_meta)
    checks = result.get_asset_check_evaluations()
    # Three raw-table checks per table, and repositories_readable on the PR, release and deployment assets; the
    # Copilot reports (two tables) have reports_readable only (config `ai.copilot` is off here).
    assert len(checks) == 3 * (len(GITHUB_TABLES) - 2) + 3 + 1 and all(c.passed for c in checks)
    assert "mock-github-token" not in json.dumps({k: str(v) for k, v in pr_meta.items()})


def test_replaying_a_partition_gives_identical_rows(mock_env: MockApi, warehouse_path: Path) -> None:
    assert run_github_assets().success
    first = {t: table_rows(warehouse_path, t) for t in GITHUB_TABLES}
    fetched_first = table_rows(warehouse_path, "raw_github_pull_requests", with_fetched_at=True)
    assert run_github_assets().success
    second = {t: table_rows(warehouse_path, t) for t in GITHUB_TABLES}
    assert first == second and first["raw_github_pull_requests"]
    assert table_rows(warehouse_path, "raw_github_pull_requests", with_fetched_at=True) != fetched_first


def test_injected_faults_give_the_same_tables_as_a_clean_run(mock_env: MockApi, tmp_path: Path) -> None:
    days = ["2026-03-12", "2026-03-13", DAY]  # big PRs on the 12th and 16th: nested pages too
    clean = tmp_path / "clean.duckdb"
    for day in days:
        assert run_github_assets(day, warehouse=clean).success
    mock_env.state.faults.retry_after_s = 0
    requests.post(mock_env.url + "/_mock/switch", json={"fault_rate": 0.2, "fault_seed": 5}, timeout=10)
    faulty = tmp_path / "faulty.duckdb"
    retries = 0
    for day in days:
        result = run_github_assets(day, warehouse=faulty)
        assert result.success
        retries += sum(ev.step_materialization_data.materialization.metadata["retries"].value
                       for ev in result.get_asset_materialization_events()
                       if ev.asset_key.path[-1] in ("raw_github_pull_requests", "raw_github_releases",
                                                    "raw_github_deployments"))
    faults = {k: v for k, v in requests.get(mock_env.url + "/_mock/counts", timeout=10).json().items()
              if k.startswith("fault:")}
    assert sum(faults.values()) >= 2, faults
    assert retries >= sum(faults.values()) - faults.get("fault:slow", 0)  # every fault but a slow answer costs a retry
    for table in GITHUB_TABLES:
        assert table_rows(faulty, table) == table_rows(clean, table), table


def test_failed_run_keeps_the_previous_partition(mock_env: MockApi, warehouse_path: Path) -> None:
    assert run_github_assets().success
    before = table_rows(warehouse_path, "raw_github_commits", with_fetched_at=True)
    requests.post(mock_env.url + "/_mock/switch", json={"github_payload_drop": "committedDate"}, timeout=10)
    defs = github_defs()
    multi = next(a for a in defs.assets or [] if isinstance(a, AssetsDefinition) and len(a.keys) == 4)
    with pytest.raises(Exception, match="committedDate"):
        materialize([multi], partition_key=DAY,
                    resources={**(defs.resources or {}), "project_config": ProjectConfigResource(),
                               "warehouse": WarehouseResource()})
    assert table_rows(warehouse_path, "raw_github_commits", with_fetched_at=True) == before


def test_missing_token_names_the_variable(mock_env: MockApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(Exception, match="GITHUB_TOKEN"):
        run_github_assets()


def test_ingestion_job_runs_the_github_assets(mock_env: MockApi, warehouse_path: Path) -> None:
    # The ingestion job selects the group "ingestion"; merged here with the GitHub part only, so this test
    # does not depend on the other parts of the code location.
    defs = Definitions.merge(ingestion_defs(), github_defs(), Definitions(
        resources={"project_config": ProjectConfigResource(), "warehouse": WarehouseResource()}))
    graph = defs.resolve_asset_graph()
    for table in GITHUB_TABLES:
        node = graph.get(AssetKey(table))
        assert node.group_name == "ingestion"
        assert "github" in node.kinds  # the warehouse kind is added by orchestration/definitions.py
        assert node.partitions_def is not None
    result = defs.resolve_job_def("ingestion_job").execute_in_process(partition_key="2026-03-20")
    assert result.success
    assert {ev.asset_key.path[-1] for ev in result.get_asset_materialization_events()} == set(GITHUB_TABLES)
    assert table_rows(warehouse_path, "raw_github_pull_requests")


def check_results(result: Any, check_name: str) -> dict[str, Any]:
    return {str(e.asset_key.path[-1]): e for e in result.get_asset_check_evaluations() if e.check_name == check_name}


def test_a_deleted_repository_fails_its_check_and_the_others_land(mock_env: MockApi, org: SyntheticOrg,
                                                                   warehouse_path: Path) -> None:
    requests.post(mock_env.url + "/_mock/switch", json={"github_deleted_repos": ["acme/web"]}, timeout=10)
    result = run_github_assets()
    assert result.success  # acme/web is left out; it fails no other repo's rows
    start, end = datetime.fromisoformat(DAY + "T00:00:00+00:00"), datetime.fromisoformat("2026-03-17T00:00:00+00:00")
    expected = sorted((p["_repo"], p["number"]) for p in github_data(org).pull_requests
                      if start <= p["_updated"] < end and p["_repo"] != "acme/web")
    assert expected and table_rows(warehouse_path, "raw_github_pull_requests")
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        assert sorted(conn.execute("select repo, number from raw_github_pull_requests").fetchall()) == expected
    checks = check_results(result, "repositories_readable")
    assert set(checks) == {"raw_github_pull_requests", "raw_github_releases", "raw_github_deployments"}
    pulls = checks["raw_github_pull_requests"]
    assert not pulls.passed and pulls.severity.value == "ERROR"
    problems = pulls.metadata["repo_problems"].value
    assert "acme/web" in problems and "remove it from `github.repos`" in problems
    mat = next(e for e in result.get_asset_materialization_events()
               if e.asset_key == AssetKey("raw_github_pull_requests"))
    meta = mat.step_materialization_data.materialization.metadata
    assert meta["unreadable_repos"].value == 1 and "acme/web" in meta["repo_problems"].value


def test_a_renamed_repository_lands_under_its_configured_name_with_a_warning(mock_env: MockApi, org: SyntheticOrg,
                                                                              warehouse_path: Path) -> None:
    requests.post(mock_env.url + "/_mock/switch", json={"github_renamed_repos": {"acme/api": "acme/core-api"}},
                  timeout=10)
    result = run_github_assets()
    assert result.success
    start, end = datetime.fromisoformat(DAY + "T00:00:00+00:00"), datetime.fromisoformat("2026-03-17T00:00:00+00:00")
    expected = sorted((p["_repo"], p["number"]) for p in github_data(org).pull_requests if start <= p["_updated"] < end)
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        assert sorted(conn.execute("select repo, number from raw_github_pull_requests").fetchall()) == expected
        assert conn.execute("select count(*) from raw_github_reviews where repo = 'acme/api' and pr_number = 26"
                            ).fetchone() == (121,)
    pulls = check_results(result, "repositories_readable")["raw_github_pull_requests"]
    assert not pulls.passed and pulls.severity.value == "WARN"
    assert "change it to acme/core-api" in pulls.metadata["repo_renames"].value


def test_timeouts_shrink_pages_and_the_metadata_says_how_often(mock_env: MockApi, warehouse_path: Path) -> None:
    requests.post(mock_env.url + "/_mock/switch", json={"github_timeout": {"search_above": 25}}, timeout=10)
    result = run_github_assets()
    assert result.success
    mat = next(e for e in result.get_asset_materialization_events()
               if e.asset_key == AssetKey("raw_github_pull_requests"))
    meta = mat.step_materialization_data.materialization.metadata
    # 100 -> 50 -> 25; every later page passes (a page grown back to 50 would shrink once more).
    assert meta["graphql_timeouts_page_shrinks"].value >= 2 and meta["smallest_search_page"].value == 25
