"""The catalogue's SQL: which rows each metric counts and how it is aggregated over any window.

Each metric's value over a window is computed here, once, from the fact rows of that window
(never by averaging daily values): percentiles are continuous (`percentile`, source.py), a rate is
NULL (None) when its denominator is 0. Which rows count is decided by columns of the dbt facts
(`is_bot_author`, `lead_time_hours` NULL when negative, `history_complete`, `counts_for_planning`,
`planning_basis`) and which team a deployment counts for by dbt's `fct_deployment_teams`; the layer
only filters on them.

The metric -> SQL map is `METRIC_SQL` (keys = catalogue keys); a domain is one fact table with its
time column, its row rule and the aggregates its metrics need, so the tiles of a window, the
previous period, a series and the dashboard's breakdowns are the same SQL grouped differently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emd.metrics.filters import Filters, dimensions, github_where, jira_where
from emd.metrics.source import Source, hours_between, number, percentile, rows

PLANNING_BASES = ("points", "issues")
PLANNING_SUMS = ("committed", "added", "removed", "completed", "completed_committed", "carryover")


@dataclass(frozen=True)
class Domain:
    name: str
    table: str
    time: str
    rule: str  # which rows count, as conditions on the fact's columns
    scope: str  # github | jira: whose filters apply and whose ingested calendar (fct_ingested_days) the days are
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


def _p50_p90(column: str, **more: str) -> Callable[[Source], dict[str, str]]:
    def aggregates(source: Source) -> dict[str, str]:
        return {"n": "count(*)", "p50": percentile(source, column, 0.5), "p90": percentile(source, column, 0.9),
                **more}
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
           _p50_p90("cycle_time_hours", review_depth_avg="avg(cast(review_depth as double precision))")),
    # Hotfixes count by their merge (bots included, as deployments); hotfix_rate divides by deployments.
    Domain("hotfix_prs", "fct_pull_requests", "merged_at", "merged_at is not null and is_hotfix", "github",
           lambda source: {"hotfixes": "count(*)"}),
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


def count(row: dict[str, Any], column: str) -> int:
    return int(number(row.get(column)) or 0)


def pooled_basis(row: dict[str, Any]) -> str:
    """Pooled planning ratios use points when every pooled sprint is estimated, else issue counts
    (so one sprint's value is on that sprint's own `planning_basis`, as on the Sprint Health card)."""
    sprints = count(row, "sprints")
    return "points" if sprints and count(row, "estimated_sprints") == sprints else "issues"


def _planning(kind: str) -> Callable[[dict[str, Any], float, str | None], float | None]:
    def value(row: dict[str, Any], days: float, basis: str | None) -> float | None:
        b = basis or pooled_basis(row)

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
    domain: str  # the domain whose rows the metric lists (drilldowns) and whose aggregate is the sample
    value: Callable[[dict[str, Any], float, str | None], float | None]  # (aggregates, days, basis)
    sample: str  # the aggregate that is the sample size
    also: tuple[str, ...] = ()  # further domains whose aggregates the value reads (hotfix_rate's hotfixes)

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.domain, *self.also)


METRIC_SQL: dict[str, MetricSql] = {
    "deployment_frequency_per_day": MetricSql(
        "deployments", lambda r, days, _: count(r, "deployments") / days if days > 0 else None, "deployments"),
    "lead_time_p50_hours": MetricSql("deployed_prs", lambda r, *_: number(r.get("p50")), "n"),
    "lead_time_p90_hours": MetricSql("deployed_prs", lambda r, *_: number(r.get("p90")), "n"),
    "change_failure_rate": MetricSql(
        "deployments", lambda r, *_: _ratio(r.get("failed"), r.get("deployments")), "deployments"),
    "failed_deployment_recovery_p50_hours": MetricSql(
        "deployments", lambda r, *_: number(r.get("recovery_p50")), "recovered"),
    "deployment_rework_rate": MetricSql(
        "deployments", lambda r, *_: _ratio(r.get("rework"), r.get("deployments")), "deployments"),
    "hotfix_rate": MetricSql(
        "deployments", lambda r, *_: _ratio(r.get("hotfixes"), r.get("deployments")), "deployments",
        also=("hotfix_prs",)),
    "cycle_time_p50_hours": MetricSql("merged_prs", lambda r, *_: number(r.get("p50")), "n"),
    "cycle_time_p90_hours": MetricSql("merged_prs", lambda r, *_: number(r.get("p90")), "n"),
    "time_to_first_review_p50_hours": MetricSql("reviewed_prs", lambda r, *_: number(r.get("p50")), "n"),
    "review_depth_avg": MetricSql("merged_prs", lambda r, *_: number(r.get("review_depth_avg")), "n"),
    "pr_rework_rate": MetricSql("finished_prs", lambda r, *_: _ratio(r.get("reopened"), r.get("n")), "n"),
    "ai_assisted_pr_share": MetricSql("ai_merged_prs", lambda r, *_: _ratio(r.get("ai"), r.get("n")), "n"),
    "planned_vs_done_pct": MetricSql("completed_sprints", _planning("planned_vs_done_pct"), "sprints"),
    "scope_change_pct": MetricSql("completed_sprints", _planning("scope_change_pct"), "sprints"),
    "carryover_pct": MetricSql("completed_sprints", _planning("carryover_pct"), "sprints"),
}


def domain_where(source: Source, domain: Domain, filters: Filters) -> tuple[str, list[Any]]:
    """The filters as ` and ...` conditions on the domain's table (deployments by their dbt teams)."""
    if domain.scope == "jira":
        return jira_where(source, filters)
    return github_where(source, filters, deployments=domain.table == "fct_deployments")


