"""The sidebar filters (org, team, repo, date range, granularity, planning unit), mirrored in the URL.

A view is shareable: every filter is written to the query string (`?team=web&start=2026-03-01...`)
and read back from it when a session starts. A value in the URL that the warehouse does not know
is ignored with a warning naming the parameter, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import streamlit as st

from app import queries
from app.queries import Dimensions, Scope, Source, Window

ALL_ORGS = "All organisations"
ALL_TEAMS = "All teams"
ALL_REPOS = "All repos"
DEFAULT_DAYS = 30
GRAIN_OPTIONS = ("day", "week")
UNIT_OPTIONS = ("points", "issues")
# Query-string names (also the widgets' keys, so tests set widgets by these keys).
PARAMS = ("org", "team", "repo", "start", "end", "grain", "unit")
DRILL_PARAMS = ("metric", "deployment", "pr", "sprint")  # app/drill.py


@dataclass(frozen=True)
class View:
    org: str | None
    team: str | None
    repo: str | None
    window: Window
    grain: str
    unit: str
    scope: Scope
    first_day: date | None = None

    def describe(self) -> str:
        who = self.repo or self.team or self.org or "all teams"
        return (f"{who} · {self.window.start.isoformat()} to {self.window.end.isoformat()} "
                f"({self.window.days} days, compared with the {self.window.days} days before)")


def _seed(key: str, options: Sequence[Any] | None, default: Any,
          parse: Callable[[str], Any] = str) -> None:
    """Give the widget `key` its value before it is drawn: kept from this session, else from the URL."""
    if key in st.session_state:
        if options is not None and st.session_state[key] not in options:
            st.session_state[key] = default  # e.g. the repo of a team no longer selected
        return
    raw = st.query_params.get(key)
    value = default
    if raw is not None:
        try:
            parsed = parse(raw)
        except ValueError:
            parsed = None
        if parsed is None or (options is not None and parsed not in options):
            st.sidebar.warning(f"Ignored `?{key}={raw}` from the link: not a known value.")
        else:
            value = parsed
    st.session_state[key] = value


def _teams_of_org(dims: Dimensions, org: str | None) -> tuple[str, ...]:
    if org is None or len(dims.orgs) < 2:
        return dims.teams
    # Teams the org mapping does not know (e.g. Jira-only teams) stay visible under every org.
    return tuple(t for t in dims.teams if dims.org_of_team.get(t, org) == org)


def sidebar(source: Source) -> View:
    dims = queries.dimensions(source)
    bar = st.sidebar
    bar.header("Filters")

    org_options = list(dims.orgs) if len(dims.orgs) == 1 else [ALL_ORGS, *dims.orgs]
    _seed("org", org_options, org_options[0])
    org_choice = bar.selectbox("Organisation", org_options, key="org")
    org = None if org_choice == ALL_ORGS else org_choice

    teams = _teams_of_org(dims, org)
    team_options = [ALL_TEAMS, *teams]
    _seed("team", team_options, ALL_TEAMS)
    team_choice = bar.selectbox("Team", team_options, key="team")
    team = None if team_choice == ALL_TEAMS else team_choice

    repo_options = [ALL_REPOS, *dims.repos([team] if team else teams)]
    _seed("repo", repo_options, ALL_REPOS)
    repo_choice = bar.selectbox("Repository", repo_options, key="repo")
    repo = None if repo_choice == ALL_REPOS else repo_choice

    latest = dims.latest_day or date.today()
    _seed("end", None, latest, date.fromisoformat)
    default_start = st.session_state["end"] - timedelta(days=DEFAULT_DAYS - 1)
    if dims.first_day is not None:
        default_start = min(max(default_start, dims.first_day), st.session_state["end"])
    _seed("start", None, default_start, date.fromisoformat)
    start = bar.date_input("From (UTC day)", key="start")
    end = bar.date_input("To (UTC day, included)", key="end")
    if start > end:
        bar.error("`From` is after `To`: showing the range between them.")
        start, end = end, start
    if dims.first_day is not None and start < dims.first_day <= end:
        # Days before the first ingested day are unknown, not days without activity.
        bar.warning(f"Data starts on {dims.first_day.isoformat()}: the range is cut to start there.")
        start = dims.first_day

    _seed("grain", GRAIN_OPTIONS, "day")
    grain = bar.radio("Granularity", GRAIN_OPTIONS, key="grain", horizontal=True, format_func=str.capitalize)
    _seed("unit", UNIT_OPTIONS, "points")
    unit = bar.radio("Planning unit", UNIT_OPTIONS, key="unit", horizontal=True, format_func=str.capitalize,
                     help="Sprint scope by story points, or by issue count for teams that do not estimate.")

    if team is not None:
        scope = Scope(teams=(team,), repos=(repo,) if repo else None)
    elif org is not None and len(dims.orgs) > 1:
        scope = Scope(teams=teams, repos=(repo,) if repo else None)
    else:
        scope = Scope(teams=None, repos=(repo,) if repo else None)

    view = View(org=org, team=team, repo=repo, window=Window(start, end), grain=grain, unit=unit, scope=scope,
                first_day=dims.first_day)
    _mirror_in_url(view)
    bar.caption(f"Build `{source.build_id}` · {source.label}")
    return view


def _mirror_in_url(view: View) -> None:
    wanted = {
        "org": view.org, "team": view.team, "repo": view.repo,
        "start": view.window.start.isoformat(), "end": view.window.end.isoformat(),
        "grain": view.grain, "unit": view.unit,
    }
    present = {k: v for k, v in wanted.items() if v is not None}
    # The drilldown's selection (app/drill.py PARAMS) stays in the URL beside the filters.
    present.update({k: st.query_params[k] for k in DRILL_PARAMS if k in st.query_params})
    if {k: st.query_params.get(k) for k in st.query_params} != present:
        st.query_params.from_dict(present)


def remember(source: Source, view: View) -> None:
    st.session_state["_dashboard_source"] = source
    st.session_state["_dashboard_view"] = view


def current() -> tuple[Source, View]:
    """What the entry point resolved for this run (pages call this)."""
    return st.session_state["_dashboard_source"], st.session_state["_dashboard_view"]
