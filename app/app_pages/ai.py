"""AI-assisted work: the AI-assisted share, AI-assisted versus other PRs side by side (with sample sizes and
90% bootstrap intervals), and GitHub Copilot adoption over time. Every number comes from emd/metrics/ai.py,
the same answer as `GET /ai/impact`; per-person Copilot figures are never shown."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, drill, queries, view
from emd.metrics.catalogue import CATALOGUE, format_value
from emd.text import markdown_escape

source, current = view.current()
st.title("AI-assisted work")
st.caption(current.describe())
impact = queries.ai_impact(source, current.filters)
share = CATALOGUE["ai_assisted_pr_share"]

st.metric(f"{share.label} ({impact.ai_prs} of {impact.merged_prs} merged PRs)",
          format_value(share, impact.share), border=True)
drill.tile_link("ai_assisted_pr_share", current)
if impact.signals:
    st.caption("Recognised by: " + ", ".join(f"{name.replace('_', ' ')} {count}"
                                               for name, count in impact.signals.items())
               + " (the first rule that matched, in the order of docs/metrics.md).")

st.subheader("AI-assisted versus other pull requests")


def _shown(unit: str, value: float | None) -> str:
    if value is None:
        return "—"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    return f"{value:.1f} h" if unit == "h" else f"{value:.0f} lines"


def _difference(unit: str, value: float | None) -> str:
    if value is None:
        return "not shown: fewer than 5 on a side"
    if unit == "rate":
        return f"{value * 100:+.1f} pp"
    return f"{value:+.1f} h" if unit == "h" else f"{value:+.0f} lines"


table = pd.DataFrame([{
    "Measure": c.label,
    "AI-assisted": _shown(c.unit, c.ai.value), "n (AI)": c.ai.sample_size,
    "Other": _shown(c.unit, c.other.value), "n (other)": c.other.sample_size,
    "Difference (AI − other)": _difference(c.unit, c.difference),
    "90% interval": ("—" if c.interval is None else
                     f"{_difference(c.unit, c.interval[0])} to {_difference(c.unit, c.interval[1])}"),
    "Sample": c.sample_noun,
} for c in impact.comparisons])
st.dataframe(table, hide_index=True, width="stretch")
st.caption("A difference is shown only when both sides have at least 5 items; its interval is a 90% "
           "bootstrap interval (2,000 resamples, fixed seed). Change failure rate compares deployments that "
           "shipped at least one AI-assisted PR with those that shipped none. Coding agents' PRs count; other "
           "bots' do not.")
comparable = [c for c in impact.comparisons if c.interval is not None and c.difference is not None]
for unit, title in (("h", "Differences in hours (AI minus other, 90% interval)"),
                    ("rate", "Differences in rates (AI minus other, 90% interval)")):
    chosen = [c for c in comparable if c.unit == unit]
    if chosen:
        intervals = pd.DataFrame([{"measure": c.label, "difference": c.difference,
                                   "low": (c.interval or (0.0, 0.0))[0], "high": (c.interval or (0.0, 0.0))[1]}
                                  for c in chosen])
        st.altair_chart(charts.difference_intervals(intervals, title), width="stretch")

st.subheader("GitHub Copilot adoption")
if impact.hidden_teams:
    st.caption("No adoption is shown for teams of fewer than 5 people: "
               + ", ".join(markdown_escape(t) for t in impact.hidden_teams) + ".")
if not impact.adoption:
    st.info("No Copilot usage report for this range and scope (config `ai.copilot: true` ingests GitHub "
            "Copilot's usage-metrics reports).")
else:
    adoption = pd.DataFrame([{"period": d.day, "daily_active_users": d.daily_active_users,
                              "code_generation_activity_count": d.code_generation_activity_count,
                              "code_acceptance_activity_count": d.code_acceptance_activity_count}
                             for d in impact.adoption])
    scope = "the organisation" if impact.adoption_scope == "org" else "the teams in scope (5 people or more)"
    st.altair_chart(charts.lines_over_time(adoption, {"daily_active_users": "daily active users"},
                                           f"Copilot daily active users, {scope} (people)", "people", "day"),
                    width="stretch")
    st.altair_chart(charts.lines_over_time(
        adoption, {"code_generation_activity_count": "code generation", "code_acceptance_activity_count": "acceptance"},
        "Copilot code generation and acceptance activity per day (count)", "count", "day"), width="stretch")
    st.caption("From GitHub Copilot's usage-metrics reports, summed over the scope; per-person figures are "
               "never shown.")
