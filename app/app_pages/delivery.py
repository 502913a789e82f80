"""Delivery (DORA): deployments per day or week, lead time for changes, failures and recoveries."""

from __future__ import annotations

import streamlit as st

from app import charts, drill, queries, view

source, current = view.current()
st.title("Delivery")
st.caption(current.describe())
per = "week" if current.grain == "week" else "day"

deployments = queries.deployments_over_time(source, current.filters)
if not deployments["deployments"].fillna(0).any():
    st.info("No deployments in this range.")
else:
    st.altair_chart(charts.counts_over_time(deployments, "deployments", f"Deployments per {per} (count)",
                                            current.grain), width="stretch")

lead = queries.lead_time_over_time(source, current.filters)
if lead.empty:
    st.info("No deployed pull requests with a lead time in this range.")
else:
    st.altair_chart(charts.lines_over_time(lead, {"p50": "p50", "p90": "p90"},
                                           f"Lead time for changes per {per} (hours)", "hours", current.grain),
                    width="stretch")
    st.caption(f"From {int(lead['n'].sum())} deployed pull requests; "
               "each bucket's percentiles come from that bucket's pull requests.")

st.subheader("Failures and recoveries")
if deployments["deployments"].fillna(0).any():
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.counts_over_time(deployments, "failed",
                                                f"Failed deployments per {per} (count)", current.grain,
                                                color="#e45756"), width="stretch")
    with right:
        recovered = deployments.dropna(subset=["recovery_p50"])
        if recovered.empty:
            st.info("No recovered failed deployments in this range.")
        else:
            st.altair_chart(charts.lines_over_time(recovered, {"recovery_p50": "p50"},
                                                   f"Failed deployment recovery time per {per} (hours)",
                                                   "hours", current.grain), width="stretch")
failures = queries.failed_deployments(source, current.filters)
if failures.empty:
    st.caption("No failed deployments in this range.")
else:
    st.dataframe(failures, hide_index=True, width="stretch", column_config={
        "deployed_at": st.column_config.DatetimeColumn("Deployed (UTC)"),
        "recovered_at": st.column_config.DatetimeColumn("Recovered (UTC)"),
        "recovery_hours": st.column_config.NumberColumn("Recovery (hours)", format="%.1f"),
        "is_rework": st.column_config.CheckboxColumn("Rework"),
    })

drill.show_quality_notes(source, current, "delivery")
