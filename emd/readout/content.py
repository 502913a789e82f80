"""What an executive readout says, for the org or one team, for a month (`YYYY-MM`) or a quarter
(`YYYY-Qn`) against the one before: every number asked of the metrics layer (`emd.metrics`) with the
readout's period as its Filters, nothing recomputed here.

A period is clipped to the ingested calendar (a day never ingested is unknown, not quiet); the readout
says so when it covers only part of its period, and a period without one ingested day is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from emd.metrics import agreements, slos
from emd.metrics.catalogue import CATALOGUE, DORA_BANDS, format_delta, format_value, is_better, unchanged
from emd.metrics.filters import Filters, dimensions, validate
from emd.metrics.measures import period_values
from emd.metrics.source import Source
from emd.metrics.tiles import TileValue, tiles

TREND_PERIODS = 6


class ReadoutError(ValueError):
    """Input the readout cannot be built from; the message names what to fix."""


# ------------------------------------------------------------------------------------------ periods

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Period:
    kind: str  # month | quarter
    id: str  # 2026-03 | 2026-Q1
    start: date
    end: date  # included

    def previous(self) -> Period:
        return parse_period(_shift(self, -1))


def _shift(period: Period, steps: int) -> str:
    if period.kind == "month":
        index = period.start.year * 12 + period.start.month - 1 + steps
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    index = period.start.year * 4 + (period.start.month - 1) // 3 + steps
    return f"{index // 4:04d}-Q{index % 4 + 1}"


def parse_period(text: str) -> Period:
    """`2026-03` (a month) or `2026-Q1` (a quarter); ReadoutError naming --period otherwise."""
    month, quarter = _MONTH.match(text.strip()), _QUARTER.match(text.strip().upper())
    if month:
        year, first = int(month.group(1)), int(month.group(2))
        kind, months = "month", 1
    elif quarter:
        year, first = int(quarter.group(1)), 3 * int(quarter.group(2)) - 2
        kind, months = "quarter", 3
    else:
        raise ReadoutError(f"--period {text!r} is neither a month (YYYY-MM, e.g. 2026-03) nor a quarter "
                           f"(YYYY-Qn, e.g. 2026-Q1)")
    start = date(year, first, 1)
    after = first + months
    end = date(year + (after - 1) // 12, (after - 1) % 12 + 1, 1) - timedelta(days=1)
    return Period(kind, f"{year:04d}-{first:02d}" if kind == "month" else f"{year:04d}-Q{(first + 2) // 3}",
                  start, end)


def trailing_periods(period: Period, n: int = TREND_PERIODS) -> list[Period]:
    """The `n` periods ending with `period`, oldest first."""
    return [parse_period(_shift(period, -k)) for k in range(n - 1, -1, -1)]


# ------------------------------------------------------------------------------------------ content

AREAS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # name: (title, dashboard page, catalogue keys)
    "delivery": ("Delivery (DORA)", "delivery", (
        "deployment_frequency_per_day", "lead_time_p50_hours", "change_failure_rate",
        "failed_deployment_recovery_p50_hours", "deployment_rework_rate")),
    "flow": ("Flow", "flow", (
        "cycle_time_p50_hours", "cycle_time_p90_hours", "time_to_first_review_p50_hours", "pr_rework_rate")),
    "planning": ("Planning", "planning", ("planned_vs_done_pct", "scope_change_pct", "carryover_pct")),
}
# The trend charts: each key measure over the last TREND_PERIODS periods.
TREND_KEYS = ("deployment_frequency_per_day", "lead_time_p50_hours", "change_failure_rate",
              "failed_deployment_recovery_p50_hours", "cycle_time_p50_hours", "time_to_first_review_p50_hours",
              "planned_vs_done_pct", "carryover_pct")


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    value: float | None
    previous: float | None
    sample_size: int
    band: str | None  # DORA band (catalogue.DORA_BANDS) of a DORA key
    previous_band: str | None
    text: str  # the value as the dashboard formats it
    previous_text: str
    change_text: str  # "+0.43/day", "" without a comparison
    trend: str  # better | worse | unchanged | "" (no comparison)
    link: str  # the dashboard page showing this number for the period


@dataclass(frozen=True)
class Area:
    name: str
    title: str
    measures: tuple[Measure, ...]


@dataclass(frozen=True)
class AgreementLine:
    team: str
    label: str
    held: int
    applied: int
    rate: float | None
    previous_rate: float | None


@dataclass(frozen=True)
class TrendPoint:
    period: str
    value: float | None  # None: the period was not ingested or had no sample


@dataclass
class Readout:
    org: str | None
    team: str | None
    period: Period
    previous: Period
    covered: tuple[date, date]  # the ingested days of the period
    previous_covered: tuple[date, date] | None  # None: the previous period was never ingested
    areas: tuple[Area, ...]
    agreements: tuple[AgreementLine, ...]
    slos: tuple[dict[str, Any], ...]
    trends: dict[str, tuple[TrendPoint, ...]]
    risks: tuple[str, ...]
    recommendations: tuple[str, ...]
    dashboard_url: str
    summary: str = ""
    summary_source: str = ""  # model | fallback
    summary_note: str = ""  # why the fallback was used
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return f"team {self.team}" if self.team else (f"org {self.org}" if self.org else "the organisation")

    @property
    def partial(self) -> bool:
        return self.covered != (self.period.start, self.period.end)

    @property
    def title(self) -> str:
        return f"Engineering readout {self.period.id} — {self.scope}"

    def measure(self, key: str) -> Measure:
        for area in self.areas:
            for m in area.measures:
                if m.key == key:
                    return m
        raise KeyError(key)

    def facts(self) -> dict[str, Any]:
        """The numbers the summary may use (its grounding input): values, previous values, bands."""
        return {
            "period": self.period.id, "previous_period": self.previous.id, "scope": self.scope,
            "covered": [self.covered[0].isoformat(), self.covered[1].isoformat()],
            "metrics": {m.key: {"label": m.label, "value": _rounded(m.value), "previous": [_rounded(m.previous)],
                                 "shown": m.text, "previous_shown": m.previous_text, "change": m.change_text,
                                 "trend": m.trend, "sample_size": m.sample_size, "band": m.band}
                         for area in self.areas for m in area.measures},
            "agreements": [{"team": a.team, "rule": a.label, "held": a.held, "applied": a.applied,
                            "held_pct": _rounded(None if a.rate is None else a.rate * 100)} for a in self.agreements],
            "slos": list(self.slos),
            "risks": list(self.risks),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def page_link(dashboard_url: str, page: str, filters: Filters) -> str:
    """The dashboard page with the readout's filters in its query string (DESIGN.md's names)."""
    parts = urlsplit(dashboard_url)
    wanted = {k: v for k, v in (("org", filters.org), ("team", filters.team)) if v}
    wanted |= {"start": filters.start.isoformat(), "end": filters.end.isoformat()}
    query = "&".join(q for q in (parts.query, urlencode(wanted)) if q)
    return urlunsplit((parts.scheme, parts.netloc, (parts.path or "/").rstrip("/") + "/" + page, query, ""))


def _covered(source: Source, period: Period) -> tuple[date, date] | None:
    dims = dimensions(source)
    if dims.first_day is None or dims.last_day is None:
        return None
    start, end = max(period.start, dims.first_day), min(period.end, dims.last_day)
    return (start, end) if start <= end and dims.ingested_days(start, end) > 0 else None


def _measure(tile: TileValue, before: TileValue | None, link: str) -> Measure:
    m = CATALOGUE[tile.key]
    previous = before.value if before is not None else None
    trend, change = "", ""
    if tile.value is not None and previous is not None:
        difference = tile.value - previous
        change = format_delta(m, difference)
        trend = ("unchanged" if unchanged(m, difference)
                 else "better" if is_better(m, tile.value, previous) else "worse")
    return Measure(tile.key, m.label, tile.value, previous, tile.sample_size, tile.band,
                   before.band if before is not None else None, format_value(m, tile.value),
                   format_value(m, previous), change, trend, link)


def slo_budgets(source: Source, filters: Filters) -> tuple[dict[str, Any], ...]:
    """Each SLO of the scope over its window ending at the period's last ingested day (emd.metrics.slos):
    name, team, target, sli, error_budget_remaining_pct, status; empty when none is configured."""
    return tuple({"name": r.name, "team": r.team, "target": r.target, "sli": r.sli,
                  "error_budget_remaining_pct": r.error_budget_remaining_pct, "status": r.status}
                 for r in slos.reports(source, filters))


def _risks(readout_areas: tuple[Area, ...], lines: tuple[AgreementLine, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Top risks (worsened measures, DORA keys in the low band, agreements held under 80%) and the
    catalogue's advice for each: the same texts the dashboard and the Sprint Health card use."""
    risks: list[str] = []
    advice: list[str] = []
    for area in readout_areas:
        for m in area.measures:
            spec = CATALOGUE[m.key]
            if m.trend == "worse":
                risks.append(f"{m.label} worsened from {m.previous_text} to {m.text}: {spec.impact}.")
            elif m.band == "low" and m.key in DORA_BANDS:
                risks.append(f"{m.label} is in DORA's low band at {m.text}: {spec.impact}.")
            else:
                continue
            if spec.advice not in advice:
                advice.append(spec.advice)
    for line in lines:
        if line.rate is not None and line.rate < 0.8:
            risks.append(f"{line.team}: \u201c{line.label}\u201d held for {line.held} of {line.applied}.")
    return tuple(risks[:3]), tuple(advice[:3])


