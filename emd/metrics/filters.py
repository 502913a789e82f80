"""The filters every metrics question takes, their validation, and the filter options of a build.

- `Filters`: org, team, repo, a UTC date range (both days included; SQL bounds are half-open
  `[start 00:00, end + 1 day 00:00)`), the day/week granularity of series, and the signed-in user's
  `scope` (the teams they may see; None: every team). The scope travels inside the filters, so every
  question of the layer (tiles, series, rows, cards, agreements) is asked within it: `teams_in_scope`
  is the one place that narrows to it, and `validate` refuses a team or repo outside it (OutOfScope,
  which surfaces answer 403 / an access message without revealing whether the name exists).
- `validate(source, filters)` raises `FilterError(param, message)` naming the query parameter to fix
  (`org`, `team`, `repo`, `from`, `to`, `granularity`: the API's names), so the API answers 422 and
  the dashboard a warning.
- `dimensions(source)`: orgs, teams, repos, and the ingested calendar: the set of ingested days per
  source (dbt's `fct_ingested_days`). GitHub's days are the days of the DORA, flow and AI metrics, Jira's
  the days of planning, blocked and WIP: a day on which GitHub was ingested and Jira failed is a gap for
  the Jira metrics only. This is the one place that says which days were ingested; everything else asks it
  (`calendar=`: "github", "jira"; None: a day any source was ingested).
- `github_where` / `jira_where`: the filters as SQL conditions with bound parameters. A repo narrows
  GitHub facts only (Jira data is per team). An org narrows to its teams when the build knows several
  orgs (teams the org mapping does not know stay visible under every org).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from emd.metrics.source import GRANULARITIES, Source, as_date, rows

# The ingested calendar per source (dbt: int_calendar__source_days), one row per source and ingested day.
INGESTED_DAYS_TABLE = "fct_ingested_days"
# A build published before fct_ingested_days: its daily marts are dense over the ingested calendar (every
# ingested day, with or without activity, and no day that was never ingested), one calendar for every source.
DENSE_DAILY_TABLES = ("mv_dora_by_repo_day", "mv_flow_by_repo_day", "metrics_daily")


def utc_today() -> date:
    """Today's UTC day (a "day" is a UTC calendar date everywhere, whatever the server's time zone)."""
    return datetime.now(UTC).date()


class OutOfScope(PermissionError):
    """A team, repo or record outside the user's scope: answered without saying whether it exists."""

    def __init__(self, param: str) -> None:
        super().__init__(f"{param}: outside your access")
        self.param = param


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
    scope: tuple[str, ...] | None = None  # the teams the user may see; None: every team (org-wide, or no sign-in)

    def allows(self, team: str | None) -> bool:
        """Whether a record of `team` lies within the scope."""
        return self.scope is None or team in self.scope

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
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))

    def with_range(self, start: date, end: date) -> Filters:
        return replace(self, start=start, end=end)


@dataclass(frozen=True)
class Dimensions:
    orgs: tuple[str, ...]
    org_of_team: dict[str, str]
    teams: tuple[str, ...]
    repos_by_team: dict[str, tuple[str, ...]]
    first_day: date | None  # the first ingested day (None: the build has no daily marts)
    last_day: date | None  # the last ingested day
    latest_day: date | None  # the newest day with data: the last ingested day or a later fact
    days: frozenset[date] | None = None  # the days any source was ingested (None: unknown, no daily marts)
    # The ingested days per source ("github", "jira", ...); None: one calendar (`days`) for every source.
    days_by_source: dict[str, frozenset[date]] | None = None

    def repos(self, teams: Sequence[str] | None = None) -> tuple[str, ...]:
        chosen = self.teams if teams is None else teams
        return tuple(sorted({r for t in chosen for r in self.repos_by_team.get(t, ())}))

    def teams_of_org(self, org: str | None) -> tuple[str, ...]:
        """The teams an org filter shows: all of them with one org (or none given)."""
        if org is None or len(self.orgs) < 2:
            return self.teams
        return tuple(t for t in self.teams if self.org_of_team.get(t, org) == org)

    def calendar(self, source: str | None = None) -> frozenset[date] | None:
        """The days `source` ("github", "jira") was ingested; None (or a build with one calendar): the days
        any source was. None when the calendar is unknown (the build has no daily marts)."""
        if source is None or self.days_by_source is None:
            return self.days
        return self.days_by_source.get(source, frozenset())

    def ingested(self, start: date, end: date, calendar: str | None = None) -> bool:
        """Whether every day of [start, end] was ingested (by `calendar`'s source; a gap between two
        backfilled ranges is not). Without daily marts the calendar is unknown and a period counts as ingested."""
        if self.calendar(calendar) is None:
            return True
        return self.ingested_days(start, end, calendar) == (end - start).days + 1

    def ingested_days(self, start: date, end: date, calendar: str | None = None) -> int:
        """How many days of [start, end] were ingested by `calendar`'s source (all of them when the calendar is
        unknown)."""
        days = self.calendar(calendar)
        if days is None:
            return max(0, (end - start).days + 1)
        return sum(1 for d in days if start <= d <= end)

    def is_ingested(self, day: date, calendar: str | None = None) -> bool:
        days = self.calendar(calendar)
        return days is None or day in days

    def spans(self, start: datetime, end: datetime, calendar: str | None = None) -> list[tuple[datetime, datetime]]:
        """[start, end) cut to the days `calendar`'s source was ingested: one half-open span per run of
        consecutive ingested days (a fact dated in a gap is left out, as the per-day marts have no row for
        that day)."""
        days = self.calendar(calendar)
        if days is None:
            return [(start, end)]
        out: list[tuple[datetime, datetime]] = []
        day = start.date()
        while datetime.combine(day, time(0)) < end:
            if day in days:
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
    """The UTC days any source was ingested; None when the build has no calendar."""
    return ingested_calendars(source)[0]


