"""The dashboard's side of the drilldowns: cached calls into emd.metrics.rows, the link from a tile to
the rows behind it, and the data-quality notes a page shows.

The drilldown's selection lives in the URL query string beside the filters (app/view.py):
`?metric=<tile key>` (the rows behind a tile), `?deployment=<id>`, `?pr=<pr_id>`, `?sprint=<id>`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import streamlit as st

from emd.metrics import rows
from emd.metrics.filters import Filters
from emd.metrics.source import Source

PAGE = "app_pages/drilldown.py"
# The query-string names the drilldown keeps beside the filters (app/view.py leaves them alone).
PARAMS = ("metric", "deployment", "pr", "sprint")
TTL_SECONDS = 600

# The tile keys the dashboard used before the metrics layer's catalogue (app/queries.py), mapped to
# the catalogue's keys, so a tile drawn either way opens the same drilldown.
LEGACY_KEYS = {
    "deployment_frequency": "deployment_frequency_per_day",
    "lead_time_p50": "lead_time_p50_hours",
    "lead_time_p90": "lead_time_p90_hours",
    "recovery_time_p50": "failed_deployment_recovery_p50_hours",
    "cycle_time_p50": "cycle_time_p50_hours",
    "cycle_time_p90": "cycle_time_p90_hours",
    "time_to_first_review_p50": "time_to_first_review_p50_hours",
    "reopened_rate": "pr_rework_rate",
}


def layer_source(source: Any) -> Source:
    """The metrics layer's Source for the build the entry point opened (app/queries.py's Source has the
    same fields until the app reads emd.metrics directly)."""
    if isinstance(source, Source):
        return source
    return Source(**{f.name: getattr(source, f.name) for f in dataclasses.fields(Source)})


def metric_key(key: str) -> str:
    return LEGACY_KEYS.get(key, key)


def filters_of(current: Any) -> Filters:
    """The metrics layer's Filters from the sidebar's view (app/view.py View)."""
    return Filters(org=current.org, team=current.team, repo=current.repo, start=current.window.start,
                   end=current.window.end, granularity=current.grain)


def filter_params(current: Any) -> dict[str, str]:
    """The filters as the query string carries them (app/view.py's names)."""
    wanted = {"org": current.org, "team": current.team, "repo": current.repo,
              "start": current.window.start.isoformat(), "end": current.window.end.isoformat(),
              "grain": current.grain, "unit": current.unit}
    return {k: v for k, v in wanted.items() if v is not None}


def tile_link(key: str, current: Any) -> None:
    """Under a tile: one click to the rows it was computed from (nothing for a tile without rows)."""
    metric = metric_key(key)
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
        with st.expander(f"{note.count} {note.label}"):
            st.dataframe(note.rows, hide_index=True, width="stretch")
