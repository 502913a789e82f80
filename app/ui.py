"""Shared page pieces: the tile (value, trend, change against the previous period, sample size) and links.

Labels, units, formatting and the low-sample threshold come from the metric catalogue
(emd/metrics/catalogue.py); the values from emd.metrics (app/queries.py caches them).
"""

from __future__ import annotations

from urllib.parse import urlparse

import streamlit as st

from app.queries import EmptyWarehouse, Point, TileValue
from emd import settings
from emd.metrics.catalogue import (
    CATALOGUE,
    UNIT_WORDS,
    format_delta,
    format_value,
    is_better,
    unchanged,
)
from emd.metrics.tiles import tile_notes


def tile_label(tile: TileValue) -> str:
    return f"{tile.label} ({UNIT_WORDS[tile.unit]})"


def tile_delta(tile: TileValue, days: int) -> tuple[str | int | None, str | None]:
    """(delta for st.metric, words saying better/worse) or (None, None) without a previous value."""
    if tile.change is None or tile.value is None or tile.previous is None:
        return None, None
    m = CATALOGUE[tile.key]
    if unchanged(m, tile.change):
        return 0, f"no change from the previous {days} days"  # 0 is drawn grey, without an arrow
    better = is_better(m, tile.value, tile.previous)
    return format_delta(m, tile.change), f"{'better' if better else 'worse'} than the previous {days} days"


def sample_caption(tile: TileValue) -> str:
    return " · ".join(tile_notes(tile))


def render_tile(tile: TileValue, days: int, trend: list[Point] | None = None) -> None:
    m = CATALOGUE[tile.key]
    value = format_value(m, tile.value)
    if tile.band:
        value = f"{value} · {tile.band.capitalize()}"
    delta, words = tile_delta(tile, days)
    # The trend line: one point per day or week of the range that has a value (a percentile or rate of
    # an empty bucket has none and is skipped; a count of an empty bucket is 0).
    chart = [p.value * 100 if m.unit == "rate" else p.value for p in trend or [] if p.value is not None]
    st.metric(
        tile_label(tile), value, delta=delta,
        delta_color="inverse" if m.lower_is_better else "normal",
        delta_description=words,
        help=f"{m.definition} {'Lower' if m.lower_is_better else 'Higher'} is better. "
             "Computed from the fact rows of the selected range (docs/metrics.md).",
        border=True,
        chart_data=chart if len(chart) >= 2 else None,
        chart_type="line",
    )
    st.caption(sample_caption(tile))


def show_empty(empty: EmptyWarehouse) -> None:
    st.title("Engineering metrics")
    st.warning(empty.reason)
    if empty.commands:
        st.markdown("Fill the warehouse with one of:")
        st.code("\n".join(empty.commands), language="bash")


def github_web_url() -> str:
    """github.com, or the GitHub Enterprise Server host when GITHUB_API_URL ends in /api/v3."""
    api = settings.github_api_url()
    if api.endswith("/api/v3"):
        parsed = urlparse(api)
        return f"{parsed.scheme}://{parsed.netloc}"
    return "https://github.com"


def pull_request_url(repo: str, number: int) -> str:
    return f"{github_web_url()}/{repo}/pull/{int(number)}"


def jira_issue_url(key: str) -> str | None:
    base = settings.env("JIRA_BASE_URL")
    return f"{base.rstrip('/')}/browse/{key}" if base else None
