"""Planning: per-sprint scope (committed, added, removed, completed, carryover), trends, blocked issues."""

from __future__ import annotations

import streamlit as st

from app import charts, drill, queries, ui, view
from emd.text import markdown_escape

source, current = view.current()
st.title("Planning")
st.caption(current.describe() + " · by " + ("each sprint's own basis" if current.basis is None else current.unit))
if current.repo:
    st.caption("Jira data is per team: the repository filter does not narrow it.")

with_sprints = queries.teams_with_sprints(source)
dims = queries.dimensions(source)
in_scope = list(current.teams)
without_board = [t for t in in_scope if t not in with_sprints]


def _no_board_text(teams: list[str]) -> str:
    names = ", ".join(f"**{markdown_escape(t)}**" for t in teams)
    return (f"No Jira sprints for {names}: a team without a scrum board has nothing to plan against, so "
            "committed / completed / carryover cannot be measured. To get them, list the team's board id "
            "under `teams.<team>.jira_boards` (and `jira.boards`) in the project config (EMD_CONFIG) and run "
            "the pipeline again. Blocked issues below still come from the team's Jira projects.")


if not source.has("mv_planning_by_sprint"):
    st.info("This build has no sprint mart (mv_planning_by_sprint) yet.")
elif current.team is not None and without_board:
    st.info(_no_board_text(without_board))
else:
    if without_board:
        st.caption(_no_board_text(without_board))
    # The mart's own percentages (mv_planning_by_sprint), on the chosen basis; never recomputed here.
    sprints = queries.sprints(source, current.filters, current.basis)
    if sprints.empty:
        st.info("No sprint started or was completed in this range.")
    else:
        unit = current.unit if current.basis else "each sprint's basis"
        st.altair_chart(charts.sprint_scope(sprints, unit), width="stretch")
        closed = sprints.dropna(subset=["completed_at"])
        if not closed.empty:
            st.altair_chart(charts.sprint_trend(closed, unit), width="stretch")
        st.dataframe(sprints.drop(columns=["sprint_id", "committed_issues"]), hide_index=True, width="stretch",
                     column_config={
                         "sprint_name": st.column_config.TextColumn("Sprint"),
                         "team": st.column_config.TextColumn("Team"),
                         "state": st.column_config.TextColumn("State"),
                         "basis": st.column_config.TextColumn("Basis"),
                         "committed": st.column_config.NumberColumn("Committed", format="%g"),
                         "added": st.column_config.NumberColumn("Added", format="%g"),
                         "removed": st.column_config.NumberColumn("Removed", format="%g"),
                         "completed": st.column_config.NumberColumn("Completed", format="%g"),
                         "completed_committed": st.column_config.NumberColumn("Completed of committed",
                                                                              format="%g"),
                         "carryover": st.column_config.NumberColumn("Carryover", format="%g"),
                         "start_at": st.column_config.DatetimeColumn("Start (UTC)"),
                         "end_at": st.column_config.DatetimeColumn("End (UTC)"),
                         "completed_at": st.column_config.DatetimeColumn("Completed (UTC)"),
                         "planned_vs_done_pct": st.column_config.NumberColumn("Planned vs done %", format="%.1f"),
                         "scope_change_pct": st.column_config.NumberColumn("Scope change %", format="%.1f"),
                         "carryover_pct": st.column_config.NumberColumn("Carryover %", format="%.1f"),
                     })
        st.caption("An active sprint's completed and carryover are not final until it is completed. Sprints that "
                   "started before the first ingested day are left out: issues untouched since then were never "
                   "fetched, so their numbers would be incomplete (backfill further back to include them).")

st.subheader("Blocked issues")
if source.has("mv_planning_by_team_day"):
    trend = queries.blocked_over_time(source, current.filters)
    if not trend.empty:
        st.altair_chart(charts.blocked_trend(trend), width="stretch")
if not source.has("fct_jira_issues"):
    st.info("This build has no Jira issues mart (fct_jira_issues) yet.")
else:
    as_of_time = queries.data_as_of(source, dims.latest_day)
    blocked = queries.blocked_issues_now(source, current.filters, as_of_time)
    st.caption("Issues that count for planning (sub-tasks only when the config sets `jira.include_subtasks`; "
               "fct_jira_issues.counts_for_planning).")
    as_of = as_of_time.strftime("%Y-%m-%d %H:%M UTC")
    if blocked.empty:
        st.success(f"No issue is blocked (as of {as_of}).")
    else:
        links = [ui.jira_issue_url(k) for k in blocked["issue_key"]]
        if all(links):
            blocked.insert(0, "link", links)
        else:
            st.caption("Set JIRA_BASE_URL to link the issues to Jira.")
        st.caption(f"{ui.counted(len(blocked), 'blocked issues')}; age as of {as_of} (the build, or the end of the last "
                   "ingested day if earlier), oldest first.")
        st.dataframe(blocked, hide_index=True, width="stretch", column_config={
            "link": st.column_config.LinkColumn("Issue", display_text=r"/browse/(.+)$"),
            "blocked_since": st.column_config.DatetimeColumn("Blocked since (UTC)"),
            "blocked_days": st.column_config.NumberColumn("Blocked for (days)", format="%.1f"),
        })

drill.show_quality_notes(source, current, "planning")
