"""Window aggregates: every tile, series point, sprint row and blocked issue a surface shows.

Each metric's value over a window is computed here, once, from the fact rows of that window
(never by averaging daily values): percentiles are continuous (`percentile`, source.py), a rate is
NULL (None) when its denominator is 0. Which rows count is decided by columns of the dbt facts
(`is_bot_author`, `lead_time_hours` NULL when negative, `history_complete`, `counts_for_planning`,
`planning_basis`); the layer only filters on them.

The metric → SQL map is `METRIC_SQL` (keys = catalogue keys); a domain is one fact table with its
time column, its row rule and the aggregates its metrics need, so the tiles of a window, the
previous period and a series are the same SQL grouped differently.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from emd.metrics.catalogue import CATALOGUE, LOW_SAMPLE, dora_band, metric
from emd.metrics.filters import Filters, dimensions, github_where, jira_where, teams_in_scope
from emd.metrics.source import Source, as_date, bucket, hours_between, number, percentile, rows

PLANNING_BASES = ("points", "issues")
PLANNING_SUMS = ("committed", "added", "removed", "completed", "completed_committed", "carryover")


@dataclass(frozen=True)
class TileValue:
    key: str
    label: str
    value: float | None
    unit: str
    sample_size: int
    low_sample: bool
    previous: float | None  # None when the previous equal period was not ingested (or had no value)
    change: float | None  # value − previous, when both exist
    previous_ingested: bool
    previous_sample_size: int | None = None
    band: str | None = None  # DORA performance band (catalogue.DORA_BANDS) of a DORA key
    previous_band: str | None = None
    note: str = ""  # e.g. "2 failed deployment(s) not recovered yet", "oldest 5.5 days"
    basis: str | None = None  # planning tiles: "points" | "issues"


@dataclass(frozen=True)
class Point:
    bucket: date  # the UTC day, or the ISO week's Monday
    value: float | None
    sample_size: int


# ---------------------------------------------------------------------------------------------
# Domains: a fact table, its time column, its row rule (columns only) and its aggregates


@dataclass(frozen=True)
class Domain:
    name: str
    table: str
    time: str
    rule: str  # which rows count, as conditions on the fact's columns
    scope: str  # github | jira
    aggregates: Callable[[Source], dict[str, str]]


def _deployment_aggregates(source: Source) -> dict[str, str]:
    recovery = hours_between("deployed_at", "recovered_at")
    return {
        "deployments": "count(*)",
        "failed": "sum(case when is_failure then 1 else 0 end)",
        "rework": "sum(case when is_rework then 1 else 0 end)",
        "recovered": "count(*) filter (where is_failure and recovered_at is not null)",
        "recovery_p50": f"{percentile(source, recovery, 0.5)} filter (where is_failure and recovered_at is not null)",
    }


def _p50_p90(column: str) -> Callable[[Source], dict[str, str]]:
    def aggregates(source: Source) -> dict[str, str]:
        return {"n": "count(*)", "p50": percentile(source, column, 0.5), "p90": percentile(source, column, 0.9)}
    return aggregates


def _sprint_aggregates(source: Source) -> dict[str, str]:
    sums = {f"{name}_{basis}": f"sum({name}_{basis})" for basis in PLANNING_BASES for name in PLANNING_SUMS}
    return {"sprints": "count(*)",
            "estimated_sprints": "sum(case when planning_basis = 'points' then 1 else 0 end)", **sums}


HUMAN = "not coalesce(is_bot_author, false)"  # flow measures people (docs/metrics.md)
HUMAN_OR_AGENT = f"({HUMAN} or coalesce(is_agent_author, false))"  # the AI measures count coding agents too
DOMAINS: dict[str, Domain] = {d.name: d for d in (
    Domain("deployments", "fct_deployments", "deployed_at", "deployed_at is not null", "github",
           _deployment_aggregates),
    # Delivery counts every deployed change (bots included); lead_time_hours is NULL when negative.
    Domain("deployed_prs", "fct_pull_requests", "deployed_at", "lead_time_hours is not null", "github",
           _p50_p90("lead_time_hours")),
    Domain("merged_prs", "fct_pull_requests", "merged_at", f"cycle_time_hours is not null and {HUMAN}", "github",
           _p50_p90("cycle_time_hours")),
    Domain("reviewed_prs", "fct_pull_requests", "merged_at",
           f"merged_at is not null and time_to_first_review_hours is not null and {HUMAN}", "github",
           _p50_p90("time_to_first_review_hours")),
    Domain("finished_prs", "fct_pull_requests", "coalesce(merged_at, closed_at)",
           f"coalesce(merged_at, closed_at) is not null and {HUMAN}", "github",
           lambda source: {"n": "count(*)", "reopened": "sum(case when reopened_count > 0 then 1 else 0 end)"}),
    # AI-assisted work (docs/metrics.md): coding agents' PRs count, other bots' do not.
    Domain("ai_merged_prs", "fct_pull_requests", "merged_at", f"merged_at is not null and {HUMAN_OR_AGENT}",
           "github", lambda source: {"n": "count(*)", "ai": "sum(case when ai_assisted then 1 else 0 end)"}),
    # A sprint counts in the window it was completed in; one that started before the first ingested
    # day may miss issues (history_complete false) and is left out.
    Domain("completed_sprints", "mv_planning_by_sprint", "completed_at", "history_complete", "jira",
           _sprint_aggregates),
)}


def _ratio(numerator: Any, denominator: Any) -> float | None:
    num, den = number(numerator), number(denominator)
    if not den:
        return None  # a rate over an empty denominator is NULL, not 0
    return (num or 0.0) / den


def _count(row: dict[str, Any], column: str) -> int:
    return int(number(row.get(column)) or 0)


def _pooled_basis(row: dict[str, Any]) -> str:
    """Pooled planning ratios use points when every pooled sprint is estimated, else issue counts
    (so one sprint's value is on that sprint's own `planning_basis`, as on the Sprint Health card)."""
    sprints = _count(row, "sprints")
    return "points" if sprints and _count(row, "estimated_sprints") == sprints else "issues"


def _planning(kind: str) -> Callable[[dict[str, Any], float, str | None], float | None]:
    def value(row: dict[str, Any], days: float, basis: str | None) -> float | None:
        b = basis or _pooled_basis(row)

        def s(name: str) -> float:
            return number(row.get(f"{name}_{b}")) or 0.0
        if kind == "planned_vs_done_pct":
            r = _ratio(s("completed_committed"), s("committed"))
        elif kind == "scope_change_pct":
            r = _ratio(s("added") + s("removed"), s("committed"))
        else:
            r = _ratio(s("carryover"), s("completed") + s("carryover"))
        return None if r is None else r * 100
    return value


@dataclass(frozen=True)
class MetricSql:
    domain: str
    value: Callable[[dict[str, Any], float, str | None], float | None]  # (aggregates, days, basis)
    sample: str  # the aggregate that is the sample size


METRIC_SQL: dict[str, MetricSql] = {
    "deployment_frequency_per_day": MetricSql(
        "deployments", lambda r, days, _: _count(r, "deployments") / days if days > 0 else None, "deployments"),
    "lead_time_p50_hours": MetricSql("deployed_prs", lambda r, *_: number(r.get("p50")), "n"),
    "lead_time_p90_hours": MetricSql("deployed_prs", lambda r, *_: number(r.get("p90")), "n"),
    "change_failure_rate": MetricSql(
        "deployments", lambda r, *_: _ratio(r.get("failed"), r.get("deployments")), "deployments"),
    "failed_deployment_recovery_p50_hours": MetricSql(
        "deployments", lambda r, *_: number(r.get("recovery_p50")), "recovered"),
    "deployment_rework_rate": MetricSql(
        "deployments", lambda r, *_: _ratio(r.get("rework"), r.get("deployments")), "deployments"),
    "cycle_time_p50_hours": MetricSql("merged_prs", lambda r, *_: number(r.get("p50")), "n"),
    "cycle_time_p90_hours": MetricSql("merged_prs", lambda r, *_: number(r.get("p90")), "n"),
    "time_to_first_review_p50_hours": MetricSql("reviewed_prs", lambda r, *_: number(r.get("p50")), "n"),
    "pr_rework_rate": MetricSql("finished_prs", lambda r, *_: _ratio(r.get("reopened"), r.get("n")), "n"),
    "ai_assisted_pr_share": MetricSql("ai_merged_prs", lambda r, *_: _ratio(r.get("ai"), r.get("n")), "n"),
    "planned_vs_done_pct": MetricSql("completed_sprints", _planning("planned_vs_done_pct"), "sprints"),
    "scope_change_pct": MetricSql("completed_sprints", _planning("scope_change_pct"), "sprints"),
    "carryover_pct": MetricSql("completed_sprints", _planning("carryover_pct"), "sprints"),
}
BLOCKED_KEYS = ("blocked_issues", "blocked_age_p50_days")


def _where(source: Source, domain: Domain, filters: Filters) -> tuple[str, list[Any]]:
    return github_where(source, filters) if domain.scope == "github" else jira_where(source, filters)


def aggregate(source: Source, domain_name: str, filters: Filters, group: str, group_params: list[Any],
              start: datetime, end: datetime, measures: dict[str, str] | None = None) -> dict[Any, dict[str, Any]]:
    """The domain's aggregates (or `measures`, SQL of the layer) over its rows with `start <= time < end`,
    grouped by the SQL expression `group` (from the layer); rows keyed by the group's value."""
    domain = DOMAINS[domain_name]
    if not source.has(domain.table):
        return {}
    where, params = _where(source, domain, filters)
    chosen = measures if measures is not None else domain.aggregates(source)
    columns = ", ".join(f"{sql} as {name}" for name, sql in chosen.items())
    sql = (f"select {group} as grp, {columns} from {domain.table} "  # noqa: S608 - SQL text from this module; values bound
           f"where {domain.time} >= ? and {domain.time} < ? and {domain.rule}{where} group by 1")
    return {r["grp"]: r for r in rows(source, sql, [*group_params, start, end, *params])}


