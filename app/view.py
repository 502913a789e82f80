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
from app.queries import Filters, Source
from emd.metrics.filters import utc_today

ALL_ORGS = "All organisations"
ALL_TEAMS = "All teams"
ALL_REPOS = "All repos"
DEFAULT_DAYS = 30
GRAIN_OPTIONS = ("day", "week")
# "sprint": each sprint on its own basis (points when its committed issues are estimated, else issue
# counts: mv_planning_by_sprint.planning_basis), as the Sprint Health card reads it.
UNIT_OPTIONS = ("sprint", "points", "issues")
UNIT_LABELS = {"sprint": "Each sprint's", "points": "Points", "issues": "Issues"}
# Query-string names (also the widgets' keys, so tests set widgets by these keys).
PARAMS = ("org", "team", "repo", "start", "end", "grain", "unit")
DRILL_PARAMS = ("metric", "deployment", "pr", "sprint")  # app/drill.py


@dataclass(frozen=True)
class View:
    org: str | None
    team: str | None
    repo: str | None
    filters: Filters  # what every emd.metrics question of the page takes
    unit: str
    teams: tuple[str, ...]  # the teams the view covers
    first_day: date | None = None

    @property
    def window(self) -> Filters:
        return self.filters

    @property
    def grain(self) -> str:
        return self.filters.granularity

    @property
    def basis(self) -> str | None:
        """The planning basis for emd.metrics: None = each sprint's own."""
        return None if self.unit == "sprint" else self.unit

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


def sidebar(source: Source) -> View:
    dims = queries.dimensions(source)
    bar = st.sidebar
    bar.header("Filters")

    org_options = list(dims.orgs) if len(dims.orgs) == 1 else [ALL_ORGS, *dims.orgs]
    _seed("org", org_options, org_options[0])
    org_choice = bar.selectbox("Organisation", org_options, key="org")
    org = None if org_choice == ALL_ORGS else org_choice

    teams = dims.teams_of_org(org)
    team_options = [ALL_TEAMS, *teams]
    _seed("team", team_options, ALL_TEAMS)
    team_choice = bar.selectbox("Team", team_options, key="team")
    team = None if team_choice == ALL_TEAMS else team_choice

    repo_options = [ALL_REPOS, *dims.repos([team] if team else teams)]
    _seed("repo", repo_options, ALL_REPOS)
    repo_choice = bar.selectbox("Repository", repo_options, key="repo")
    repo = None if repo_choice == ALL_REPOS else repo_choice

    latest = dims.latest_day or utc_today()
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
    _seed("unit", UNIT_OPTIONS, "sprint")
    unit = bar.radio("Planning unit", UNIT_OPTIONS, key="unit", horizontal=True, format_func=UNIT_LABELS.get,
                     help="Sprint scope by story points, or by issue count for teams that do not estimate; "
                          "\"Each sprint's\": points for a sprint whose committed issues are estimated, else "
                          "issue counts (as the Sprint Health card reads it).")

    view = View(org=org, team=team, repo=repo,
                filters=Filters(org=org, team=team, repo=repo, start=start, end=end, granularity=grain),
                unit=unit, teams=(team,) if team else teams, first_day=dims.first_day)
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
