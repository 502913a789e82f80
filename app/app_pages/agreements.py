"""Working agreements: per team and rule, how often the agreement held over the range and per week (also weeks
before the rule was agreed, and rules a team only proposes), and the breaches in the range."""

from __future__ import annotations

import streamlit as st

from app import charts, queries, ui, view
from emd.metrics.agreements import SUBJECT_NOUNS, rule_label

source, current = view.current()
st.title("Working agreements")
st.caption(current.describe())
if current.repo:
    st.caption("Agreements are per team: the repository filter does not narrow them.")

if not queries.agreements_available(source):
    st.info("This build has no working-agreement marts (fct_agreement_breaches, fct_agreement_subjects, "
            "mv_agreement_adherence_by_team_week) yet: run the pipeline (dbt build) with this version.")
    st.stop()

weekly = queries.weekly_adherence(source, current.filters)
if weekly.empty:
    st.info("No team in this view has working agreements. Add rules under `working_agreements.<team>` in the "
            "project config (EMD_CONFIG; config.example.yaml documents them) - or `proposed:` rules, to see how "
            "often they would have held - and run the pipeline again.")
    st.stop()

working = {(r.team, r.rule) for r in weekly.itertuples() if r.counts_working_hours}
now = {(a.team, a.rule): a for a in queries.agreement_adherence(source, current.filters)}
before = {(a.team, a.rule): a for a in queries.agreement_adherence(source, current.filters.previous())}

for team in sorted({team for team, _ in now}):
    st.subheader(team)
    rules = [a for (t, _), a in sorted(now.items()) if t == team]
    columns = st.columns(min(len(rules), 3))
    for i, item in enumerate(rules):
        label = rule_label(item.rule, item.threshold, (item.team, item.rule) in working)
        if item.is_proposed:
            label += " (proposed)"
        previous = before.get((item.team, item.rule))
        value = "no data" if item.rate is None else f"{item.rate * 100:.1f}%"
        delta = None
        if item.rate is not None and previous is not None and previous.rate is not None:
            delta = f"{(item.rate - previous.rate) * 100:+.1f} pts"
        with columns[i % len(columns)]:
            st.metric(label, value, delta)
            noun = SUBJECT_NOUNS[item.rule]
            note = f"held for {item.held} of {item.applied} {noun}"
            if item.applied and item.applied < 5:
                note += " (low sample)"
            st.caption(note)

st.altair_chart(charts.agreement_adherence(weekly), width="stretch")
st.caption("Every week of the ingested history is evaluated with the rule's threshold - also the weeks before "
           "the team agreed to it, and rules it only proposes - so a team can see how often a rule would have "
           "held before turning it on. Definitions: docs/metrics.md \"Working agreements\".")

st.subheader("Breaches in this range")
found = queries.agreement_breaches(source, current.filters)
if found.empty:
    st.success("No breach in this range.")
else:
    links = []
    for row in found.itertuples():
        if row.subject_type == "pr":
            links.append(row.subject_url)
        elif row.subject_type == "issue":
            links.append(ui.jira_issue_url(row.subject_key))
        else:
            links.append(None)
    found.insert(0, "link", links)
    st.dataframe(found, hide_index=True, width="stretch", column_config={
        "link": st.column_config.LinkColumn("Link"),
        "subject_key": st.column_config.TextColumn("Subject"),
        "subject_title": st.column_config.TextColumn("Title"),
        "subject_url": None,
        "opened_at": st.column_config.DatetimeColumn("Opened (UTC)"),
        "closed_at": st.column_config.DatetimeColumn("Closed (UTC)"),
    })