def aggregate_periods(source: Source, domain_name: str, filters: Filters,
                      periods: dict[str, tuple[datetime, datetime]]) -> dict[str, dict[str, Any]]:
    """The domain's aggregates over each named period [start, end), in one statement (a `union all`
    of one select per period: bound values stay in the WHERE clauses, where DuckDB uses them best)."""
    domain = DOMAINS[domain_name]
    if not source.has(domain.table) or not periods:
        return {}
    where, params = _where(source, domain, filters)
    columns = ", ".join(f"{sql} as {name}" for name, sql in domain.aggregates(source).items())
    parts, values = [], []
    for i, (start, end) in enumerate(periods.values()):
        parts.append(f"select {i} as grp, {columns} from {domain.table} "  # noqa: S608 - SQL text from this module; values bound
                     f"where {domain.time} >= ? and {domain.time} < ? and {domain.rule}{where}")
        values += [start, end, *params]
    names = list(periods)
    return {names[int(r["grp"])]: r for r in rows(source, " union all ".join(parts), values)}


def window_aggregates(source: Source, domain_name: str, filters: Filters) -> dict[str, dict[str, Any]]:
    """The domain's aggregates of the window ('current') and of the previous equal period ('previous')."""
    prev = filters.previous()
    return aggregate_periods(source, domain_name, filters, {"current": (filters.start_ts, filters.end_ts),
                                                            "previous": (prev.start_ts, prev.end_ts)})


