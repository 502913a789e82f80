"""Shared page pieces: the tile (value, change against the previous period, sample size) and links."""

from __future__ import annotations

from urllib.parse import urlparse

import streamlit as st

from app.queries import SMALL_SAMPLE, EmptyWarehouse, Tile
from emd import settings

DECIMALS = {"h": 1, "%": 1, "/day": 2, "days": 1, "issues": 0}
UNIT_LABELS = {"h": "hours", "%": "%", "/day": "per day", "days": "days", "issues": "issues"}


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "/day":
        return f"{value:.2f}/day"
    if unit == "h":
        return f"{value:.1f} h"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "days":
        return f"{value:.1f} days"
    return f"{value:.0f}"


def format_delta(difference: float, unit: str) -> str:
    """Signed change in the tile's unit; a rate changes by percentage points."""
    if unit == "/day":
        return f"{difference:+.2f}/day"
    if unit == "h":
        return f"{difference:+.1f} h"
    if unit == "%":
        return f"{difference:+.1f} pp"
    if unit == "days":
        return f"{difference:+.1f} days"
    return f"{difference:+.0f}"


def tile_label(tile: Tile) -> str:
    return f"{tile.label} ({UNIT_LABELS[tile.unit]})"


def tile_delta(tile: Tile, days: int) -> tuple[str | int | None, str | None]:
    """(delta for st.metric, words saying better/worse) or (None, None) without a previous value."""
    current, previous = tile.current.value, tile.previous.value
    if current is None or previous is None:
        return None, None
    difference = current - previous
    if round(difference, DECIMALS[tile.unit]) == 0:
        return 0, f"no change from the previous {days} days"  # 0 is drawn grey, without an arrow
    better = (current < previous) == tile.lower_is_better
    return format_delta(difference, tile.unit), f"{'better' if better else 'worse'} than the previous {days} days"


def sample_caption(tile: Tile) -> str:
    n = tile.current.sample
    parts = [f"n = {n} {tile.sample_noun}"]
    if n < SMALL_SAMPLE:
        parts[0] = f"⚠️ {parts[0]} (fewer than {SMALL_SAMPLE}: read with care)"
    if tile.previous_ingested:
        parts.append(f"previous: {format_value(tile.previous.value, tile.unit)}, n = {tile.previous.sample}"
                     + (f", {tile.previous_note}" if tile.previous_note else ""))
    else:
        parts.append("no comparison: the previous period was not ingested")
    if tile.note:
        parts.append(tile.note)
    return " · ".join(parts)


def render_tile(tile: Tile, days: int) -> None:
    value = format_value(tile.current.value, tile.unit)
    if tile.badge:
        value = f"{value} · {tile.badge}"
    delta, words = tile_delta(tile, days)
    st.metric(
        tile_label(tile), value, delta=delta,
        delta_color="inverse" if tile.lower_is_better else "normal",
        delta_description=words,
        help=("Lower is better." if tile.lower_is_better else "Higher is better.")
        + " Computed from the fact rows of the selected range (see docs/metrics.md).",
        border=True,
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