def build_readout(source: Source, period: Period, *, team: str | None = None, org: str | None = None,
                  dashboard_url: str = "http://localhost:8501") -> Readout:
    """The readout's content; ReadoutError for a period without one ingested day, FilterError (naming
    `team`/`org`) for a team or org the build does not know."""
    covered = _covered(source, period)
    if covered is None:
        dims = dimensions(source)
        held = (f"{dims.first_day}..{dims.last_day}" if dims.first_day else "no ingested day at all")
        raise ReadoutError(f"--period {period.id}: no day of {period.start}..{period.end} was ingested "
                           f"(the warehouse holds {held}); run `emd pipeline --start {period.start} "
                           f"--end {period.end}` first, or choose another --period")
    filters = validate(source, Filters(org=org, team=team, start=covered[0], end=covered[1]))
    previous = period.previous()
    previous_covered = _covered(source, previous)
    now = {t.key: t for t in tiles(source, filters)}
    before: dict[str, TileValue] = {}
    previous_filters = None
    if previous_covered is not None:
        previous_filters = filters.with_range(*previous_covered)
        before = {t.key: t for t in tiles(source, previous_filters)}

    areas = []
    for name, (title, page, keys) in AREAS.items():
        link = page_link(dashboard_url, page, filters)
        areas.append(Area(name, title, tuple(_measure(now[k], before.get(k), link) for k in keys if k in now)))

    lines: list[AgreementLine] = []
    if agreements.available(source):
        earlier = {}
        if previous_filters is not None:
            earlier = {(a.team, a.rule): a.rate for a in agreements.adherence(source, previous_filters)}
        lines = [AgreementLine(a.team, a.label, a.held, a.applied, a.rate, earlier.get((a.team, a.rule)))
                 for a in agreements.adherence(source, filters) if not a.is_proposed]

    trends: dict[str, list[TrendPoint]] = {k: [] for k in TREND_KEYS}
    for p in trailing_periods(period):
        span = _covered(source, p)
        values = {}
        if span is not None:
            window = filters.with_range(*span)
            values = period_values(source, window, window.start_ts, window.end_ts, TREND_KEYS)
        for k in TREND_KEYS:
            trends[k].append(TrendPoint(p.id, values[k][0] if k in values else None))

    risks, recommendations = _risks(tuple(areas), tuple(lines))
    return Readout(org=org, team=team, period=period, previous=previous, covered=covered,
                   previous_covered=previous_covered, areas=tuple(areas), agreements=tuple(lines),
                   slos=slo_budgets(source, filters), trends={k: tuple(v) for k, v in trends.items()},
                   risks=risks, recommendations=recommendations, dashboard_url=dashboard_url)
