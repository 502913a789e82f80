"""SLOs and error budgets in the metrics layer (docs/metrics.md "SLOs and error budgets").

The per-day numbers are chosen in dbt (fct_slo_days: window SLI, budget remaining, burn rate, status;
fct_slo_deployment_burn: the bad events in the 24 hours after each deployment); this module reads them for a
window once, for `GET /slos`, the dashboard's /slos page, the Sprint Health blob and the Slack budget alerts, and
computes the one number that depends on the reader's window: a deployment's `budget_burned_pct`, its bad events
over the error budget of the window ending at `to` ((1 - target) x the window's total events) x 100.
No Streamlit import; team and repo scope come through `Filters` like every other layer question.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from emd.metrics.filters import Filters, github_where, jira_where
from emd.metrics.source import Source, as_date, number, rows

TABLES = ("fct_slo_days", "fct_slo_deployment_burn")
STATUSES = ("healthy", "at_risk", "exhausted")
# The remaining-budget levels whose crossing is announced in Slack (docs/metrics.md), highest first.
ALERT_LEVELS = (50.0, 25.0, 0.0)
PAGE_BURN_RATE = 6.0  # a day's burn rate at which Slack is told (the SRE workbook's six-hour paging level)


@dataclass(frozen=True)
class SloDeployment:
    deployment_id: str
    repo: str
    deployed_at: datetime
    bad_events: float | None
    budget_burned_pct: float | None


@dataclass(frozen=True)
class SloDay:
    date: date
    error_budget_remaining_pct: float | None
    burn_rate: float | None
    window_sli: float | None


@dataclass(frozen=True)
class SloReport:
    """One SLO over the window ending at `as_of` (the filters' `to`)."""

    name: str
    service: str
    team: str
    kind: str  # ratio | incidents
    target: float
    window_days: int
    as_of: date
    sli: float | None
    error_budget_remaining_pct: float | None
    burn_rate: float | None
    status: str | None  # healthy | at_risk | exhausted; None without events in the window
    error_budget_events: float | None
    deployments: tuple[SloDeployment, ...] = ()
    days: tuple[SloDay, ...] = field(default=(), compare=False)  # the burn-down over the window ending at as_of


def available(source: Source) -> bool:
    return all(source.has(t) for t in TABLES)


def _team_condition(source: Source, filters: Filters) -> tuple[str, list[Any]]:
    """SLOs belong to teams: the team scope narrows them; a repo narrows them to its team's."""
    sql, params = jira_where(source, filters)
    if filters.repo is not None:
        sql += " and team in (select team from fct_deployments where repo = ?)"
        params = [*params, filters.repo]
    return sql, params


def reports(source: Source, filters: Filters, with_days: bool = False) -> list[SloReport]:
    """Every SLO of the teams in scope, over the window ending at `filters.end`, with the deployments of its team
    deployed in [filters.start, filters.end] and, with `with_days`, the day-by-day burn-down of that window."""
    if not available(source):
        return []
    teams, params = _team_condition(source, filters)
    definitions = rows(source, (
        "select slo_name, max(service) as service, max(team) as team, max(kind) as kind, max(target) as target, "  # noqa: S608
        f"max(window_days) as window_days from fct_slo_days where 1 = 1 {teams} "  # SQL text from this module
        "group by slo_name order by max(team), slo_name"), params)
    if not definitions:
        return []
    longest = max(int(d["window_days"]) for d in definitions)
    history = rows(source, (
        "select slo_name, date, window_sli, error_budget_remaining_pct, burn_rate, status, error_budget_events "  # noqa: S608
        f"from fct_slo_days where date > ? and date <= ? {teams} order by slo_name, date"),
        [filters.end - timedelta(days=longest), filters.end, *params])
    by_slo: dict[str, list[dict[str, Any]]] = {}
    for row in history:
        row["date"] = as_date(row["date"])
        by_slo.setdefault(row["slo_name"], []).append(row)
    deployments = _deployments(source, filters)
    out = []
    for d in definitions:
        name, window = d["slo_name"], int(d["window_days"])
        days = [r for r in by_slo.get(name, []) if r["date"] > filters.end - timedelta(days=window)]
        last = days[-1] if days and days[-1]["date"] == filters.end else None
        budget = number(last["error_budget_events"]) if last else None
        burned = tuple(
            SloDeployment(deployment_id=x["deployment_id"], repo=x["repo"], deployed_at=x["deployed_at"],
                          bad_events=number(x["bad_events"]),
                          budget_burned_pct=(number(x["bad_events"]) or 0.0) / budget * 100.0
                          if budget and x["bad_events"] is not None else None)
            for x in deployments.get(name, []))
        out.append(SloReport(
            name=name, service=d["service"], team=d["team"], kind=d["kind"], target=float(d["target"]),
            window_days=window, as_of=filters.end,
            sli=number(last["window_sli"]) if last else None,
            error_budget_remaining_pct=number(last["error_budget_remaining_pct"]) if last else None,
            burn_rate=number(last["burn_rate"]) if last else None,
            status=last["status"] if last else None, error_budget_events=budget, deployments=burned,
            days=tuple(SloDay(r["date"], number(r["error_budget_remaining_pct"]), number(r["burn_rate"]),
                              number(r["window_sli"])) for r in days) if with_days else (),
        ))
    return out


def _deployments(source: Source, filters: Filters) -> dict[str, list[dict[str, Any]]]:
    where, params = github_where(source, filters)
    found = rows(source, (
        "select slo_name, deployment_id, repo, deployed_at, bad_events from fct_slo_deployment_burn "  # noqa: S608
        f"where deployed_at >= ? and deployed_at < ? {where} order by deployed_at, deployment_id"),
        [filters.start_ts, filters.end_ts, *params])
    out: dict[str, list[dict[str, Any]]] = {}
    for row in found:
        out.setdefault(row["slo_name"], []).append(row)
    return out


def crossed_level(remaining_pct: float | None) -> float | None:
    """The lowest alert level (50, 25, 0 % remaining) the budget is at or below; None above 50 %."""
    if remaining_pct is None:
        return None
    remaining_pct = round(remaining_pct, 6)  # Prometheus' float sums: 49.99999999 and 50.00000001 are both 50 %
    below = [level for level in ALERT_LEVELS if remaining_pct <= level]
    return min(below) if below else None


def last_day(source: Source) -> date | None:
    """The newest day any SLO has a row for (the alerts' `as_of`)."""
    if not available(source):
        return None
    return as_date(rows(source, "select max(date) as d from fct_slo_days")[0]["d"])