def in_calendar(source: Source, time_column: str, start: datetime, end: datetime,
                calendar: str | None = None) -> tuple[str, list[Any]]:
    """`start <= time < end` on the days `calendar`'s source ("github", "jira") was ingested only
    (docs/metrics.md: a day never ingested is unknown): the SQL condition and its bound values."""
    spans = dimensions(source).spans(start, end, calendar)
    if not spans:
        return "1 = 0", []
    sql = " or ".join(f"({time_column} >= ? and {time_column} < ?)" for _ in spans)
    return f"({sql})", [bound for span in spans for bound in span]


def aggregate(source: Source, domain_name: str, filters: Filters, group: str, group_params: list[Any],
              start: datetime, end: datetime, measures: dict[str, str] | None = None) -> dict[Any, dict[str, Any]]:
    """The domain's aggregates (or `measures`, SQL of the layer) over its rows with `start <= time < end`,
    grouped by the SQL expression `group` (from the layer); rows keyed by the group's value."""
    domain = DOMAINS[domain_name]
    if not source.has(domain.table):
        return {}
    where, params = domain_where(source, domain, filters)
    chosen = measures if measures is not None else domain.aggregates(source)
    columns = ", ".join(f"{sql} as {name}" for name, sql in chosen.items())
    during, bounds = in_calendar(source, domain.time, start, end, domain.scope)
    sql = (f"select {group} as grp, {columns} from {domain.table} "  # noqa: S608 - SQL text from this module; values bound
           f"where {during} and {domain.rule}{where} group by 1")
    return {r["grp"]: r for r in rows(source, sql, [*group_params, *bounds, *params])}


def aggregate_periods(source: Source, domain_name: str, filters: Filters,
                      periods: dict[str, tuple[datetime, datetime]]) -> dict[str, dict[str, Any]]:
    """The domain's aggregates over each named period [start, end), in one statement (a `union all`
    of one select per period: bound values stay in the WHERE clauses, where DuckDB uses them best)."""
    domain = DOMAINS[domain_name]
    if not source.has(domain.table) or not periods:
        return {}
    where, params = domain_where(source, domain, filters)
    columns = ", ".join(f"{sql} as {name}" for name, sql in domain.aggregates(source).items())
    parts, values = [], []
    for i, (start, end) in enumerate(periods.values()):
        during, bounds = in_calendar(source, domain.time, start, end, domain.scope)
        parts.append(f"select {i} as grp, {columns} from {domain.table} "  # noqa: S608 - SQL text from this module; values bound
                     f"where {during} and {domain.rule}{where}")
        values += [*bounds, *params]
    names = list(periods)
    return {names[int(r["grp"])]: r for r in rows(source, " union all ".join(parts), values)}


def window_aggregates(source: Source, domain_name: str, filters: Filters) -> dict[str, dict[str, Any]]:
    """The domain's aggregates of the window ('current') and of the previous equal period ('previous')."""
    prev = filters.previous()
    return aggregate_periods(source, domain_name, filters, {"current": (filters.start_ts, filters.end_ts),
                                                            "previous": (prev.start_ts, prev.end_ts)})


def merged(found: dict[str, dict[Any, dict[str, Any]]], spec: MetricSql, key: Any) -> dict[str, Any]:
    """One metric's aggregates at `key` (a period name or bucket): its domains' rows side by side
    (`found` maps a domain name to its rows by key)."""
    row: dict[str, Any] = {}
    for name in reversed(spec.domains):
        row.update(found.get(name, {}).get(key, {}))
    return row


def planning_values(sprint: dict[str, Any], basis: str) -> dict[str, float | None]:
    """One sprint's planning ratios on `basis` ("points" | "issues") from its mv_planning_by_sprint row:
    the planning tiles' formulas over a single sprint (the drilldown's sprint view)."""
    return {key: METRIC_SQL[key].value(sprint, 0.0, basis)
            for key in ("planned_vs_done_pct", "scope_change_pct", "carryover_pct")}


def period_values(source: Source, filters: Filters, start: datetime, end: datetime,
                  keys: tuple[str, ...] | None = None, basis: str | None = None) -> dict[str, tuple[float | None, int]]:
    """(value, sample size) of each metric over [start, end) (any instants, e.g. a sprint's bounds):
    what the Sprint Health blob asks for a sprint or an ISO week."""
    keys = keys or tuple(METRIC_SQL)
    dims = dimensions(source)
    out: dict[str, tuple[float | None, int]] = {}
    found: dict[str, dict[Any, dict[str, Any]]] = {}
    for key in keys:
        spec = METRIC_SQL[key]
        calendar = DOMAINS[spec.domain].scope
        days = sum((hi - lo).total_seconds() for lo, hi in dims.spans(start, end, calendar)) / 86400
        for name in spec.domains:
            if name not in found:
                found[name] = aggregate(source, name, filters, "'all'", [], start, end)
        row = merged(found, spec, "all")
        out[key] = (spec.value(row, days, basis), count(row, spec.sample))
    return out