def period_values(source: Source, filters: Filters, start: datetime, end: datetime,
                  keys: tuple[str, ...] | None = None, basis: str | None = None) -> dict[str, tuple[float | None, int]]:
    """(value, sample size) of each metric over [start, end) (any instants, e.g. a sprint's bounds):
    what the Sprint Health blob asks for a sprint or an ISO week."""
    keys = keys or tuple(METRIC_SQL)
    days = (end - start).total_seconds() / 86400
    out: dict[str, tuple[float | None, int]] = {}
    cache: dict[str, dict[str, Any]] = {}
    for key in keys:
        spec = METRIC_SQL[key]
        if spec.domain not in cache:
            found = aggregate(source, spec.domain, filters, "'all'", [], start, end)
            cache[spec.domain] = found.get("all", {})
        row = cache[spec.domain]
        out[key] = (spec.value(row, days, basis), _count(row, spec.sample))
    return out


def previous_ingested(source: Source, filters: Filters) -> bool:
    """Whether the previous equal period lies in the ingested calendar (else it has no comparison:
    a day before the first ingested day is unknown, not a day without activity)."""
    prev = filters.previous()
    return dimensions(source).ingested(prev.start, prev.end)


# ---------------------------------------------------------------------------------------------
# Tiles


def tiles(source: Source, filters: Filters, basis: str | None = None) -> list[TileValue]:
    """Every catalogue metric's tile for the window, in catalogue order. `basis` ("points" |
    "issues") fixes the planning ratios' basis; None: points when every pooled sprint is estimated."""
    if basis is not None and basis not in PLANNING_BASES:
        raise ValueError(f"basis must be one of {PLANNING_BASES}, not {basis!r}")
    ingested = previous_ingested(source, filters)
    prev = filters.previous()
    by_domain: dict[str, dict[str, dict[str, Any]]] = {}
    out: list[TileValue] = []
    for key, spec in METRIC_SQL.items():
        domain = DOMAINS[spec.domain]
        if not source.has(domain.table):
            continue
        if spec.domain not in by_domain:
            by_domain[spec.domain] = window_aggregates(source, spec.domain, filters)
        current = by_domain[spec.domain].get("current", {})
        before = by_domain[spec.domain].get("previous", {})
        value = spec.value(current, filters.days, basis)
        previous = spec.value(before, prev.days, basis) if ingested else None
        note = ""
        used_basis = None
        if spec.domain == "completed_sprints":
            used_basis = basis or _pooled_basis(current)
            note = f"by {used_basis}"
        if key == "failed_deployment_recovery_p50_hours":
            unrecovered = _count(current, "failed") - _count(current, "recovered")
            note = f"{unrecovered} failed deployment(s) not recovered yet" if unrecovered else ""
        out.append(_tile(key, value, _count(current, spec.sample), previous,
                         _count(before, spec.sample) if ingested else None, ingested, note=note, basis=used_basis))
    out = _with_bands(source, filters, out, ingested)
    if source.has("mv_planning_by_team_day") or source.has("metrics_daily"):
        current_b = blocked_at_end(source, filters, filters.end)
        previous_b = blocked_at_end(source, filters, prev.end) if ingested else None
        if current_b is not None:
            count_now = int(current_b["blocked"] or 0)
            count_before = None if previous_b is None else int(previous_b["blocked"] or 0)
            out.append(_tile("blocked_issues", current_b["blocked"], count_now,
                             None if previous_b is None else previous_b["blocked"], count_before, ingested,
                             note="at the end of the range's last day"))
            out.append(_tile("blocked_age_p50_days", current_b["age_p50"], count_now,
                             None if previous_b is None else previous_b["age_p50"], count_before, ingested,
                             note=current_b["note"]))
    return out


