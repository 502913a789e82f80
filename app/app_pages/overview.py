"""Overview: one tile per metric, each with its sample size and its change against the previous period."""

from __future__ import annotations

import streamlit as st

from app import drill, queries, ui, view

source, current = view.current()
st.title("Overview")
st.caption(current.describe())

TILES_PER_ROW = 3
for group, tiles in queries.overview_tiles(source, current.scope, current.window, current.unit,
                                                    current.first_day).items():
    st.subheader(group)
    if group == "Planning" and current.repo:
        st.caption("Jira data is per team: the repository filter does not narrow it.")
    if not tiles:
        st.info("No planning marts in this build yet.")
    for start in range(0, len(tiles), TILES_PER_ROW):
        columns = st.columns(TILES_PER_ROW)
        for column, tile in zip(columns, tiles[start:start + TILES_PER_ROW], strict=False):
            with column:
                ui.render_tile(tile, current.window.days)
                drill.tile_link(tile.key, current)
