"""Flow: pull request cycle time and its phases, review depth, size, PR types, and the PRs themselves."""

from __future__ import annotations

import streamlit as st

from app import charts, drill, queries, ui, view

source, current = view.current()
st.title("Flow")
st.caption(current.describe())
per = "week" if current.grain == "week" else "day"

cycle = queries.cycle_time_over_time(source, current.filters)
if cycle.empty:
    st.info("No merged pull requests in this range.")
else:
    st.altair_chart(charts.lines_over_time(cycle, {"p50_hours": "p50", "p90_hours": "p90"},
                                           f"PR cycle time per {per} (hours, open to merge)", "hours",
                                           current.grain), width="stretch")
    st.caption(f"From {int(cycle['merged_prs'].sum())} merged pull requests.")
    st.altair_chart(charts.stacked_over_time(
        cycle, {"coding_p50_hours": "coding", "pickup_p50_hours": "pickup", "review_p50_hours": "review"},
        f"Cycle time breakdown per {per}: p50 of each phase (hours)", "hours", current.grain),
        width="stretch")
    st.caption("Each phase's median is taken on its own, so the stacked medians need not add up to the "
               "cycle time median.")
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.lines_over_time(cycle, {"review_depth_avg": "reviews + comments",
                                                       "reviewers_avg": "reviewers"},
                                               f"Review depth per merged PR, mean per {per} (count)", "count",
                                               current.grain), width="stretch")
    with right:
        st.altair_chart(charts.lines_over_time(cycle, {"size_p50_lines": "p50", "size_p90_lines": "p90"},
                                               f"PR size per {per} (lines added + deleted)", "lines",
                                               current.grain), width="stretch")

st.subheader("By pull request type")
by_type = queries.flow_by_pr_type(source, current.filters)
st.dataframe(by_type, hide_index=True, width="stretch", column_config={
    "pr_type": "Type", "merged_prs": "Merged PRs",
    "cycle_time_p50_hours": st.column_config.NumberColumn("Cycle time p50 (h)", format="%.1f"),
    "cycle_time_p90_hours": st.column_config.NumberColumn("Cycle time p90 (h)", format="%.1f"),
    "size_p50_lines": st.column_config.NumberColumn("Size p50 (lines)", format="%.0f"),
    "review_depth_avg": st.column_config.NumberColumn("Review depth (mean)", format="%.1f"),
})

st.subheader("Pull requests")
prs = queries.pull_requests(source, current.filters)
if prs.empty:
    st.caption("No pull requests opened or merged in this range.")
else:
    prs.insert(0, "link", [ui.pull_request_url(r, n) for r, n in zip(prs["repo"], prs["number"], strict=True)])
    st.caption(f"Opened or merged in the range, newest first (at most 500): {len(prs)} shown.")
    st.dataframe(prs, hide_index=True, width="stretch", column_config={
        "link": st.column_config.LinkColumn("PR", display_text=r"https?://[^/]+/(.+)$"),
        "created_at": st.column_config.DatetimeColumn("Opened (UTC)"),
        "merged_at": st.column_config.DatetimeColumn("Merged (UTC)"),
        "cycle_time_hours": st.column_config.NumberColumn("Cycle time (h)", format="%.1f"),
        "time_to_first_review_hours": st.column_config.NumberColumn("First review (h)", format="%.1f"),
        "size_lines": st.column_config.NumberColumn("Size (lines)"),
    })

drill.show_quality_notes(source, current, "flow")
