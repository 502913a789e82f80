"""Every query the dashboard runs, against the published build (DuckDB) or the live database (Postgres).

- Values are bound parameters; the only text put into SQL comes from this module's constants
  (table names, the percentile function of the engine, the day/week bucket).
- Percentiles over a range are computed from the fact rows of that range (DuckDB `quantile_cont`,
  Postgres `percentile_cont ... within group`), never from daily percentiles.
- Results are cached with `st.cache_data(ttl=...)` keyed on the published build id, so a new build
  makes every cached result stale at once, and nothing lives longer than the ttl.
- Windows are half-open in time: [start 00:00, end + 1 day 00:00) in UTC.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from emd.settings import DatabaseTarget, SettingsError
from emd.snapshot import BUILD_TABLE, dashboard_target

TTL_SECONDS = 600
SMALL_SAMPLE = 5  # docs/metrics.md: mark a value drawn from fewer than 5
REQUIRED_TABLES = ("fct_pull_requests", "fct_deployments")
GRAINS = {"day": "day", "week": "week"}  # the only bucket literals ever put into SQL
# Flow measures people (docs/metrics.md): bot-authored PRs are left out, as in mv_flow_by_repo_day.
# Delivery (deployments, lead time) counts every deployed change, as mv_dora_by_repo_day does.
HUMAN = " and not coalesce(is_bot_author, false)"
DENSE_DAILY_TABLES = ("mv_dora_by_repo_day", "mv_flow_by_repo_day", "metrics_daily")


# ---------------------------------------------------------------------------------------------
# Where the dashboard reads


@dataclass(frozen=True)
class Source:
    """An opened, published build. `key` identifies the build's storage; `build_id` keys the caches."""

    kind: str  # duckdb | postgres
    label: str  # password-free
    key: str
    build_id: str
    published_at: datetime | None
    tables: frozenset[str]
    path: str | None = None  # the build's own DuckDB file (the stable symlink resolved)
    url: str | None = field(default=None, repr=False)
    schema: str | None = None  # Postgres: the marts' schema

    def has(self, table: str) -> bool:
        return table in self.tables


@dataclass(frozen=True)
class EmptyWarehouse:
    """Nothing to show yet; `reason` says why, `commands` how to fill the warehouse."""

    reason: str
    commands: tuple[str, ...]


def fill_commands() -> tuple[str, ...]:
    today = datetime.now().date()
    return (
        "make demo",
        f"emd pipeline --start {(today - timedelta(days=29)).isoformat()} --end {today.isoformat()}",
    )


_connections: dict[str, Any] = {}
_connections_lock = threading.Lock()
_KEEP_CONNECTIONS = 2


def _duckdb_connection(path: str) -> Any:
    """One read-only connection per build file (a build file never changes); queries use cursors."""
    import duckdb

    with _connections_lock:
        conn = _connections.get(path)
        if conn is None:
            conn = duckdb.connect(path, read_only=True)
            _connections[path] = conn
            # Builds are replaced, not edited: close connections to builds two publications old.
            for old in list(_connections)[:-_KEEP_CONNECTIONS]:
                _connections.pop(old).close()
        return conn


def open_source(target: DatabaseTarget | None = None) -> Source | EmptyWarehouse:
    """The published build to read, or why there is none. `target` defaults to DATABASE_URL."""
    try:
        target = dashboard_target(target)
    except SettingsError as exc:
        return EmptyWarehouse(str(exc), ())
    if target.kind == "duckdb":
        return _open_duckdb(target)
    return _open_postgres(target)


def _open_duckdb(target: DatabaseTarget) -> Source | EmptyWarehouse:
    stable = target.duckdb_path
    assert stable is not None
    if not stable.exists():
        live = stable.with_name(stable.name.replace(".published.duckdb", ".duckdb"))
        reason = f"No published build of the warehouse at {stable} yet."
        commands = fill_commands()
        if live.exists():
            reason += (f" The warehouse {live} exists but has not been published for the dashboard: "
                       "publish it with the pipeline, or by hand.")
            commands = (*commands, "python -m emd.snapshot")
        return EmptyWarehouse(reason, commands)
    for attempt in range(3):
        # The link is re-resolved on a retry: a build can be pruned between resolving and opening it
        # when several are published in quick succession.
        real = os.path.realpath(stable)
        try:
            tables, build = _read_build(real)
            break
        except Exception as exc:  # a corrupt or foreign file: say which one
            if attempt == 2:
                return EmptyWarehouse(f"The published build {stable} cannot be read: {exc}", fill_commands())
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        return EmptyWarehouse(
            f"The published build {stable} has no {', '.join(missing)} table: the marts have not been built.",
            fill_commands(),
        )
    build_id = str(build[0]) if build else Path(real).stem
    return Source(kind="duckdb", label=f"duckdb:{stable}", key=real, build_id=build_id,
                  published_at=build[1] if build else None, tables=tables, path=real)


