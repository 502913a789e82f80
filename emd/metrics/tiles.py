"""Tiles: every catalogue metric's value over a window beside the previous equal period, with its
sample size, DORA band and notes. The SQL is the catalogue's (measures.py); series, sprints and the
calendar live in their own modules and are re-exported here for callers of `emd.metrics.tiles`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from emd.metrics.calendar import activity_bounds, data_as_of, previous_ingested
from emd.metrics.catalogue import CATALOGUE, LOW_SAMPLE, dora_band, format_value, metric
from emd.metrics.filters import Filters, dimensions
from emd.metrics.measures import (
    DOMAINS,
    METRIC_SQL,
    PLANNING_BASES,
    PLANNING_SUMS,
    Domain,
    MetricSql,
    aggregate,
    aggregate_periods,
    count,
    merged,
    period_values,
    pooled_basis,
    window_aggregates,
)
from emd.metrics.series import Point, buckets, series
from emd.metrics.source import Source, as_date
from emd.metrics.sprints import blocked_at_end, blocked_now, completed_sprints, sprint_table

__all__ = ["DOMAINS", "METRIC_SQL", "PLANNING_BASES", "PLANNING_SUMS", "Domain", "MetricSql", "Point", "TileValue",
           "activity_bounds", "aggregate", "aggregate_periods", "blocked_at_end", "blocked_now", "buckets",
           "completed_sprints", "data_as_of", "deployment_days", "deployment_days_per_week_median", "period_values",
           "previous_ingested", "series", "sprint_table", "tile_notes", "tiles", "window_aggregates"]


@dataclass(frozen=True)
class TileValue:
    key: str
    label: str
    value: float | None
    unit: str
    sample_size: int
    low_sample: bool
    previous: float | None  # None when the previous equal period was not ingested (or had no value)
    change: float | None  # value − previous, when both exist
    previous_ingested: bool
    previous_sample_size: int | None = None
    band: str | None = None  # DORA performance band (catalogue.DORA_BANDS) of a DORA key
    previous_band: str | None = None
    note: str = ""  # e.g. "2 failed deployment(s) not recovered yet", "oldest 5.5 days"
    basis: str | None = None  # planning tiles: "points" | "issues"



# ---------------------------------------------------------------------------------------------
# Tiles


def tiles(source: Source, filters: Filters, basis: str | None = None) -> list[TileValue]:
    """Every catalogue metric's tile for the window, in catalogue order. `basis` ("points" |
    "issues") fixes the planning ratios' basis; None: points when every pooled sprint is estimated."""
    if basis is not None and basis not in PLANNING_BASES:
        raise ValueError(f"basis must be one of {PLANNING_BASES}, not {basis!r}")
    prev = filters.previous()
    dims = dimensions(source)
    # Each metric's days are its source's ingested days (GitHub's for DORA/flow/AI, Jira's for planning): a
    # day its source was not ingested is no day of the window, and a previous period holding one has no comparison.
    calendars = {c: (previous_ingested(source, filters, c), dims.ingested_days(filters.start, filters.end, c))
                 for c in ("github", "jira")}
    by_domain: dict[str, dict[Any, dict[str, Any]]] = {}
    out: list[TileValue] = []
    for key, spec in METRIC_SQL.items():
        domain = DOMAINS[spec.domain]
        if not source.has(domain.table):
            continue
        for name in spec.domains:
            if name not in by_domain:
                by_domain[name] = window_aggregates(source, name, filters)
        current = merged(by_domain, spec, "current")
        before = merged(by_domain, spec, "previous")
        ingested, days_now = calendars[domain.scope]
        value = spec.value(current, days_now, basis)
        previous = spec.value(before, prev.days, basis) if ingested else None
        note = ""
        used_basis = None
        if spec.domain == "completed_sprints":
            used_basis = basis or pooled_basis(current)
            note = f"by {used_basis}"
        if key == "failed_deployment_recovery_p50_hours":
            unrecovered = count(current, "failed") - count(current, "recovered")
            note = f"{unrecovered} failed deployment(s) not recovered yet" if unrecovered else ""
        out.append(_tile(key, value, count(current, spec.sample), previous,
                         count(before, spec.sample) if ingested else None, ingested, note=note, basis=used_basis))
    out = _with_bands(source, filters, out, calendars["github"][0])
    if source.has("mv_planning_by_team_day") or source.has("metrics_daily"):
        ingested = calendars["jira"][0]  # blocked issues are Jira's end-of-day state
        current_b = blocked_at_end(source, filters, filters.end)
        previous_b = blocked_at_end(source, filters, prev.end) if ingested else None
        if current_b is not None:
            count_now = int(current_b["blocked"] or 0)
            count_before = None if previous_b is None else int(previous_b["blocked"] or 0)
            out.append(_tile("blocked_issues", current_b["blocked"], count_now,
                             None if previous_b is None else previous_b["blocked"], count_before, ingested,
                             note="at the end of the range's last day"))
            out.append(_tile("blocked_age_p50_days", current_b["age_p50"], count_now,
                             None if previous_b is None else previous_b["age_p50"], count_before, ingested,
                             note=current_b["note"]))
    return out


