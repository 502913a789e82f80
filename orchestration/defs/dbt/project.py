"""Where the dbt project lives and how a run of dbt is pointed at the warehouse and the project config.

Pure functions (no environment or file access at import time): the Dagster assets, `emd docs`, the
tests and the benchmark all build dbt's arguments and environment through them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from emd.config import ProjectConfig
from emd.settings import DatabaseTarget
from emd.slos import load_slos

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"

# Names the profiles.yml in dbt_project/ reads with env_var(). dbt scrubs DBT_ENV_SECRET_* from its logs.
TARGET_ENV_NAMES = (
    "EMD_DBT_TARGET", "EMD_DBT_DUCKDB_PATH", "EMD_DBT_PG_HOST", "EMD_DBT_PG_PORT", "EMD_DBT_PG_USER",
    "EMD_DBT_PG_DATABASE", "EMD_DBT_PG_SCHEMA", "EMD_DBT_PG_SSLMODE", "DBT_ENV_SECRET_PG_PASSWORD",
)


def dbt_target_env(target: DatabaseTarget) -> dict[str, str]:
    """The environment variables profiles.yml reads, for the warehouse DATABASE_URL names.

    DuckDB: an absolute file path (dbt runs with the project directory as its working directory).
    Postgres: host, port, user, database, sslmode and schema (from `options=-csearch_path=...`, else public);
    the password goes in DBT_ENV_SECRET_PG_PASSWORD so it never shows in dbt's logs.
    """
    if target.kind == "duckdb":
        assert target.duckdb_path is not None
        return {"EMD_DBT_TARGET": "duckdb", "EMD_DBT_DUCKDB_PATH": str(Path(target.duckdb_path).resolve())}
    parsed = urlparse(target.postgres_url or "")
    query = parse_qs(parsed.query)
    schema = "public"
    for option in query.get("options", []):
        for part in unquote(option).split():
            if part.startswith("-csearch_path="):
                schema = part.split("=", 1)[1].split(",")[0].strip() or schema
    return {
        "EMD_DBT_TARGET": "postgres",
        "EMD_DBT_PG_HOST": parsed.hostname or "localhost",
        "EMD_DBT_PG_PORT": str(parsed.port or 5432),
        "EMD_DBT_PG_USER": unquote(parsed.username or "postgres"),
        "EMD_DBT_PG_DATABASE": (parsed.path or "/postgres").lstrip("/") or "postgres",
        "EMD_DBT_PG_SCHEMA": schema,
        "EMD_DBT_PG_SSLMODE": (query.get("sslmode") or ["prefer"])[0],
        "DBT_ENV_SECRET_PG_PASSWORD": unquote(parsed.password or ""),
    }


def glob_to_like(pattern: str) -> str:
    """A release-branch glob (`release/*`) as a SQL LIKE pattern (`release/%`); `?` is one character."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_":
            # LIKE has no portable escape without an ESCAPE clause; match the literal as "any one char".
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


def dbt_vars(config: ProjectConfig) -> dict[str, Any]:
    """The project config as dbt `--vars` (the keys dbt_project.yml declares, with the same defaults)."""
    slos = load_slos(config).slos  # unusable OpenSLO documents are reported by the raw_slo_events asset
    repos = []
    for repo in config.repos:
        deployment = config.deployment_for(repo)
        repos.append({
            "repo": repo,
            "team": config.team_of_repo(repo),
            "deployment_source": deployment.source,
            "deployment_environment": deployment.environment,
            "include_prereleases": deployment.include_prereleases,
        })
    return {
        "org": config.org,
        "default_deployment_source": config.deployment_source,
        "default_deployment_environment": config.deployment_environment,
        "default_include_prereleases": config.include_prereleases,
        "repos": repos,
        "members": [{"login": m.lower(), "team": t.name} for t in config.teams for m in t.members],
        "jira_projects": [{"project_key": p, "team": t.name} for t in config.teams for p in t.jira_projects],
        "jira_boards": [{"board_id": b, "team": t.name} for t in config.teams for b in t.jira_boards],
        "bots": sorted({b.lower() for b in config.bots}),
        "release_branch_like": [glob_to_like(p) for p in config.release_branch_patterns],
        "hotfix_window_days": config.hotfix_window_days,
        "failure_window_days": config.failure_window_days,
        "incident_types": list(config.incident_types),
        "blocked_statuses": [s.lower() for s in config.blocked_statuses],
        "include_subtasks": config.include_subtasks,
        "workflows": [{"repo": repo, "workflow": w} for repo, ws in config.workflow_repos().items() for w in ws],
        "github_teams": [{"github_team": g, "team": t.name} for t in config.teams for g in t.github_teams],
        "incident_labels": sorted({label.lower() for label in config.incident_labels}),
        "pagerduty_services": [{"service_id": s, "team": t} for s, t in sorted((config.pagerduty.services
                                                                                 if config.pagerduty else {}).items())],
        "pagerduty_urgency": config.pagerduty.urgency if config.pagerduty else None,
        "pr_type_rules": [{"type": rule.name, "labels": sorted({label.lower() for label in rule.labels}),
                           "prefixes": [prefix.lower() for prefix in rule.prefixes]} for rule in config.pr_type_rules],
        "working_agreements": [
            {"team": a.team, "rule": rule, "threshold": threshold, "is_proposed": proposed}
            for a in config.working_agreements
            for proposed, rules in ((False, a.rules), (True, a.proposed))
            for rule, threshold in sorted(rules.items())
        ],
        "ai_trailer_regex": config.ai.trailer_regex(),
        "ai_agent_accounts": config.ai.accounts,
        "ai_labels": sorted(set(config.ai.labels)),
        "ai_copilot": config.ai.copilot,
        "slos": [{"slo_name": s.name, "service": s.service, "team": s.team, "kind": s.kind, "target": s.target,
                  "window_days": s.window_days} for s in slos],
        "slo_pagerduty_services": [{"slo_name": s.name, "service_id": service} for s in slos
                                   for service in s.pagerduty_services],
        "working_hours": [
            {"team": a.team, "timezone": a.working_hours.timezone, "iso_weekday": day,
             "start_minute": a.working_hours.start_minute, "end_minute": a.working_hours.end_minute}
            for a in config.working_agreements if a.working_hours is not None
            for day in a.working_hours.days
        ],
    }