def ingested_calendars(source: Source) -> tuple[frozenset[date] | None, dict[str, frozenset[date]] | None]:
    """(the days any source was ingested, the days per source) from dbt's fct_ingested_days. A build
    published before it: the days of its dense daily marts, one calendar for every source (None per source);
    (None, None) without them."""
    if source.has(INGESTED_DAYS_TABLE):
        by_source: dict[str, set[date]] = {}
        for r in rows(source, f'select source, "date" as day from {INGESTED_DAYS_TABLE}'):  # noqa: S608 - a constant name
            if (d := as_date(r["day"])) is not None and isinstance(r["source"], str):
                by_source.setdefault(r["source"], set()).add(d)
        return frozenset().union(*by_source.values()), {k: frozenset(v) for k, v in by_source.items()}
    dense = [t for t in DENSE_DAILY_TABLES if source.has(t)]
    if not dense:
        return None, None
    found = rows(source, " union ".join(f'select distinct "date" as day from {t}' for t in dense))  # noqa: S608 - names from DENSE_DAILY_TABLES
    return frozenset(d for d in (as_date(r["day"]) for r in found) if d is not None), None


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
    days, days_by_source = ingested_calendars(source)
    first_day, last_day = (min(days), max(days)) if days else (None, None)
    latest = rows(source, "select max(cast(deployed_at as date)) as d from fct_deployments "
                          "union all select max(cast(merged_at as date)) from fct_pull_requests "
                          "union all select max(cast(created_at as date)) from fct_pull_requests")
    ends = [d for d in (as_date(r["d"]) for r in latest) if d is not None] + ([last_day] if last_day else [])
    return Dimensions(orgs=tuple(sorted(set(org_of_team.values()))), org_of_team=org_of_team,
                      teams=tuple(sorted(repos_by_team)),
                      repos_by_team={t: tuple(sorted(r)) for t, r in repos_by_team.items()},
                      first_day=first_day, last_day=last_day, latest_day=max(ends) if ends else None,
                      days=days, days_by_source=days_by_source)


def validate(source: Source, filters: Filters) -> Filters:
    """`filters` if the build can answer them, else FilterError naming the parameter."""
    if filters.granularity not in GRANULARITIES:
        raise FilterError("granularity", f"must be one of {', '.join(GRANULARITIES)}, not {filters.granularity!r}")
    if filters.start > filters.end:
        raise FilterError("from", f"{filters.start.isoformat()} is after to={filters.end.isoformat()}")
    dims = dimensions(source)
    if filters.scope is not None:
        # A scoped user learns nothing about names outside the scope, not even whether they exist.
        if filters.team is not None and filters.team not in filters.scope:
            raise OutOfScope("team")
        if filters.repo is not None and filters.repo not in dims.repos(
                [t for t in filters.scope if t in dims.repos_by_team]):
            raise OutOfScope("repo")
    if filters.org is not None and dims.orgs and filters.org not in dims.orgs:
        raise FilterError("org", f"unknown org {filters.org!r}; known: {', '.join(dims.orgs)}")
    if filters.team is not None:
        if filters.team not in dims.teams:
            visible = [t for t in dims.teams if filters.allows(t)]  # a scoped user hears only of their teams
            raise FilterError("team", f"unknown team {filters.team!r}; known: {', '.join(visible)}")
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
    """The teams the filters restrict to, within the user's scope; None means no restriction."""
    teams: tuple[str, ...] | None = None
    if filters.team is not None:
        teams = (filters.team,)
    elif filters.org is not None:
        dims = dimensions(source)
        if len(dims.orgs) > 1:
            teams = dims.teams_of_org(filters.org)
    if filters.scope is None:
        return teams
    return tuple(t for t in (teams if teams is not None else filters.scope) if t in filters.scope)


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