def _tile(key: str, value: float | None, n: int, previous: float | None, previous_n: int | None,
          ingested: bool, note: str = "", basis: str | None = None) -> TileValue:
    m = metric(key)
    change = value - previous if value is not None and previous is not None else None
    return TileValue(key, m.label, value, m.unit, n, n < LOW_SAMPLE, previous, change, ingested,
                     previous_n, note=note, basis=basis)


def _with_bands(source: Source, filters: Filters, out: list[TileValue], ingested: bool) -> list[TileValue]:
    values = {t.key: t.value for t in out}
    previous = {t.key: t.previous for t in out}
    prev = filters.previous()
    # One statement for both periods' deployment days (grouped by day: no bound value in the GROUP BY).
    days = deployment_days(source, filters.with_range(prev.start, filters.end))
    values["deployment_days_per_week_median"] = deployment_days_per_week_median(days, filters)
    if ingested:
        previous["deployment_days_per_week_median"] = deployment_days_per_week_median(days, prev)
    banded = []
    for t in out:
        if CATALOGUE[t.key].dora_key:
            t = replace(t, band=dora_band(t.key, values),
                        previous_band=dora_band(t.key, previous) if ingested else None)
        banded.append(t)
    return banded


def deployment_days(source: Source, filters: Filters) -> dict[date, int]:
    """Deployments per UTC day in the window (days without deployments are absent)."""
    found = aggregate(source, "deployments", filters, "cast(deployed_at as date)", [],
                      filters.start_ts, filters.end_ts)
    return {d: _count(r, "deployments") for k, r in found.items() if (d := as_date(k)) is not None}


