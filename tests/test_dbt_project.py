"""The small pure functions that point dbt at the warehouse and the project config, and the Dagster wiring."""

from __future__ import annotations

import json
from pathlib import Path

from dagster import AssetKey

from emd.config import parse_config
from emd.settings import parse_database_url
from orchestration.defs.dbt.project import DBT_PROJECT_DIR, dbt_target_env, dbt_vars, glob_to_like, vars_arg


def test_duckdb_target_is_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = dbt_target_env(parse_database_url("duckdb:///data/w.duckdb"))
    assert env == {"EMD_DBT_TARGET": "duckdb", "EMD_DBT_DUCKDB_PATH": str(tmp_path / "data" / "w.duckdb")}


def test_postgres_target_keeps_the_password_out_of_plain_variables():
    env = dbt_target_env(parse_database_url(
        "postgresql://metrics:s3cr%40t@db.example:6543/warehouse?options=-csearch_path%3Dmarts&sslmode=require"))
    assert env["EMD_DBT_TARGET"] == "postgres"
    assert (env["EMD_DBT_PG_HOST"], env["EMD_DBT_PG_PORT"], env["EMD_DBT_PG_USER"]) == ("db.example", "6543", "metrics")
    assert (env["EMD_DBT_PG_DATABASE"], env["EMD_DBT_PG_SCHEMA"]) == ("warehouse", "marts")
    assert env["EMD_DBT_PG_SSLMODE"] == "require"
    # dbt scrubs DBT_ENV_SECRET_* values from its logs; no other variable carries the password
    assert env["DBT_ENV_SECRET_PG_PASSWORD"] == "s3cr@t"
    assert not any("s3cr" in v for k, v in env.items() if k != "DBT_ENV_SECRET_PG_PASSWORD")
    assert dbt_target_env(parse_database_url("postgresql://localhost/test"))["EMD_DBT_PG_SCHEMA"] == "public"


def test_release_branch_globs_become_like_patterns():
    assert glob_to_like("release/*") == "release/%"
    assert glob_to_like("hotfix/v?") == "hotfix/v_"


def test_project_config_reaches_dbt_as_vars(tmp_path):
    config = parse_config({
        "org": "acme",
        "github": {"repos": ["acme/api", "acme/web"]},
        "jira": {"projects": ["API"], "boards": [12], "incident_types": ["Incident", "Outage"],
                 "blocked_statuses": ["Waiting"], "include_subtasks": True},
        "teams": {"platform": {"repos": ["acme/api"], "jira_projects": ["API"], "jira_boards": [12],
                               "members": ["Alice"]}},
        "deployments": {"source": "merge", "repos": {"acme/web": {"source": "release", "include_prereleases": True}}},
        "hotfix": {"release_branch_patterns": ["rel/*"], "window_days": 3},
        "change_failure": {"window_days": 5},
        "bots": ["Renovate"],
        "pr_types": {"chore": {"labels": ["Dependencies"], "prefixes": ["Chore", "ci:"]}, "docs": {"prefixes": ["docs"]}},
    }, tmp_path / "config.yaml")
    variables = dbt_vars(config)
    assert variables["repos"] == [
        {"repo": "acme/api", "team": "platform", "deployment_source": "merge",
         "deployment_environment": "production", "include_prereleases": False},
        {"repo": "acme/web", "team": None, "deployment_source": "release",
         "deployment_environment": "production", "include_prereleases": True},
    ]
    assert variables["members"] == [{"login": "alice", "team": "platform"}]
    assert variables["jira_projects"] == [{"project_key": "API", "team": "platform"}]
    assert variables["jira_boards"] == [{"board_id": 12, "team": "platform"}]
    assert variables["bots"] == ["renovate"]
    assert variables["release_branch_like"] == ["rel/%"]
    assert (variables["hotfix_window_days"], variables["failure_window_days"]) == (3, 5)
    assert variables["incident_types"] == ["Incident", "Outage"]
    assert variables["blocked_statuses"] == ["waiting"]
    assert variables["include_subtasks"] is True
    assert variables["pr_type_rules"] == [{"type": "chore", "labels": ["dependencies"], "prefixes": ["chore", "ci:"]},
                                          {"type": "docs", "labels": [], "prefixes": ["docs"]}]
    flag, payload = vars_arg(variables)
    assert flag == "--vars" and json.loads(payload) == variables
    # every var the models read is declared in dbt_project.yml (so a bare `dbt build` works too)
    import yaml
    declared = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert set(variables) <= set(declared)


def test_code_location_has_marts_job_and_one_lineage_graph():
    from orchestration.definitions import build_definitions

    defs = build_definitions()

    assert defs.resolve_job_def("marts_job").name == "marts_job"
    assert defs.resolve_job_def("marts_full_refresh_job") is not None
    graph = defs.resolve_asset_graph()
    staging = graph.get(AssetKey("stg_github__pull_requests"))
    # the incremental model reads its raw table and the keys its build recomputes (docs/incremental.md)
    assert set(staging.parent_keys) == {AssetKey("raw_github_pull_requests"),
                                        AssetKey("stg_github__pull_requests__changed")}
    assert set(graph.get(AssetKey("stg_github__pull_requests__changed")).parent_keys) == {
        AssetKey(t) for t in ("raw_github_pull_requests", "raw_github_reviews", "raw_github_commits",
                              "raw_github_timeline_events", "raw_ingested_partitions")}
    assert set(graph.get(AssetKey("stg_jira__changelog")).parent_keys) >= {AssetKey("raw_jira_changelog")}
    for mart in ("fct_pull_requests", "fct_deployments", "fct_jira_issues", "mv_dora_by_repo_day",
                 "mv_flow_by_repo_day", "mv_planning_by_sprint", "mv_planning_by_team_day", "metrics_daily"):
        assert graph.get(AssetKey(mart)).group_name == "marts"
    assert staging.group_name == "staging"
    assert Path(DBT_PROJECT_DIR / "target" / "manifest.json").exists()


