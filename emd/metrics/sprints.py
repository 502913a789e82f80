"""Sprints and blocked issues: the sprint tables, the issues blocked now, and blocked issues at the end
of a day (an end-of-day state, from the daily planning marts).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from emd.metrics.calendar import data_as_of
from emd.metrics.filters import Filters, jira_where, teams_in_scope
from emd.metrics.measures import PLANNING_BASES, PLANNING_SUMS
from emd.metrics.source import Source, hours_between, number, rows


def blocked_at_end(source: Source, filters: Filters, day: date) -> dict[str, Any] | None:
    """Blocked issues at the end of `day` with their age p50 and max; None when the build has no
    such day (Jira was not ingested that day: unknown, whatever GitHub's calendar says). One team: its mv_planning_by_team_day row. Every team: metrics_daily's org row (team
    and repo '*'), whose p50 dbt computes over all blocked issues. Several teams (an org among
    several): the counts add up; a p50 cannot be combined from team p50s, so none is given."""
    teams = teams_in_scope(source, filters)
    if teams is None and source.has("metrics_daily"):
        found = rows(source, """
            select planning_blocked_issues as blocked_issues, planning_blocked_age_p50_days as age_p50,
                   planning_blocked_age_max_days as age_max
            from metrics_daily where team = '*' and repo = '*' and "date" = ?
                and planning_blocked_issues is not null""", [day])  # NULL: Jira was not ingested that day
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