def deployment_days_per_week_median(days_with_deployments: dict[date, int], filters: Filters) -> float:
    """docs/metrics.md: the median number of days with a deployment per 7-day block, the blocks
    counted back from the window's last day; leading days that do not fill a block are left out (a
    window shorter than a week is one block, scaled to 7 days)."""
    blocks = max(1, filters.days // 7)
    per_block: list[float] = []  # days outside the window are never looked at
    for i in range(blocks):
        block_end = filters.end - timedelta(days=7 * i)
        block_days = [block_end - timedelta(days=k) for k in range(min(7, filters.days))]
        per_block.append(sum(1 for d in block_days if days_with_deployments.get(d)))
    if filters.days < 7:
        per_block = [n * 7 / filters.days for n in per_block]
    return float(statistics.median(per_block))


# ---------------------------------------------------------------------------------------------
# Blocked issues (an end-of-day state, from the daily planning marts)


def blocked_at_end(source: Source, filters: Filters, day: date) -> dict[str, Any] | None:
    """Blocked issues at the end of `day` with their age p50 and max; None when the build has no
    such day. One team: its mv_planning_by_team_day row. Every team: metrics_daily's org row (team
    and repo '*'), whose p50 dbt computes over all blocked issues. Several teams (an org among
    several): the counts add up; a p50 cannot be combined from team p50s, so none is given."""
    teams = teams_in_scope(source, filters)
    if teams is None and source.has("metrics_daily"):
        found = rows(source, """
            select planning_blocked_issues as blocked_issues, planning_blocked_age_p50_days as age_p50,
                   planning_blocked_age_max_days as age_max
            from metrics_daily where team = '*' and repo = '*' and "date" = ?""", [day])
    elif source.has("mv_planning_by_team_day"):
        where, params = jira_where(source, filters)
        found = rows(source, f"""
            select blocked_issues, blocked_age_p50_days as age_p50, blocked_age_max_days as age_max
            from mv_planning_by_team_day where "date" = ?{where}""", [day, *params])  # noqa: S608 - SQL text from this module; values bound
    else:
        return None
    if not found:
        return None
    blocked = float(sum(number(r["blocked_issues"]) or 0 for r in found))
    maxima = [a for a in (number(r["age_max"]) for r in found) if a is not None]
    p50 = number(found[0]["age_p50"]) if len(found) == 1 else None
    return {"blocked": blocked, "age_p50": p50, "age_max": max(maxima) if maxima else None,
            "note": f"oldest {max(maxima):.1f} days" if maxima else ""}


# ---------------------------------------------------------------------------------------------
# Series


def buckets(filters: Filters) -> list[tuple[date, date, date]]:
    """(bucket, first day, last day) of each day/week bucket of the window, the ends clipped to it."""
    out = []
    if filters.granularity == "week":
        monday = filters.start - timedelta(days=filters.start.weekday())
        while monday <= filters.end:
            out.append((monday, max(monday, filters.start), min(monday + timedelta(days=6), filters.end)))
            monday += timedelta(days=7)
    else:
        day = filters.start
        while day <= filters.end:
            out.append((day, day, day))
            day += timedelta(days=1)
    return out


def series(source: Source, metric_key: str, filters: Filters, basis: str | None = None) -> list[Point]:
    """The metric per day or ISO week (filters.granularity) over the window, one point per bucket
    (empty buckets included: a count is 0 there, a percentile or rate None). Each point is computed
    from the fact rows of its bucket, clipped to the window."""
    m = metric(metric_key)
    if not m.series:
        raise KeyError(f"metric {metric_key!r} has no series; series metrics: "
                       f"{', '.join(k for k, v in CATALOGUE.items() if v.series)}")
    spans = buckets(filters)
    if metric_key == "blocked_issues":
        points = []
        for key, _, last in spans:
            found = blocked_at_end(source, filters, last)
            points.append(Point(key, None if found is None else found["blocked"],
                                0 if found is None else int(found["blocked"] or 0)))
        return points
    spec = METRIC_SQL[metric_key]
    time_column = DOMAINS[spec.domain].time
    found = aggregate(source, spec.domain, filters, bucket(time_column, filters.granularity), [],
                      filters.start_ts, filters.end_ts)
    by_day = {as_date(k): r for k, r in found.items()}
    return [Point(key, spec.value(by_day.get(key, {}), (last - first).days + 1, basis),
                  _count(by_day.get(key, {}), spec.sample)) for key, first, last in spans]


# ---------------------------------------------------------------------------------------------
# Sprints and blocked issues


def sprint_table(source: Source, filters: Filters, basis: str | None = None) -> list[dict[str, Any]]:
    """Sprints that started or were completed in the window (active ones included), oldest first, with
    their scope on `basis` ("points" | "issues"; None: each sprint's own `planning_basis`, as on the
    Sprint Health card) and the mart's three percentages on that basis. Sprints that started before
    the first ingested day are left out (history_complete false)."""
    return _sprints(source, filters, basis, "((completed_at >= ? and completed_at < ?) or (start_at >= ? and start_at < ?))",
                    [filters.start_ts, filters.end_ts, filters.start_ts, filters.end_ts])


def completed_sprints(source: Source, filters: Filters, basis: str | None = None) -> list[dict[str, Any]]:
    """Closed sprints completed in the window (history_complete), oldest first: the card's periods."""
    return _sprints(source, filters, basis,
                    "lower(state) = 'closed' and completed_at >= ? and completed_at < ?",
                    [filters.start_ts, filters.end_ts])


def _sprints(source: Source, filters: Filters, basis: str | None, condition: str,
             params: list[Any]) -> list[dict[str, Any]]:
    if not source.has("mv_planning_by_sprint"):
        return []
    if basis is not None and basis not in PLANNING_BASES:
        raise ValueError(f"basis must be one of {PLANNING_BASES}, not {basis!r}")
    where, team_params = jira_where(source, filters)

    def pick(points: str, issues: str) -> str:
        if basis == "points":
            return points
        if basis == "issues":
            return issues
        return f"case when planning_basis = 'points' then {points} else {issues} end"

    picked = ", ".join(f"{pick(f'{n}_points', f'{n}_issues')} as {n}" for n in PLANNING_SUMS)
    pcts = ", ".join(f"{pick(p, p.replace('_pct', '_issues_pct'))} as {p}"
                     for p in ("planned_vs_done_pct", "scope_change_pct", "carryover_pct"))
    basis_sql = f"'{basis}'" if basis else "planning_basis"
    sql = f"""
        select sprint_id, sprint_name, team, state, start_at, end_at, completed_at,
               {basis_sql} as basis, {picked}, committed_issues, {pcts}
        from mv_planning_by_sprint
        where {condition} and history_complete{where}
        order by coalesce(completed_at, end_at, start_at), team, sprint_id"""  # noqa: S608 - SQL text from this module; values bound
    return rows(source, sql, [*params, *team_params])


def data_as_of(source: Source, last_day: date | None = None) -> datetime:
    """When the build's "current" state was true: its publication, but never after the end of the
    last ingested day (a backfill of old days says nothing about what happened since)."""
    if last_day is None:
        last_day = dimensions(source).latest_day
    as_of = source.published_at or datetime.now()
    if last_day is not None:
        as_of = min(as_of, datetime.combine(last_day + timedelta(days=1), time(0)))
    return as_of


def blocked_now(source: Source, filters: Filters, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Issues blocked in the build (their current state), with their age in days at `as_of` (default
    `data_as_of`), oldest first; only issues that count for planning (`counts_for_planning`: sub-tasks
    only when the config includes them). The team filter applies; dates do not (a current state)."""
    if not source.has("fct_jira_issues"):
        return []
    as_of = as_of or data_as_of(source)
    where, params = jira_where(source, filters)
    return rows(source, f"""
        select issue_key, team, issue_type, summary, status_name, story_points, blocked_since,
               {hours_between('blocked_since', 'cast(? as timestamp)')} / 24.0 as blocked_days
        from fct_jira_issues where is_blocked and counts_for_planning{where}
        order by blocked_since, issue_key""", [as_of, *params])  # noqa: S608 - SQL text from this module; values bound


def activity_bounds(source: Source, filters: Filters) -> tuple[datetime | None, datetime | None]:
    """(first, last) activity of the filtered teams/repos over all time: the first merge or deployment
    (a review alone may belong to a PR from before the ingested range) and the last merge, first review
    or deployment. The Sprint Health card's weeks run between them."""
    where, params = github_where(source, filters)
    found = rows(source, f"""
        select min(first_t) as first_t, max(last_t) as last_t from (
            select deployed_at as first_t, deployed_at as last_t from fct_deployments
                where deployed_at is not null{where}
            union all select least(merged_at, coalesce(deployed_at, merged_at)),
                             greatest(merged_at, coalesce(first_review_at, merged_at), coalesce(deployed_at, merged_at))
                from fct_pull_requests where merged_at is not null{where}
            union all select deployed_at, greatest(deployed_at, coalesce(first_review_at, deployed_at))
                from fct_pull_requests where merged_at is null and deployed_at is not null{where}
            union all select null, first_review_at from fct_pull_requests
                where merged_at is null and deployed_at is null and first_review_at is not null{where}
        ) as t""", [*params, *params, *params, *params])  # noqa: S608 - SQL text from this module; values bound
    if not found:
        return None, None
    return found[0]["first_t"], found[0]["last_t"]
