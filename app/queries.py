"""The dashboard's reads: thin Streamlit caching wrappers over the metrics layer (emd.metrics).

No SQL and no formula lives here: every number comes from emd.metrics, the layer the Sprint Health
card, the Slack post and the API read too. Results are cached with `st.cache_data(ttl=...)` keyed on
the published build (storage + build id) and the filters, so a new build makes every cached result
stale at once, and nothing lives longer than the ttl.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from emd.metrics import agreements, ai, breakdowns, filters, slos, tiles
from emd.metrics.filters import Dimensions, Filters
from emd.metrics.source import EmptyWarehouse, Source, open_source
from emd.metrics.tiles import Point, TileValue

TTL_SECONDS = 600
__all__ = ["Dimensions", "EmptyWarehouse", "Filters", "Point", "Source", "TileValue", "open_source"]


_LAYER: dict[str, Any] = {}


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=5000)
def _run(_source: Source, name: str, source_key: str, build_id: str, args: tuple) -> Any:
    return _LAYER[name](_source, *args)


def _cached(fn: Any) -> Any:
    """`fn(source, *args)` cached on its name, the build (source.key, source.build_id) and the arguments."""
    name = f"{fn.__module__}.{fn.__qualname__}"
    _LAYER[name] = fn

    def call(source: Source, *args: Any) -> Any:
        return _run(source, name, source.key, source.build_id, args)

    call.__doc__ = fn.__doc__
    return call


def _frame(found: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame(found, columns=columns) if columns is not None and not found else pd.DataFrame(found)


_dimensions = _cached(filters.dimensions)
_tiles = _cached(tiles.tiles)
_series = _cached(tiles.series)
_sprint_table = _cached(tiles.sprint_table)
_blocked_now = _cached(tiles.blocked_now)
_previous_ingested = _cached(tiles.previous_ingested)
_deployments_over_time = _cached(breakdowns.deployments_over_time)
_lead_time_over_time = _cached(breakdowns.lead_time_over_time)
_cycle_time_over_time = _cached(breakdowns.cycle_time_over_time)
_flow_by_pr_type = _cached(breakdowns.flow_by_pr_type)
_failed_deployments = _cached(breakdowns.failed_deployments)
_pull_requests = _cached(breakdowns.pull_requests)
_blocked_over_time = _cached(breakdowns.blocked_over_time)
_teams_with_sprints = _cached(breakdowns.teams_with_sprints)
_latest_cards = _cached(breakdowns.latest_cards)
_ai_impact = _cached(ai.ai_impact)


def dimensions(source: Source) -> Dimensions:
    return _dimensions(source)


def overview_tiles(source: Source, f: Filters, basis: str | None) -> list[TileValue]:
    return _tiles(source, f, basis)


def series(source: Source, key: str, f: Filters, basis: str | None = None) -> list[Point]:
    return _series(source, key, f, basis)


def previous_ingested(source: Source, f: Filters) -> bool:
    return _previous_ingested(source, f)


def sprints(source: Source, f: Filters, basis: str | None) -> pd.DataFrame:
    return _frame(_sprint_table(source, f, basis))


def blocked_issues_now(source: Source, f: Filters, as_of: datetime | None = None) -> pd.DataFrame:
    return _frame(_blocked_now(source, f, as_of))


def data_as_of(source: Source, last_day: date | None) -> datetime:
    return tiles.data_as_of(source, last_day)


DEPLOYMENT_COUNTS = ("deployments", "failed", "rework", "recovered")


def deployments_over_time(source: Source, f: Filters) -> pd.DataFrame:
    """Every day or week of the window, `period_end` the day after it: the layer's counts, 0 for a quiet
    bucket of the ingested calendar, nothing (NaN) for one never ingested -- a bar chart of counts on a time
    axis then shows quiet days as zero, not as missing."""
    found = {row["period"]: row for row in _deployments_over_time(source, f)}
    dims = dimensions(source)
    out = []
    for key, first, last in tiles.buckets(f):
        row = dict(found.get(key) or {"period": key, "recovery_p50": None,
                                      **{c: 0 if dims.ingested(first, last, "github") else None
                                         for c in DEPLOYMENT_COUNTS}})
        row["period_end"] = last + timedelta(days=1)
        out.append(row)
    return _frame(out)


def lead_time_over_time(source: Source, f: Filters) -> pd.DataFrame:
    return _frame(_lead_time_over_time(source, f))


def cycle_time_over_time(source: Source, f: Filters) -> pd.DataFrame:
    return _frame(_cycle_time_over_time(source, f))


def flow_by_pr_type(source: Source, f: Filters) -> pd.DataFrame:
    return _frame(_flow_by_pr_type(source, f), ["pr_type", "merged_prs", "cycle_time_p50_hours",
                                                 "cycle_time_p90_hours", "size_p50_lines", "review_depth_avg"])


def failed_deployments(source: Source, f: Filters) -> pd.DataFrame:
    return _frame(_failed_deployments(source, f))


def pull_requests(source: Source, f: Filters) -> pd.DataFrame:
    return _frame(_pull_requests(source, f))


def blocked_over_time(source: Source, f: Filters) -> pd.DataFrame:
    return _frame(_blocked_over_time(source, f))


def teams_with_sprints(source: Source) -> set[str]:
    return _teams_with_sprints(source)


def latest_cards(source: Source, f: Filters) -> dict[str, dict[str, Any]]:
    return _latest_cards(source, f)


parse_json = breakdowns.parse_json


# Working agreements (emd/metrics/agreements.py).
_agreement_adherence = _cached(agreements.adherence)
_weekly_adherence = _cached(agreements.weekly_adherence)
_agreement_breaches = _cached(agreements.breaches)


def agreements_available(source: Source) -> bool:
    return agreements.available(source)


def agreement_adherence(source: Source, f: Filters) -> list[agreements.Adherence]:
    return _agreement_adherence(source, f)


def weekly_adherence(source: Source, f: Filters) -> pd.DataFrame:
    return _frame(_weekly_adherence(source, f), ["team", "rule", "label", "week_start", "threshold", "is_proposed",
                                                  "applied_items", "breached_items", "held_items", "adherence_pct",
                                                  "counts_working_hours"])


def agreement_breaches(source: Source, f: Filters) -> pd.DataFrame:
    return _frame(_agreement_breaches(source, f))


_slo_reports = _cached(slos.reports)


def slos_available(source: Source) -> bool:
    return slos.available(source)


def slo_reports(source: Source, f: Filters) -> list[slos.SloReport]:
    """Every SLO in view at `f.end`, with its burn-down over its window and the deployments in [f.start, f.end]."""
    found: list[slos.SloReport] = _slo_reports(source, f, True)
    return found


def ai_impact(source: Source, f: Filters) -> ai.AiImpact:
    """AI-assisted share, AI-vs-other comparison and Copilot adoption (emd/metrics/ai.py)."""
    return _ai_impact(source, f)  # type: ignore[no-any-return]