def test_prune_run_dirs_keeps_the_newest(tmp_path):
    import os

    from orchestration.defs.dbt.project import prune_run_dirs

    for i in range(4):
        folder = tmp_path / f"dbt_models-{i}"
        folder.mkdir()
        os.utime(folder, (1000 + i, 1000 + i))
    (tmp_path / "manifest.json").write_text("{}")
    removed = prune_run_dirs(tmp_path, "dbt_models-", keep=2)
    assert sorted(p.name for p in removed) == ["dbt_models-0", "dbt_models-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dbt_models-2", "dbt_models-3", "manifest.json"]


def test_emd_docs_generates_the_site(tmp_path, monkeypatch):
    from orchestration.cli import build_parser
    from orchestration.defs.dbt.docs import generate_docs

    args = build_parser().parse_args(["docs", "--port", "9000", "--no-serve"])
    assert (args.port, args.no_serve) == (9000, True)
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("EMD_CONFIG", str(tmp_path / "missing.yaml"))  # falls back to the default vars
    site = generate_docs(work_dir=tmp_path / "docs")
    assert (site / "index.html").exists()
    manifest = json.loads((site / "manifest.json").read_text())
    assert {"exposure.engineering_metrics.dashboard", "exposure.engineering_metrics.sprint_health_slack_post"} <= set(
        manifest["exposures"])


# --- build_plan: the one place a build's dbt variables and window are decided (docs/incremental.md) ---

def _plan_inputs():
    from datetime import datetime

    from orchestration.defs.dbt.project import BuildState, vars_hash

    config_vars = {"org": "acme", "hotfix_window_days": 7}
    built = BuildState(vars_hash(config_vars), "code-1", datetime(2026, 3, 31, 12, 0, 0))
    return config_vars, built, datetime(2026, 3, 31, 13, 0, 0)


def test_build_plan_is_incremental_from_the_last_builds_watermark():
    from orchestration.defs.dbt.project import CHANGED_SINCE_VAR, build_plan

    config_vars, built, newest = _plan_inputs()
    plan = build_plan(config_vars, built, newest, code_hash="code-1", lookback_seconds=3600)
    assert plan.full_refresh is False
    # 12:00 less an hour of lookback; the config's variables pass through unchanged
    assert plan.variables == {**config_vars, CHANGED_SINCE_VAR: "2026-03-31 11:00:00.000000"}
    assert "incremental" in plan.reason and "2026-03-31 11:00:00" in plan.reason
    # what the build records once it succeeded: the same hashes, and the newest fetch it was planned on
    assert (plan.state.vars_hash, plan.state.project_hash, plan.state.built_through) == (
        built.vars_hash, "code-1", newest)
    assert build_plan(config_vars, built, newest, code_hash="code-1", lookback_seconds=0).variables[
        CHANGED_SINCE_VAR] == "2026-03-31 12:00:00.000000"


def test_build_plan_rebuilds_everything_when_the_config_vars_or_the_code_change_or_when_asked():
    from orchestration.defs.dbt.project import CHANGED_SINCE_VAR, build_plan

    config_vars, built, newest = _plan_inputs()
    cases = {
        "dbt variables derived from the config changed": build_plan({**config_vars, "hotfix_window_days": 3}, built,
                                                                     newest, code_hash="code-1"),
        "models or macros changed": build_plan(config_vars, built, newest, code_hash="code-2"),
        "full refresh requested": build_plan(config_vars, built, newest, code_hash="code-1",
                                             requested_full_refresh=True),
        "no earlier complete build": build_plan(config_vars, None, newest, code_hash="code-1"),
    }
    for why, plan in cases.items():
        assert plan.full_refresh is True, why
        assert why in plan.reason
        assert plan.variables[CHANGED_SINCE_VAR] is None
    # key order of the config's variables is not a change
    reordered = dict(reversed(list(config_vars.items())))
    assert build_plan(reordered, built, newest, code_hash="code-1").full_refresh is False


def test_build_plan_without_a_watermark_recomputes_every_key_and_rejects_bad_input():
    import pytest

    from orchestration.defs.dbt.project import (
        CHANGED_SINCE_VAR,
        BuildState,
        build_plan,
        watermark_lookback_seconds,
    )

    config_vars, built, newest = _plan_inputs()
    empty = BuildState(built.vars_hash, "code-1", None)  # the last build saw no ingested partition
    plan = build_plan(config_vars, empty, None, code_hash="code-1")
    assert plan.full_refresh is False and plan.variables[CHANGED_SINCE_VAR] is None
    with pytest.raises(ValueError, match=CHANGED_SINCE_VAR):
        build_plan({**config_vars, CHANGED_SINCE_VAR: "x"}, built, newest)
    with pytest.raises(ValueError, match="lookback_seconds"):
        build_plan(config_vars, built, newest, lookback_seconds=-1)
    assert watermark_lookback_seconds("duckdb", {}) == 0
    assert watermark_lookback_seconds("postgres", {}) == 6 * 3600
    assert watermark_lookback_seconds("postgres", {"EMD_DBT_WATERMARK_LOOKBACK_SECONDS": "60"}) == 60
    with pytest.raises(ValueError, match="EMD_DBT_WATERMARK_LOOKBACK_SECONDS"):
        watermark_lookback_seconds("duckdb", {"EMD_DBT_WATERMARK_LOOKBACK_SECONDS": "1h"})
