"""Overview: one tile per catalogue metric, with its trend, sample size, change against the previous
equal period (where that period was ingested) and, for DORA's four keys, the performance band."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app import drill, queries, ui, view
from emd.metrics.catalogue import CATALOGUE, GROUPS, dora_source_note

TILES_PER_ROW = 3
DAILY_TREND_MAX_DAYS = 28  # longer ranges draw the trend per ISO week

source, current = view.current()
st.title("Overview")
st.caption(current.describe())
f = current.filters
trend_filters = f if f.days <= DAILY_TREND_MAX_DAYS else replace(f, granularity="week")
per = "day" if trend_filters.granularity == "day" else "week"
notes = [f"Trend lines: one point per {per} of the range."]
if not queries.previous_ingested(source, f):
    notes.append(f"No comparison with the previous {f.days} days: they lie before the first ingested day "
                 f"({current.first_day.isoformat() if current.first_day else 'unknown'}), so they are unknown, "
                 "not zero.")
notes.append(dora_source_note() + " (docs/metrics.md; the report's levels for each key).")
st.caption(" ".join(notes))

tiles = queries.overview_tiles(source, f, current.basis)
for group in GROUPS:
    in_group = [t for t in tiles if CATALOGUE[t.key].group == group]
    st.subheader(group)
    if group == "Planning" and current.repo:
        st.caption("Jira data is per team: the repository filter does not narrow it.")
    if not in_group:
        st.info("No planning marts in this build yet.")
    for start in range(0, len(in_group), TILES_PER_ROW):
        columns = st.columns(TILES_PER_ROW)
        for column, tile in zip(columns, in_group[start:start + TILES_PER_ROW], strict=False):
            with column:
                trend = (queries.series(source, tile.key, trend_filters, current.basis)
                         if CATALOGUE[tile.key].series else None)
                ui.render_tile(tile, f.days, trend)
                drill.tile_link(tile.key, current)
