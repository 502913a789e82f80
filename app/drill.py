"""The dashboard's side of the drilldowns: cached calls into emd.metrics.rows, the link from a tile to
the rows behind it, and the data-quality notes a page shows.

The drilldown's selection lives in the URL query string beside the filters (app/view.py):
`?metric=<tile key>` (the rows behind a tile), `?deployment=<id>`, `?pr=<pr_id>`, `?sprint=<id>`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app.ui import counted
from emd.metrics import rows
from emd.metrics.filters import Filters

PAGE = "app_pages/drilldown.py"
# The query-string names the drilldown keeps beside the filters (app/view.py leaves them alone).
PARAMS = ("metric", "deployment", "pr", "sprint")
TTL_SECONDS = 600

def filters_of(current: Any) -> Filters:
    """The metrics layer's Filters of the sidebar's view (app/view.py View)."""
    filters: Filters = current.filters
    return filters


def filter_params(current: Any) -> dict[str, str]:
    """The filters as the query string carries them (app/view.py's names)."""
    wanted = {"org": current.org, "team": current.team, "repo": current.repo,
              "start": current.window.start.isoformat(), "end": current.window.end.isoformat(),
              "grain": current.grain, "unit": current.unit}
    return {k: v for k, v in wanted.items() if v is not None}


def tile_link(key: str, current: Any) -> None:
    """Under a tile: one click to the rows it was computed from (nothing for a tile without rows)."""
    metric = key
    if metric not in rows.DRILLS:
        return
    st.page_link(PAGE, label="Rows behind this number", icon=":material/table_rows:",
                 query_params={**filter_params(current), "metric": metric})


# ---------------------------------------------------------------------------------------------
# Cached reads (keyed on the published build; the Source itself is not hashed)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _tile_rows(_source: Any, source_key: str, build_id: str, filters: Filters, metric: str) -> pd.DataFrame:
    return rows.tile_rows(_source, filters, metric)


def tile_rows(source: Any, filters: Filters, metric: str) -> pd.DataFrame:
    return _tile_rows(source, source.key, source.build_id, filters, metric)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _tile_counts(_source: Any, source_key: str, build_id: str, filters: Filters, metric: str) -> dict[str, int]:
    return rows.tile_counts(_source, filters, metric)


def tile_counts(source: Any, filters: Filters, metric: str) -> dict[str, int]:
    return _tile_counts(source, source.key, source.build_id, filters, metric)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _quality(_source: Any, source_key: str, build_id: str, filters: Filters,
             page: str | None) -> list[rows.QualityNote]:
    return rows.data_quality(_source, filters, page)


def quality_notes(source: Any, filters: Filters, page: str | None) -> list[rows.QualityNote]:
    return _quality(source, source.key, source.build_id, filters, page)


def show_quality_notes(source: Any, current: Any, page: str) -> None:
    """The page's data-quality notes: each counted, with the rows behind the count one click away."""
    notes = [n for n in quality_notes(source, filters_of(current), page) if n.count]
    if not notes:
        return
    st.subheader("Data quality")
    for note in notes:
        with st.expander(counted(note.count, note.label)):
            st.dataframe(note.rows, hide_index=True, width="stretch")
