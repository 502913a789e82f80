"""The filters every metrics question takes, their validation, and the filter options of a build.

- `Filters`: org, team, repo, a UTC date range (both days included; SQL bounds are half-open
  `[start 00:00, end + 1 day 00:00)`) and the day/week granularity of series.
- `validate(source, filters)` raises `FilterError(param, message)` naming the query parameter to fix
  (`org`, `team`, `repo`, `from`, `to`, `granularity`: the API's names), so the API answers 422 and
  the dashboard a warning.
- `dimensions(source)`: orgs, teams, repos, and the ingested calendar (the set of ingested days).
  This is the one place that says which days were ingested; everything else asks it.
- `github_where` / `jira_where`: the filters as SQL conditions with bound parameters. A repo narrows
  GitHub facts only (Jira data is per team). An org narrows to its teams when the build knows several
  orgs (teams the org mapping does not know stay visible under every org).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from emd.metrics.source import GRANULARITIES, Source, as_date, rows

# The daily marts are dense over the ingested calendar (every ingested day, with or without activity, and
# no day that was never ingested), so their days are the ingested days.
DENSE_DAILY_TABLES = ("mv_dora_by_repo_day", "mv_flow_by_repo_day", "metrics_daily")


def utc_today() -> date:
    """Today's UTC day (a "day" is a UTC calendar date everywhere, whatever the server's time zone)."""
    return datetime.now(UTC).date()


class FilterError(ValueError):
    """A filter the build cannot answer; `param` is the query parameter to fix."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass(frozen=True)
class Filters:
    org: str | None = None
    team: str | None = None
    repo: str | None = None
    start: date = field(default_factory=lambda: utc_today() - timedelta(days=29))
    end: date = field(default_factory=utc_today)  # included
    granularity: str = "day"  # day | week

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_ts(self) -> datetime:
        return datetime.combine(self.start, time(0))

    @property
    def end_ts(self) -> datetime:
        """Exclusive: 00:00 UTC of the day after `end`."""
        return datetime.combine(self.end + timedelta(days=1), time(0))

    def previous(self) -> Filters:
        """The period of equal length just before (same org/team/repo/granularity)."""
        return Filters(self.org, self.team, self.repo, self.start - timedelta(days=self.days),
                       self.start - timedelta(days=1), self.granularity)

    def with_range(self, start: date, end: date) -> Filters:
        return Filters(self.org, self.team, self.repo, start, end, self.granularity)