def _read_build(path: str) -> tuple[frozenset[str], tuple | None]:
    cur = _duckdb_connection(path).cursor()
    try:
        tables = frozenset(r[0] for r in cur.execute(
            "select table_name from information_schema.tables where table_catalog = current_database()"
        ).fetchall())
        build = None
        if BUILD_TABLE in tables:
            build = cur.execute(f"select build_id, published_at from {BUILD_TABLE}").fetchone()  # noqa: S608
        return tables, build
    finally:
        cur.close()


def _postgres_connect(url: str, schema: str | None) -> Any:
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    # A read-only session: every statement runs in a read-only transaction (psycopg's `read_only`
    # attribute does nothing in autocommit mode).
    conn.execute("set default_transaction_read_only = on")
    if schema:
        conn.execute("select set_config('search_path', %s, false)", [f'"{schema}", public'])
    return conn


def _open_postgres(target: DatabaseTarget) -> Source | EmptyWarehouse:
    url = target.postgres_url or ""
    label = target.describe()
    try:
        conn = _postgres_connect(url, None)
    except Exception as exc:
        return EmptyWarehouse(f"Cannot connect to the Postgres warehouse {label} (DATABASE_URL): "
                              f"{type(exc).__name__}", fill_commands())
    try:
        # The schema DATABASE_URL's search_path names (where dbt builds) first, when several hold the marts.
        rows = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('information_schema', 'pg_catalog') "
            "order by table_schema = current_schema() desc, table_schema"
        ).fetchall()
        schema = next((s for s, t in rows if t == "fct_pull_requests"), None)
        tables = frozenset(t for s, t in rows if s == schema)
        build = None
        if schema and BUILD_TABLE in tables:
            build = conn.execute(
                f'select build_id, published_at from "{schema}".{BUILD_TABLE}'  # noqa: S608
            ).fetchone()
    finally:
        conn.close()
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if schema is None or missing:
        return EmptyWarehouse(f"The warehouse {label} has no {', '.join(missing)} table: "
                              "the marts have not been built.", fill_commands())
    # Without a published build id the caches expire by ttl only.
    build_id = str(build[0]) if build else "live"
    return Source(kind="postgres", label=label, key=label, build_id=build_id,
                  published_at=build[1] if build else None, tables=tables, url=url, schema=schema)


# ---------------------------------------------------------------------------------------------
# Running SQL


