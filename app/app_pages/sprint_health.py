"""Sprint Health: the latest card per team, with the metrics it was written from."""

from __future__ import annotations

import streamlit as st

from app import queries, view
from emd.text import markdown_escape

source, current = view.current()
st.title("Sprint Health")
st.caption("The latest card of each team: written by a model from the metrics shown under it "
           "(or by the deterministic fallback when no model answered).")

cards = queries.latest_cards(source, current.filters)
teams = list(current.teams)
for team in teams:
    st.subheader(markdown_escape(team))
    card = cards.get(team)
    if card is None:
        st.info(f"No Sprint Health card exists yet for {markdown_escape(team)}. The insights job writes one after each "
                "completed sprint (weekly for teams without sprints) when the pipeline runs.")
        continue
    generated = card["generated_at"].strftime("%Y-%m-%d %H:%M") if card["generated_at"] else "an unknown time"
    written_by = f"model {card['model']}" if card["source"] == "model" else "the deterministic fallback"
    posted = ""
    if card["slack_ts"]:
        posted = f" · posted to Slack channel {card['slack_channel']}" if card["slack_channel"] else " · posted to Slack"
    # sprint names and the card's items are outside text: escaped, so markdown in them shows as written
    st.caption(f"{markdown_escape(card['period_name'])} ({card['period_kind']} {card['period_id']}) · "
               f"written by {written_by} at {generated} UTC{posted}")
    body = queries.parse_json(card["card_json"]) or {}
    columns = st.columns(3)
    for column, (key, title) in zip(columns, (("insights", "Insights"), ("risks", "Risks"),
                                              ("recommendations", "Recommendations")), strict=True):
        with column:
            st.markdown(f"**{title}**")
            items = body.get(key) or []
            st.markdown("\n".join(f"- {markdown_escape(item)}" for item in items) if items else "_none_")
    if not body and card["card_text"]:
        st.text(card["card_text"])
    with st.expander("Metrics the card was written from"):
        metrics = queries.parse_json(card["metrics_json"])
        if metrics is None:
            st.text(card["metrics_json"] or "(none)")
        else:
            st.json(metrics)