def tile_notes(tile: TileValue) -> list[str]:
    """What a reader is told beside a tile's value, in order: the sample size (marked below LOW_SAMPLE),
    the previous period's value and band, per-week deployments, and the tile's note. The dashboard's
    caption and the API's `notes` are this list."""
    m = CATALOGUE[tile.key]
    parts = [f"n = {tile.sample_size} {m.sample_noun}"]
    if tile.low_sample:
        parts[0] = f"⚠️ {parts[0]} (fewer than {LOW_SAMPLE}: read with care)"
    if tile.previous_ingested:
        previous = f"previous: {format_value(m, tile.previous)}, n = {tile.previous_sample_size}"
        if tile.previous_band:
            previous += f", previous band {tile.previous_band.capitalize()}"
        parts.append(previous)
    if tile.key == "deployment_frequency_per_day" and tile.value is not None:
        parts.append(f"{tile.value * 7:.1f} per week")
    if tile.note:
        parts.append(tile.note)
    return parts


def _tile(key: str, value: float | None, n: int, previous: float | None, previous_n: int | None,
          ingested: bool, note: str = "", basis: str | None = None) -> TileValue:
    m = metric(key)
    change = value - previous if value is not None and previous is not None else None
    return TileValue(key, m.label, value, m.unit, n, n < LOW_SAMPLE, previous, change, ingested,
                     previous_n, note=note, basis=basis)


def _with_bands(source: Source, filters: Filters, out: list[TileValue], ingested: bool) -> list[TileValue]:
    values = {t.key: t.value for t in out}
    previous = {t.key: t.previous for t in out}
    prev = filters.previous()
    # One statement for both periods' deployment days (grouped by day: no bound value in the GROUP BY).
    days = deployment_days(source, filters.with_range(prev.start, filters.end))
    values["deployment_days_per_week_median"] = deployment_days_per_week_median(days, filters)
    if ingested:
        previous["deployment_days_per_week_median"] = deployment_days_per_week_median(days, prev)
    banded = []
    for t in out:
        if CATALOGUE[t.key].dora_key:
            t = replace(t, band=dora_band(t.key, values),
                        previous_band=dora_band(t.key, previous) if ingested else None)
        banded.append(t)
    return banded


def deployment_days(source: Source, filters: Filters) -> dict[date, int]:
    """Deployments per UTC day in the window (days without deployments are absent)."""
    found = aggregate(source, "deployments", filters, "cast(deployed_at as date)", [],
                      filters.start_ts, filters.end_ts)
    return {d: count(r, "deployments") for k, r in found.items() if (d := as_date(k)) is not None}


def deployment_days_per_week_median(days_with_deployments: dict[date, int], filters: Filters) -> float:
    """docs/metrics.md: the median number of days with a deployment per 7-day block, the blocks
    counted back from the window's last day; leading days that do not fill a block are left out (a
    window shorter than a week is one block, scaled to 7 days)."""
    blocks = max(1, filters.days // 7)
    per_block: list[float] = []  # days outside the window are never looked at
    for i in range(blocks):
        block_end = filters.end - timedelta(days=7 * i)
        block_days = [block_end - timedelta(days=k) for k in range(min(7, filters.days))]
        per_block.append(sum(1 for d in block_days if days_with_deployments.get(d)))
    if filters.days < 7:
        per_block = [n * 7 / filters.days for n in per_block]
    return float(statistics.median(per_block))