def vars_arg(variables: Mapping[str, Any]) -> list[str]:
    """`--vars` as dbt CLI arguments (JSON is valid YAML)."""
    return ["--vars", json.dumps(variables, sort_keys=True)]


@contextmanager
def dbt_environment(target: DatabaseTarget) -> Iterator[dict[str, str]]:
    """Set the profile's variables in this process while dbt runs as a child process, then restore them.

    dagster-dbt passes the parent's environment to the dbt subprocess and has no per-call env argument.
    """
    values = dbt_target_env(target)
    saved = {name: os.environ.get(name) for name in TARGET_ENV_NAMES}
    try:
        for name in TARGET_ENV_NAMES:
            os.environ.pop(name, None)
        os.environ.update(values)
        yield values
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def dbt_executable() -> str:
    """The dbt installed beside this Python (the venv's), else whatever `dbt` is on PATH."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(args: list[str], target: DatabaseTarget, variables: Mapping[str, Any] | None = None,
            work_dir: Path | None = None, check: bool = True, target_path: Path | None = None):
    """Run the dbt CLI on our project against `target` (outside Dagster: tests, bench, `emd docs`).

    `work_dir` keeps target/ and logs/ of this invocation apart from other runs (tests run in parallel
    with a developer's own builds). Output is captured; on failure the error names the dbt command.
    """
    import subprocess

    cmd = [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if variables is not None:
        cmd += vars_arg(variables)
    env = {k: v for k, v in os.environ.items() if k not in TARGET_ENV_NAMES}
    env.update(dbt_target_env(target))
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    if work_dir is not None:
        env["DBT_TARGET_PATH"] = str(work_dir / "target")
        env["DBT_LOG_PATH"] = str(work_dir / "logs")
    if target_path is not None:
        env["DBT_TARGET_PATH"] = str(target_path)
        env["DBT_LOG_PATH"] = str(target_path)
    result = subprocess.run(cmd, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"`dbt {' '.join(args)}` failed (exit {result.returncode}):\n{result.stdout[-6000:]}"
                           f"\n{result.stderr[-2000:]}")
    return result


def prune_run_dirs(target_dir: Path, prefix: str, keep: int = 5) -> list[Path]:
    """Delete all but the newest `keep` per-run target folders (dagster-dbt writes one per dbt invocation,
    a few MB each, so an hourly refresh would otherwise fill the disk). Returns what was deleted."""
    import shutil

    runs = sorted((p for p in target_dir.glob(f"{prefix}*") if p.is_dir()), key=lambda p: p.stat().st_mtime,
                  reverse=True)
    removed = runs[keep:]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def keep_partial_parse(run_target: Path, project_target: Path) -> bool:
    """Make this run's parse state (parsed with the config's --vars) the one the next run starts from.

    dagster-dbt seeds each run's fresh target folder with the project's partial_parse.msgpack; that file
    comes from `dbt parse` without --vars, and changed vars force a full re-parse on every run.
    """
    import shutil

    source = run_target / "partial_parse.msgpack"
    if not source.exists():
        return False
    project_target.mkdir(parents=True, exist_ok=True)
    staging = project_target / "partial_parse.msgpack.tmp"
    shutil.copyfile(source, staging)
    staging.replace(project_target / "partial_parse.msgpack")  # atomic: a concurrent run sees old or new
    return True


# --- Incremental builds (docs/incremental.md) -------------------------------------------------------------------

# The dbt var the incremental models read: raw rows fetched at or after it are new to the build.
CHANGED_SINCE_VAR = "emd_changed_since"
# The table (in the warehouse, beside the marts) that remembers what the last complete build was built from.
BUILD_STATE_TABLE = "_emd_dbt_state"
# How far before the last build's newest fetch time the next build looks again. On Postgres a partition whose
# fetch began before that build read its watermark may commit after it (ingestion and the build may overlap
# there); recomputing a few hours of entities again costs little (the hourly refresh re-fetches them anyway).
# On DuckDB the warehouse pool keeps ingestion and the build apart, so the watermark is exact.
WATERMARK_LOOKBACK_SECONDS = 6 * 3600
LOOKBACK_ENV = "EMD_DBT_WATERMARK_LOOKBACK_SECONDS"


def watermark_lookback_seconds(kind: str, env: Mapping[str, str]) -> int:
    """EMD_DBT_WATERMARK_LOOKBACK_SECONDS when set (a whole number >= 0), else 0 on DuckDB, 6 hours on Postgres."""
    raw = env.get(LOOKBACK_ENV, "").strip()
    if not raw:
        return 0 if kind == "duckdb" else WATERMARK_LOOKBACK_SECONDS
    if not raw.isdigit():
        raise ValueError(f"{LOOKBACK_ENV} must be a whole number of seconds >= 0, got {raw!r}")
    return int(raw)


def vars_hash(variables: Mapping[str, Any]) -> str:
    """A stable digest of dbt variables (key order does not count)."""
    import hashlib

    return hashlib.sha256(json.dumps(variables, sort_keys=True, default=str).encode()).hexdigest()


def project_hash(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """A digest of the dbt project's SQL and YAML (models, macros, dbt_project.yml): a new version of a model
    rebuilds the incremental tables it would otherwise only patch."""
    import hashlib

    digest = hashlib.sha256()
    files = [project_dir / "dbt_project.yml"]
    for folder in ("models", "macros"):
        files.extend(sorted(p for p in (project_dir / folder).rglob("*") if p.is_file()))
    for path in files:
        digest.update(str(path.relative_to(project_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class BuildState:
    """What the last complete build was built from (a row of `_emd_dbt_state`)."""

    vars_hash: str
    project_hash: str
    built_through: datetime | None  # the newest raw_ingested_partitions.fetched_at when that build began


@dataclass(frozen=True)
class BuildPlan:
    """The dbt build Dagster runs: its --vars, whether it is a full refresh, and why."""

    variables: dict[str, Any]
    full_refresh: bool
    reason: str
    state: BuildState  # to record once the build has succeeded


def build_plan(config_vars: Mapping[str, Any], previous: BuildState | None, newest_fetch: datetime | None, *,
               requested_full_refresh: bool = False, code_hash: str = "",
               lookback_seconds: int = WATERMARK_LOOKBACK_SECONDS) -> BuildPlan:
    """The one place the dbt variables and window of a build are decided (pure: no clock, files or database).

    `config_vars` is dbt_vars(config); `previous` the state the last complete build recorded (None: never
    built, or built before builds recorded it); `newest_fetch` the newest raw_ingested_partitions.fetched_at
    now. A full refresh when asked, on a first build, or when the config's dbt variables or the project's code
    differ from the last build's; else an incremental build of what was fetched since the last build's
    watermark (less `lookback_seconds`).
    """
    if CHANGED_SINCE_VAR in config_vars:
        raise ValueError(f"config_vars must not set {CHANGED_SINCE_VAR}: build_plan derives it")
    if lookback_seconds < 0:
        raise ValueError(f"lookback_seconds must be >= 0, got {lookback_seconds}")
    state = BuildState(vars_hash(config_vars), code_hash, newest_fetch)
    if requested_full_refresh:
        full, reason = True, "full refresh requested (marts_full_refresh_job / emd pipeline --full-refresh)"
    elif previous is None:
        full, reason = True, "full refresh: no earlier complete build is recorded in " + BUILD_STATE_TABLE
    elif previous.vars_hash != state.vars_hash:
        full, reason = True, "full refresh: the dbt variables derived from the config changed since the last build"
    elif previous.project_hash != state.project_hash:
        full, reason = True, "full refresh: the dbt project's models or macros changed since the last build"
    else:
        full, reason = False, ""
    variables = dict(config_vars)
    if full:
        variables[CHANGED_SINCE_VAR] = None
        return BuildPlan(variables, True, reason, state)
    since = previous.built_through if previous is not None else None
    if since is None:
        variables[CHANGED_SINCE_VAR] = None
        reason = "incremental, every entity recomputed: the last build saw no ingested partition"
    else:
        window_start = since - timedelta(seconds=lookback_seconds)
        variables[CHANGED_SINCE_VAR] = window_start.strftime("%Y-%m-%d %H:%M:%S.%f")
        reason = f"incremental: raw rows fetched since {variables[CHANGED_SINCE_VAR]} (UTC)"
    return BuildPlan(variables, False, reason, state)