@dataclass(frozen=True)
class Dimensions:
    orgs: tuple[str, ...]
    org_of_team: dict[str, str]
    teams: tuple[str, ...]
    repos_by_team: dict[str, tuple[str, ...]]
    first_day: date | None  # the first ingested day (None: the build has no daily marts)
    last_day: date | None  # the last ingested day
    latest_day: date | None  # the newest day with data: the last ingested day or a later fact
    days: frozenset[date] | None = None  # the ingested days (None: unknown, the build has no daily marts)

    def repos(self, teams: Sequence[str] | None = None) -> tuple[str, ...]:
        chosen = self.teams if teams is None else teams
        return tuple(sorted({r for t in chosen for r in self.repos_by_team.get(t, ())}))

    def teams_of_org(self, org: str | None) -> tuple[str, ...]:
        """The teams an org filter shows: all of them with one org (or none given)."""
        if org is None or len(self.orgs) < 2:
            return self.teams
        return tuple(t for t in self.teams if self.org_of_team.get(t, org) == org)

    def ingested(self, start: date, end: date) -> bool:
        """Whether every day of [start, end] was ingested (a gap between two backfilled ranges is not).
        Without daily marts the calendar is unknown and a period counts as ingested."""
        if self.days is None:
            return True
        return self.ingested_days(start, end) == (end - start).days + 1

    def ingested_days(self, start: date, end: date) -> int:
        """How many days of [start, end] were ingested (all of them when the calendar is unknown)."""
        if self.days is None:
            return max(0, (end - start).days + 1)
        return sum(1 for d in self.days if start <= d <= end)

    def is_ingested(self, day: date) -> bool:
        return self.days is None or day in self.days

    def spans(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """[start, end) cut to the ingested days: one half-open span per run of consecutive ingested
        days (a fact dated in a gap is left out, as the per-day marts have no row for that day)."""
        if self.days is None:
            return [(start, end)]
        out: list[tuple[datetime, datetime]] = []
        day = start.date()
        while datetime.combine(day, time(0)) < end:
            if day in self.days:
                lo = max(start, datetime.combine(day, time(0)))
                hi = min(end, datetime.combine(day + timedelta(days=1), time(0)))
                if out and out[-1][1] == lo:
                    out[-1] = (out[-1][0], hi)
                else:
                    out.append((lo, hi))
            day += timedelta(days=1)
        return out


_dimensions_cache: dict[tuple[str, str], Dimensions] = {}
_dimensions_lock = threading.Lock()


def dimensions(source: Source) -> Dimensions:
    """The build's filter options and ingested calendar; computed once per published build."""
    cache_key = (source.key, source.build_id)
    if source.build_id != "live":
        with _dimensions_lock:
            if cache_key in _dimensions_cache:
                return _dimensions_cache[cache_key]
    dims = _read_dimensions(source)
    if source.build_id != "live":
        with _dimensions_lock:
            if len(_dimensions_cache) > 8:
                _dimensions_cache.clear()
            _dimensions_cache[cache_key] = dims
    return dims


def ingested_calendar(source: Source) -> frozenset[date] | None:
    """The ingested UTC days, from the dense daily marts (dbt's int_calendar__days); None without them."""
    dense = [t for t in DENSE_DAILY_TABLES if source.has(t)]
    if not dense:
        return None
    found = rows(source, " union ".join(f'select distinct "date" as day from {t}' for t in dense))  # noqa: S608 - names from DENSE_DAILY_TABLES
    return frozenset(d for d in (as_date(r["day"]) for r in found) if d is not None)


def _read_dimensions(source: Source) -> Dimensions:
    parts = ["select team, repo from fct_pull_requests", "select team, repo from fct_deployments"]
    if source.has("fct_jira_issues"):
        parts.append("select team, null as repo from fct_jira_issues")
    if source.has("mv_planning_by_sprint"):
        parts.append("select team, null as repo from mv_planning_by_sprint")
    if source.has("metrics_daily"):
        # metrics_daily also has team rows (repo '*') and an org row (team '*'): not filter options.
        parts.append("select team, case when repo <> '*' then repo end as repo from metrics_daily "
                     "where team <> '*'")
    pairs = rows(source, "select distinct team, repo from (" + " union all ".join(parts) + ") as t")  # noqa: S608 - SQL text from this module
    repos_by_team: dict[str, set[str]] = {}
    for pair in pairs:
        team, repo = pair["team"], pair["repo"]
        if not isinstance(team, str):
            continue
        repos_by_team.setdefault(team, set())
        if isinstance(repo, str):
            repos_by_team[team].add(repo)
    org_of_team: dict[str, str] = {}
    if source.has("metrics_daily"):
        mapping = rows(source, "select distinct org, team from metrics_daily where org is not null and team <> '*'")
        org_of_team = {str(m["team"]): str(m["org"]) for m in mapping if m["team"] is not None}
    days = ingested_calendar(source)
    first_day, last_day = (min(days), max(days)) if days else (None, None)
    latest = rows(source, "select max(cast(deployed_at as date)) as d from fct_deployments "
                          "union all select max(cast(merged_at as date)) from fct_pull_requests "
                          "union all select max(cast(created_at as date)) from fct_pull_requests")
    ends = [d for d in (as_date(r["d"]) for r in latest) if d is not None] + ([last_day] if last_day else [])
    return Dimensions(orgs=tuple(sorted(set(org_of_team.values()))), org_of_team=org_of_team,
                      teams=tuple(sorted(repos_by_team)),
                      repos_by_team={t: tuple(sorted(r)) for t, r in repos_by_team.items()},
                      first_day=first_day, last_day=last_day, latest_day=max(ends) if ends else None,
                      days=days)


def validate(source: Source, filters: Filters) -> Filters:
    """`filters` if the build can answer them, else FilterError naming the parameter."""
    if filters.granularity not in GRANULARITIES:
        raise FilterError("granularity", f"must be one of {', '.join(GRANULARITIES)}, not {filters.granularity!r}")
    if filters.start > filters.end:
        raise FilterError("from", f"{filters.start.isoformat()} is after to={filters.end.isoformat()}")
    dims = dimensions(source)
    if filters.org is not None and dims.orgs and filters.org not in dims.orgs:
        raise FilterError("org", f"unknown org {filters.org!r}; known: {', '.join(dims.orgs)}")
    if filters.team is not None:
        if filters.team not in dims.teams:
            raise FilterError("team", f"unknown team {filters.team!r}; known: {', '.join(dims.teams)}")
        if filters.team not in dims.teams_of_org(filters.org):
            raise FilterError("team", f"team {filters.team!r} is not in org {filters.org!r}")
    if filters.repo is not None:
        allowed = dims.repos([filters.team] if filters.team else dims.teams_of_org(filters.org))
        if filters.repo not in dims.repos():
            raise FilterError("repo", f"unknown repo {filters.repo!r}; known: {', '.join(dims.repos())}")
        if filters.repo not in allowed:
            raise FilterError("repo", f"repo {filters.repo!r} is not a repo of "
                                      f"{'team ' + repr(filters.team) if filters.team else 'org ' + repr(filters.org)}")
    return filters


def teams_in_scope(source: Source, filters: Filters) -> tuple[str, ...] | None:
    """The teams the filters restrict to; None means no restriction."""
    if filters.team is not None:
        return (filters.team,)
    if filters.org is not None:
        dims = dimensions(source)
        if len(dims.orgs) > 1:
            return dims.teams_of_org(filters.org)
    return None


def _in(column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
    if not values:
        return "1 = 0", []
    return f"{column} in ({', '.join('?' * len(values))})", list(values)


def github_where(source: Source, filters: Filters, *, deployments: bool = False) -> tuple[str, list[Any]]:
    """` and ...` conditions on team and repo for fct_pull_requests (`team`: the PR's team) or, with
    `deployments`, for fct_deployments: a team's deployments are the rows dbt lists for it in
    fct_deployment_teams (its own and, in a CODEOWNERS monorepo, every team whose PRs it shipped)."""
    parts: list[str] = []
    params: list[Any] = []
    teams = teams_in_scope(source, filters)
    if teams is not None:
        sql, p = _in("team", teams)
        if deployments and source.has("fct_deployment_teams"):
            sql = f"deployment_id in (select deployment_id from fct_deployment_teams where {sql})"  # noqa: S608 - SQL text from this module
        parts.append(sql)
        params += p
    if filters.repo is not None:
        parts.append("repo = ?")
        params.append(filters.repo)
    return "".join(f" and {p}" for p in parts), params


def jira_where(source: Source, filters: Filters) -> tuple[str, list[Any]]:
    """` and ...` conditions on team for the Jira marts (a repo does not narrow Jira data)."""
    teams = teams_in_scope(source, filters)
    if teams is None:
        return "", []
    sql, params = _in("team", teams)
    return f" and {sql}", params