def _to_python(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def execute(source: Source, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run one query (written with `?` placeholders) with bound parameters; no cache."""
    if source.kind == "duckdb":
        assert source.path is not None
        cur = _duckdb_connection(source.path).cursor()
        try:
            # DuckDB's own conversion gives typed columns (DECIMAL and HUGEINT sums become float64).
            return cur.execute(sql, list(params)).df()
        finally:
            cur.close()
    conn = _postgres_connect(source.url or "", source.schema)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), list(params))
            columns = [d.name for d in cur.description or []]
            rows = [[_to_python(v) for v in row] for row in cur.fetchall()]
        return pd.DataFrame(rows, columns=columns)
    finally:
        conn.close()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=5000)
def _cached_frame(_source: Source, source_key: str, build_id: str, sql: str, params: tuple) -> pd.DataFrame:
    return execute(_source, sql, params)


def frame(source: Source, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Cached `execute`: the key is the build (storage + build id), the SQL text and the parameters."""
    return _cached_frame(source, source.key, source.build_id, sql, tuple(params))


# ---------------------------------------------------------------------------------------------
# Filters -> SQL


@dataclass(frozen=True)
class Scope:
    """Which rows a view covers. None means "no restriction"."""

    teams: tuple[str, ...] | None = None
    repos: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_ts(self) -> datetime:
        return datetime.combine(self.start, time(0))

    @property
    def end_ts(self) -> datetime:
        """Exclusive."""
        return datetime.combine(self.end + timedelta(days=1), time(0))

    def previous(self) -> Window:
        """The period of equal length just before."""
        return Window(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


def _in(column: str, values: tuple[str, ...]) -> tuple[str, list[Any]]:
    if not values:
        return "1 = 0", []
    return f"{column} in ({', '.join('?' * len(values))})", list(values)


def github_filter(scope: Scope) -> tuple[str, list[Any]]:
    """Conditions on team and repo for fct_pull_requests / fct_deployments."""
    parts, params = [], []
    for column, values in (("team", scope.teams), ("repo", scope.repos)):
        if values is not None:
            sql, p = _in(column, values)
            parts.append(sql)
            params += p
    return ("".join(f" and {p}" for p in parts), params)


def jira_filter(scope: Scope) -> tuple[str, list[Any]]:
    """Conditions on team for the Jira marts (a repo does not narrow Jira data)."""
    if scope.teams is None:
        return "", []
    sql, params = _in("team", scope.teams)
    return f" and {sql}", params


def percentile(source: Source, expr: str, fraction: float) -> str:
    """Continuous percentile of `expr` (a column name from this module), per docs/metrics.md."""
    if source.kind == "duckdb":
        return f"quantile_cont({expr}, {fraction})"
    return f"percentile_cont({fraction}) within group (order by {expr})"


def hours_between(start: str, end: str) -> str:
    return f"(extract(epoch from ({end} - {start})) / 3600.0)"


def bucket(column: str, grain: str) -> str:
    return f"cast(date_trunc('{GRAINS[grain]}', {column}) as date)"


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


# ---------------------------------------------------------------------------------------------
# Filter options


@dataclass(frozen=True)
class Dimensions:
    orgs: tuple[str, ...]
    org_of_team: dict[str, str]
    teams: tuple[str, ...]
    repos_by_team: dict[str, tuple[str, ...]]
    latest_day: date | None
    first_day: date | None = None  # the first ingested day, when the daily marts say so

    def repos(self, teams: Sequence[str] | None = None) -> tuple[str, ...]:
        chosen = self.teams if teams is None else teams
        return tuple(sorted({r for t in chosen for r in self.repos_by_team.get(t, ())}))


def dimensions(source: Source) -> Dimensions:
    parts = ["select team, repo from fct_pull_requests", "select team, repo from fct_deployments"]
    if source.has("fct_jira_issues"):
        parts.append("select team, null as repo from fct_jira_issues")
    if source.has("mv_planning_by_sprint"):
        parts.append("select team, null as repo from mv_planning_by_sprint")
    if source.has("metrics_daily"):
        # metrics_daily also has team rows (repo '*') and an org row (team '*'): not filter options.
        parts.append("select team, case when repo <> '*' then repo end as repo from metrics_daily "
                     "where team <> '*'")
    pairs = frame(source, "select distinct team, repo from (" + " union all ".join(parts) + ") as t")  # noqa: S608 - values bound; SQL text from this module
    repos_by_team: dict[str, set[str]] = {}
    for team, repo in pairs.itertuples(index=False):
        if team is None or (isinstance(team, float) and math.isnan(team)):
            continue
        repos_by_team.setdefault(str(team), set())
        if isinstance(repo, str):
            repos_by_team[str(team)].add(repo)
    org_of_team: dict[str, str] = {}
    orgs: tuple[str, ...] = ()
    if source.has("metrics_daily"):
        mapping = frame(source, "select distinct org, team from metrics_daily "
                                "where org is not null and team <> '*'")
        org_of_team = {str(t): str(o) for o, t in mapping.itertuples(index=False) if t is not None}
        orgs = tuple(sorted(set(org_of_team.values())))
    latest = frame(source, "select max(cast(deployed_at as date)) as d from fct_deployments "
                           "union all select max(cast(merged_at as date)) from fct_pull_requests "
                           "union all select max(cast(created_at as date)) from fct_pull_requests")
    # The daily marts are dense over the ingested range (every day from the first to the last
    # partition), so they say which days have data at all, including days without activity.
    dense = [t for t in DENSE_DAILY_TABLES if source.has(t)]
    first_day = last_day = None
    if dense:
        bounds = frame(source, " union all ".join(
            f'select min("date") as first_day, max("date") as last_day from {t}' for t in dense))  # noqa: S608 - table names from DENSE_DAILY_TABLES
        firsts = _dates(bounds["first_day"].tolist())
        lasts = _dates(bounds["last_day"].tolist())
        first_day = min(firsts) if firsts else None
        last_day = max(lasts) if lasts else None
    ends = _dates(latest["d"].tolist()) + ([last_day] if last_day else [])
    return Dimensions(orgs=orgs, org_of_team=org_of_team, teams=tuple(sorted(repos_by_team)),
                      repos_by_team={t: tuple(sorted(r)) for t, r in repos_by_team.items()},
                      latest_day=max(ends) if ends else None, first_day=first_day)


def _dates(values: list[Any]) -> list[date]:
    return [pd.Timestamp(v).date() for v in values
            if v is not None and not (isinstance(v, float) and math.isnan(v)) and not pd.isna(v)]


# ---------------------------------------------------------------------------------------------
# Overview tiles


@dataclass(frozen=True)
class Stat:
    value: float | None
    sample: int


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    unit: str  # h | % | /day | days | issues
    lower_is_better: bool
    current: Stat
    previous: Stat
    sample_noun: str
    note: str = ""
    previous_ingested: bool = True  # False: the previous period lies before the first ingested day
    previous_note: str = ""  # said only when the previous period was ingested
    badge: str = ""  # shown beside the value (the DORA tier)


def _two_periods(source: Source, sql: str, params: list[Any]) -> dict[str, dict[str, Any]]:
    """Run a query that returns a `period` column ('current' | 'previous'); rows keyed by period."""
    result = frame(source, sql, params)
    return {row["period"]: row for row in result.to_dict("records")}


def _period_case(column: str) -> str:
    return f"case when {column} >= ? then 'current' else 'previous' end as period"


def _stat(rows: dict[str, dict[str, Any]], period: str, value: str, sample: str) -> Stat:
    row = rows.get(period)
    if not row:
        return Stat(None, 0)
    return Stat(_num(row.get(value)), int(row.get(sample) or 0))


def deployment_tiles(source: Source, scope: Scope, window: Window) -> list[Tile]:
    prev = window.previous()
    where, params = github_filter(scope)
    rows = _two_periods(source, f"""
        select {_period_case('deployed_at')},
               count(*) as deployments,
               sum(case when is_failure then 1 else 0 end) as failed,
               sum(case when is_rework then 1 else 0 end) as rework,
               count(recovered_at) filter (where is_failure) as recovered,
               {percentile(source, hours_between('deployed_at', 'recovered_at'), 0.5)}
                   filter (where is_failure and recovered_at is not null) as recovery_p50
        from fct_deployments
        where deployed_at >= ? and deployed_at < ?{where}
        group by 1""", [window.start_ts, prev.start_ts, window.end_ts, *params])  # noqa: S608 - values bound; SQL text from this module

    def rate(period: str, column: str) -> Stat:
        row = rows.get(period) or {}
        n = int(row.get("deployments") or 0)
        return Stat(None if n == 0 else float(row.get(column) or 0) / n * 100, n)

    def frequency(period: str, period_window: Window) -> Stat:
        n = int((rows.get(period) or {}).get("deployments") or 0)
        return Stat(n / period_window.days, n)

    tiers = {w: deployment_tier(deployment_days(source, scope, w), w) for w in (window, prev)}
    tiles = [
        Tile("deployment_frequency", "Deployment frequency", "/day", False,
             frequency("current", window), frequency("previous", prev), "deployments",
             note=f"{(frequency('current', window).value or 0) * 7:.1f} per week · "
                  f"DORA tier {tiers[window].capitalize()}",
             badge=tiers[window].capitalize(),
             previous_note=f"previous tier {tiers[prev].capitalize()}"),
        Tile("change_failure_rate", "Change failure rate", "%", True,
             rate("current", "failed"), rate("previous", "failed"), "deployments"),
        Tile("recovery_time_p50", "Failed deployment recovery time p50", "h", True,
             _stat(rows, "current", "recovery_p50", "recovered"),
             _stat(rows, "previous", "recovery_p50", "recovered"), "recovered failed deployments",
             note=_unrecovered_note(rows)),
        Tile("deployment_rework_rate", "Deployment rework rate", "%", True,
             rate("current", "rework"), rate("previous", "rework"), "deployments"),
    ]
    return tiles


def _unrecovered_note(rows: dict[str, dict[str, Any]]) -> str:
    row = rows.get("current") or {}
    unrecovered = int(row.get("failed") or 0) - int(row.get("recovered") or 0)
    return f"{unrecovered} failed deployment(s) not recovered yet" if unrecovered else ""


def deployment_days(source: Source, scope: Scope, window: Window) -> dict[date, int]:
    """Deployments per UTC day in the window (days without deployments are absent)."""
    where, params = github_filter(scope)
    result = frame(source, f"""
        select cast(deployed_at as date) as day, count(*) as deployments
        from fct_deployments where deployed_at >= ? and deployed_at < ?{where}
        group by 1 order by 1""", [window.start_ts, window.end_ts, *params])  # noqa: S608 - values bound; SQL text from this module
    return {pd.Timestamp(d).date(): int(n) for d, n in result.itertuples(index=False)}


def deployment_tier(days_with_deployments: dict[date, int], window: Window) -> str:
    """docs/metrics.md tier from the median number of deployment days per week.

    Weeks are the 7-day blocks counted back from the window's last day; leading days that do not
    fill a block are left out (a window shorter than a week is one block, scaled to 7 days).
    elite: median >= 3; high: median >= 1; medium: at least one deployment per 30 days; else low.
    """
    total = sum(days_with_deployments.values())
    blocks = max(1, window.days // 7)
    per_block: list[float] = []
    for i in range(blocks):
        block_end = window.end - timedelta(days=7 * i)
        block_days = [block_end - timedelta(days=k) for k in range(min(7, window.days))]
        per_block.append(sum(1 for d in block_days if days_with_deployments.get(d)))
    if window.days < 7:
        per_block = [n * 7 / window.days for n in per_block]
    median_days = statistics.median(per_block)
    if median_days >= 3:
        return "elite"
    if median_days >= 1:
        return "high"
    if total / window.days * 30 >= 1:
        return "medium"
    return "low"


def pull_request_tiles(source: Source, scope: Scope, window: Window) -> list[Tile]:
    prev = window.previous()
    where, params = github_filter(scope)
    bounds = [window.start_ts, prev.start_ts, window.end_ts]
    lead = _two_periods(source, f"""
        select {_period_case('deployed_at')}, count(*) as n,
               {percentile(source, 'lead_time_hours', 0.5)} as p50,
               {percentile(source, 'lead_time_hours', 0.9)} as p90
        from fct_pull_requests
        where deployed_at >= ? and deployed_at < ? and lead_time_hours >= 0{where}
        group by 1""", [*bounds, *params])  # noqa: S608 - values bound; SQL text from this module
    cycle = _two_periods(source, f"""
        select {_period_case('merged_at')}, count(*) as n,
               {percentile(source, 'cycle_time_hours', 0.5)} as p50,
               {percentile(source, 'cycle_time_hours', 0.9)} as p90
        from fct_pull_requests
        where merged_at >= ? and merged_at < ? and cycle_time_hours is not null{HUMAN}{where}
        group by 1""", [*bounds, *params])  # noqa: S608 - values bound; SQL text from this module
    # Like mv_flow_by_repo_day: time to first review over the PRs merged in the window.
    review = _two_periods(source, f"""
        select {_period_case('merged_at')}, count(*) as n,
               {percentile(source, 'time_to_first_review_hours', 0.5)} as p50
        from fct_pull_requests
        where merged_at >= ? and merged_at < ? and time_to_first_review_hours is not null{HUMAN}{where}
        group by 1""", [*bounds, *params])  # noqa: S608 - values bound; SQL text from this module
    reopened = _two_periods(source, f"""
        select {_period_case('coalesce(merged_at, closed_at)')}, count(*) as n,
               100.0 * sum(case when reopened_count > 0 then 1 else 0 end) / count(*) as rate
        from fct_pull_requests
        where coalesce(merged_at, closed_at) >= ? and coalesce(merged_at, closed_at) < ?{HUMAN}{where}
        group by 1""", [*bounds, *params])  # noqa: S608 - values bound; SQL text from this module
    return [
        Tile("lead_time_p50", "Lead time p50", "h", True, _stat(lead, "current", "p50", "n"),
             _stat(lead, "previous", "p50", "n"), "deployed PRs"),
        Tile("lead_time_p90", "Lead time p90", "h", True, _stat(lead, "current", "p90", "n"),
             _stat(lead, "previous", "p90", "n"), "deployed PRs"),
        Tile("cycle_time_p50", "PR cycle time p50", "h", True, _stat(cycle, "current", "p50", "n"),
             _stat(cycle, "previous", "p50", "n"), "merged PRs"),
        Tile("cycle_time_p90", "PR cycle time p90", "h", True, _stat(cycle, "current", "p90", "n"),
             _stat(cycle, "previous", "p90", "n"), "merged PRs"),
        Tile("time_to_first_review_p50", "Time to first review p50", "h", True,
             _stat(review, "current", "p50", "n"), _stat(review, "previous", "p50", "n"), "reviewed merged PRs"),
        Tile("reopened_rate", "PR rework rate", "%", True,
             _stat(reopened, "current", "rate", "n"), _stat(reopened, "previous", "rate", "n"),
             "closed or merged PRs", note="share reopened at least once"),
    ]


PLANNING_UNITS = {"points": "points", "issues": "issues"}


def _planning_sums(unit: str) -> str:
    u = PLANNING_UNITS[unit]
    return ", ".join(f"sum({name}_{u}) as {name}" for name in (
        "committed", "added", "removed", "completed", "completed_committed", "carryover"))


def _pct(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None  # a rate over an empty denominator is NULL, not 0
    return numerator / denominator * 100


def planning_ratios(row: dict[str, Any] | None) -> dict[str, float | None]:
    """docs/metrics.md's three planning ratios, pooled over the sprints whose sums `row` holds."""
    row = row or {}
    committed = _num(row.get("committed")) or 0.0
    completed = _num(row.get("completed")) or 0.0
    carryover = _num(row.get("carryover")) or 0.0
    return {
        "planned_vs_done_pct": _pct(_num(row.get("completed_committed")) or 0.0, committed),
        "scope_change_pct": _pct((_num(row.get("added")) or 0.0) + (_num(row.get("removed")) or 0.0), committed),
        "carryover_pct": _pct(carryover, completed + carryover),
    }


def planning_tiles(source: Source, scope: Scope, window: Window, unit: str) -> list[Tile]:
    tiles: list[Tile] = []
    if source.has("mv_planning_by_sprint"):
        prev = window.previous()
        where, params = jira_filter(scope)
        rows = _two_periods(source, f"""
            select {_period_case('completed_at')}, count(*) as sprints, {_planning_sums(unit)}
            from mv_planning_by_sprint
            where completed_at >= ? and completed_at < ? and history_complete{where}
            group by 1""", [window.start_ts, prev.start_ts, window.end_ts, *params])  # noqa: S608 - values bound; SQL text from this module
        ratios = {p: planning_ratios(rows.get(p)) for p in ("current", "previous")}
        counts = {p: int((rows.get(p) or {}).get("sprints") or 0) for p in ("current", "previous")}
        for key, label, lower in (("planned_vs_done_pct", "Planned vs done", False),
                                  ("scope_change_pct", "Scope change", True),
                                  ("carryover_pct", "Carryover", True)):
            tiles.append(Tile(key, label, "%", lower,
                              Stat(ratios["current"][key], counts["current"]),
                              Stat(ratios["previous"][key], counts["previous"]),
                              "completed sprints", note=f"by {unit}"))
    if source.has("mv_planning_by_team_day"):
        current = blocked_at_end(source, scope, window)
        previous = blocked_at_end(source, scope, window.previous())
        tiles.append(Tile("blocked_issues", "Blocked issues", "issues", True,
                          Stat(current["blocked"], int(current["blocked"] or 0)),
                          Stat(previous["blocked"], int(previous["blocked"] or 0)),
                          "blocked issues", note="at the end of the range's last day"))
        tiles.append(Tile("blocked_age_p50", "Blocked age p50", "days", True,
                          Stat(current["age_p50"], int(current["blocked"] or 0)),
                          Stat(previous["age_p50"], int(previous["blocked"] or 0)),
                          "blocked issues", note=current["age_note"]))
    return tiles


def blocked_at_end(source: Source, scope: Scope, window: Window) -> dict[str, Any]:
    """Blocked issues at the end of the window's last day, with their age p50 and max.

    One team: its mv_planning_by_team_day row. Every team: metrics_daily's org row (team and repo
    '*'), whose p50 is computed by dbt over all blocked issues (team p50s cannot be combined).
    Several teams (an org among several): the counts add up, the p50 is not shown.
    """
    if scope.teams is None and source.has("metrics_daily"):
        result = frame(source, """
            select planning_blocked_issues as blocked_issues, planning_blocked_age_p50_days as age_p50,
                   planning_blocked_age_max_days as age_max
            from metrics_daily where team = '*' and repo = '*' and "date" = ?""", [window.end])
    else:
        where, params = jira_filter(scope)
        result = frame(source, f"""
            select blocked_issues, blocked_age_p50_days as age_p50, blocked_age_max_days as age_max
            from mv_planning_by_team_day where "date" = ?{where}""", [window.end, *params])  # noqa: S608 - values bound; SQL text from this module
    if result.empty:
        return {"blocked": None, "age_p50": None, "age_note": ""}
    blocked = float(result["blocked_issues"].fillna(0).sum())
    maxima = [a for a in (_num(v) for v in result["age_max"].tolist()) if a is not None]
    p50 = _num(result["age_p50"].iloc[0]) if len(result) == 1 else None
    note = f"oldest {max(maxima):.1f} days" if maxima else ""
    return {"blocked": blocked, "age_p50": p50, "age_note": note}


def overview_tiles(source: Source, scope: Scope, window: Window, unit: str,
                   first_day: date | None = None) -> dict[str, list[Tile]]:
    """The tiles by group. Without data for the whole previous period there is no comparison: a
    period before the first ingested day is unknown, not zero."""
    groups = _overview_tiles(source, scope, window, unit)
    if first_day is not None and window.previous().start < first_day:
        groups = {name: [replace(t, previous=Stat(None, 0), previous_ingested=False) for t in tiles]
                  for name, tiles in groups.items()}
    return groups


def _overview_tiles(source: Source, scope: Scope, window: Window, unit: str) -> dict[str, list[Tile]]:
    pr_tiles = pull_request_tiles(source, scope, window)
    by_key = {t.key: t for t in pr_tiles}
    delivery = deployment_tiles(source, scope, window)
    delivery = delivery[:1] + [by_key["lead_time_p50"], by_key["lead_time_p90"]] + delivery[1:]
    flow = [by_key[k] for k in ("cycle_time_p50", "cycle_time_p90", "time_to_first_review_p50", "reopened_rate")]
    return {"Delivery (DORA)": delivery, "Flow": flow, "Planning": planning_tiles(source, scope, window, unit)}


# ---------------------------------------------------------------------------------------------
# Delivery page


def deployments_over_time(source: Source, scope: Scope, window: Window, grain: str) -> pd.DataFrame:
    where, params = github_filter(scope)
    return frame(source, f"""
        select {bucket('deployed_at', grain)} as period, count(*) as deployments,
               sum(case when is_failure then 1 else 0 end) as failed_deployments,
               count(recovered_at) filter (where is_failure) as recovered_deployments,
               {percentile(source, hours_between('deployed_at', 'recovered_at'), 0.5)}
                   filter (where is_failure and recovered_at is not null) as recovery_p50_hours
        from fct_deployments where deployed_at >= ? and deployed_at < ?{where}
        group by 1 order by 1""", [window.start_ts, window.end_ts, *params])  # noqa: S608 - values bound; SQL text from this module


def lead_time_over_time(source: Source, scope: Scope, window: Window, grain: str) -> pd.DataFrame:
    where, params = github_filter(scope)
    return frame(source, f"""
        select {bucket('deployed_at', grain)} as period, count(*) as deployed_prs,
               {percentile(source, 'lead_time_hours', 0.5)} as p50_hours,
               {percentile(source, 'lead_time_hours', 0.9)} as p90_hours
        from fct_pull_requests
        where deployed_at >= ? and deployed_at < ? and lead_time_hours >= 0{where}
        group by 1 order by 1""", [window.start_ts, window.end_ts, *params])  # noqa: S608 - values bound; SQL text from this module


def failed_deployments(source: Source, scope: Scope, window: Window) -> pd.DataFrame:
    where, params = github_filter(scope)
    return frame(source, f"""
        select deployed_at, repo, team, source, is_rework, recovered_at,
               {hours_between('deployed_at', 'recovered_at')} as recovery_hours
        from fct_deployments
        where is_failure and deployed_at >= ? and deployed_at < ?{where}
        order by deployed_at desc""", [window.start_ts, window.end_ts, *params])  # noqa: S608 - values bound; SQL text from this module


# ---------------------------------------------------------------------------------------------
# Flow page


def cycle_time_over_time(source: Source, scope: Scope, window: Window, grain: str) -> pd.DataFrame:
    where, params = github_filter(scope)
    return frame(source, f"""
        select {bucket('merged_at', grain)} as period, count(*) as merged_prs,
               {percentile(source, 'cycle_time_hours', 0.5)} as p50_hours,
               {percentile(source, 'cycle_time_hours', 0.9)} as p90_hours,
               {percentile(source, 'coding_hours', 0.5)} as coding_p50_hours,
               {percentile(source, 'time_to_first_review_hours', 0.5)} as pickup_p50_hours,
               {percentile(source, 'review_hours', 0.5)} as review_p50_hours,
               avg(review_depth) as review_depth_avg,
               avg(reviewers) as reviewers_avg,
               {percentile(source, 'additions + deletions', 0.5)} as size_p50_lines,
               {percentile(source, 'additions + deletions', 0.9)} as size_p90_lines
        from fct_pull_requests
        where merged_at >= ? and merged_at < ? and cycle_time_hours is not null{HUMAN}{where}
        group by 1 order by 1""", [window.start_ts, window.end_ts, *params])  # noqa: S608 - values bound; SQL text from this module


def flow_by_pr_type(source: Source, scope: Scope, window: Window) -> pd.DataFrame:
    where, params = github_filter(scope)
    return frame(source, f"""
        select pr_type, count(*) as merged_prs,
               {percentile(source, 'cycle_time_hours', 0.5)} as cycle_time_p50_hours,
               {percentile(source, 'cycle_time_hours', 0.9)} as cycle_time_p90_hours,
               {percentile(source, 'additions + deletions', 0.5)} as size_p50_lines,
               avg(review_depth) as review_depth_avg
        from fct_pull_requests
        where merged_at >= ? and merged_at < ? and cycle_time_hours is not null{HUMAN}{where}
        group by 1 order by 2 desc, 1""", [window.start_ts, window.end_ts, *params])  # noqa: S608 - values bound; SQL text from this module


def pull_requests(source: Source, scope: Scope, window: Window, limit: int = 500) -> pd.DataFrame:
    where, params = github_filter(scope)
    return frame(source, f"""
        select repo, number, title, author, team, pr_type, state, created_at, merged_at,
               cycle_time_hours, time_to_first_review_hours, review_depth, additions + deletions as size_lines
        from fct_pull_requests
        where ((merged_at >= ? and merged_at < ?) or (created_at >= ? and created_at < ?)){where}
        order by coalesce(merged_at, created_at) desc, repo, number
        limit ?""", [window.start_ts, window.end_ts, window.start_ts, window.end_ts, *params, limit])  # noqa: S608 - values bound; SQL text from this module


# ---------------------------------------------------------------------------------------------
# Planning page


def sprints(source: Source, scope: Scope, window: Window, unit: str) -> pd.DataFrame:
    """Sprints that started or were completed in the window (active ones included), oldest first; sprints that
    started before the first ingested day are left out (their Jira history may be incomplete)."""
    u = PLANNING_UNITS[unit]
    where, params = jira_filter(scope)
    return frame(source, f"""
        select sprint_id, sprint_name, team, state, start_at, end_at, completed_at,
               committed_{u} as committed, added_{u} as added, removed_{u} as removed,
               completed_{u} as completed, completed_committed_{u} as completed_committed,
               carryover_{u} as carryover
        from mv_planning_by_sprint
        where ((completed_at >= ? and completed_at < ?) or (start_at >= ? and start_at < ?))
          and history_complete{where}
        order by coalesce(completed_at, end_at, start_at), team, sprint_id""",  # noqa: S608 - values bound; SQL text from this module
                 [window.start_ts, window.end_ts, window.start_ts, window.end_ts, *params])


def teams_with_sprints(source: Source) -> set[str]:
    if not source.has("mv_planning_by_sprint"):
        return set()
    return {str(t) for t in frame(source, "select distinct team from mv_planning_by_sprint")["team"].tolist()}


def blocked_over_time(source: Source, scope: Scope, window: Window) -> pd.DataFrame:
    where, params = jira_filter(scope)
    return frame(source, f"""
        select "date" as day, team, blocked_issues, blocked_age_max_days
        from mv_planning_by_team_day where "date" >= ? and "date" <= ?{where}
        order by 1, 2""", [window.start, window.end, *params])  # noqa: S608 - values bound; SQL text from this module


def data_as_of(source: Source, last_day: date | None) -> datetime:
    """When the build's "current" state was true: its publication, but never after the end of the
    last ingested day (a backfill of old days says nothing about what happened since)."""
    as_of = source.published_at or datetime.now()
    if last_day is not None:
        as_of = min(as_of, datetime.combine(last_day + timedelta(days=1), time(0)))
    return as_of


def include_subtasks() -> bool:
    """The project config's `jira.include_subtasks` (EMD_CONFIG), as the planning marts apply it;
    false when the dashboard has no readable config."""
    from emd.config import load_config
    from emd.settings import config_path

    try:
        return load_config(config_path()).include_subtasks
    except Exception:
        return False


def blocked_issues_now(source: Source, scope: Scope, as_of: datetime, with_subtasks: bool = False) -> pd.DataFrame:
    """Issues blocked in the build, with their age at `as_of` (see data_as_of). Sub-tasks are left out
    unless asked for, like mv_planning_by_team_day's counts."""
    where, params = jira_filter(scope)
    if not with_subtasks:
        where = " and not coalesce(is_subtask, false)" + where
    result = frame(source, f"""
        select issue_key, team, issue_type, summary, status_name, story_points, blocked_since,
               {hours_between('blocked_since', 'cast(? as timestamp)')} / 24.0 as blocked_days
        from fct_jira_issues where is_blocked{where}
        order by blocked_since, issue_key""", [as_of, *params])  # noqa: S608 - values bound; SQL text from this module
    return result


# ---------------------------------------------------------------------------------------------
# Sprint Health page


def latest_cards(source: Source, scope: Scope) -> dict[str, dict[str, Any]]:
    """The card of each team's most recent period (ties: the newest written)."""
    if not source.has("sprint_health"):
        return {}
    where, params = jira_filter(scope)
    result = frame(source, f"""
        select team, period_kind, period_id, period_name, period_start, period_end, metrics_json,
               prompt_version, model, source, card_json, card_text, tokens_used, slack_channel,
               slack_ts, generated_at, posted_at
        from sprint_health where 1 = 1{where}
        order by team, period_end desc nulls last, generated_at desc""", params)  # noqa: S608 - values bound; SQL text from this module
    cards: dict[str, dict[str, Any]] = {}
    for row in result.to_dict("records"):
        # Missing values come back as NaN/NaT from the data frame: make them None.
        cards.setdefault(row["team"], {k: (None if _missing(v) else v) for k, v in row.items()})
    return cards


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other containers
        return False


def parse_json(text: Any) -> Any:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
