"""The Sprint Health metrics blob: aggregates of one team's completed sprint (or ISO week).

The blob is what the model sees, so it holds aggregates only (numbers, sample sizes, period bounds):
never a person's name, a PR title or an issue summary, which keeps people's data out of prompts and
leaves a crafted title no way to steer the model.

Every value comes from the metrics layer (emd.metrics), the same SQL the dashboard and the API ask:
- a period is half-open [start, end): a sprint runs from `start_at` to `completed_at` (else `end_at`);
  an ISO week from Monday 00:00 UTC to the next Monday; `tiles.period_values` computes each metric
  from the fact rows of that period (the rules for which rows count are columns of the dbt facts);
- a sprint's planning metrics are its row of `mv_planning_by_sprint` on the sprint's own
  `planning_basis` (points when its committed issues are estimated, else issue counts), as the
  dashboard's default "each sprint's basis" view shows them (`tiles.completed_sprints`);
- keys, labels, units, better directions and sample nouns are the catalogue's (emd/metrics/catalogue.py,
  `CARD_METRICS`).

Presentation rules of the blob itself:
- values are rounded for the reader (2 decimals, rates 3); changes and z-scores are computed from the
  unrounded values, then rounded;
- every metric carries its value in each of the previous three periods of the same team and kind;
- anomalies: for each complete ISO week overlapping the period and each weekly metric, the z-score of
  the week's value against the trailing 8 weeks (mean and sample standard deviation of those weeks
  that have a value, at least 3 of them, not before the team's data starts); |z| >= 2 counts,
  largest |z| first, at most 5.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from emd.metrics import tiles
from emd.metrics.catalogue import CARD_METRICS, LOW_SAMPLE, PLANNING_KEYS, Metric
from emd.metrics.filters import Filters, dimensions, ingested_calendar
from emd.metrics.source import Source, number

BLOB_SCHEMA = "sprint-health-blob-v2"  # v2: catalogue keys (deployment_frequency_per_day), layer values
COMPARISON_PERIODS = 3
TRAILING_WEEKS = 8
MIN_TRAILING_VALUES = 3
Z_THRESHOLD = 2.0
MAX_ANOMALIES = 5

MART_TABLES = ("fct_pull_requests", "fct_deployments", "mv_planning_by_sprint")
WEEKLY_KEYS: tuple[str, ...] = tuple(m.key for m in CARD_METRICS if m.key not in PLANNING_KEYS)
BASIS_WORDS = {"points": "story points", "issues": "issue counts"}
ALL_TIME = (date(1900, 1, 1), date(9998, 12, 30))


class MartsMissingError(RuntimeError):
    """A mart the card needs is not in the warehouse; the message says how to build it."""


@dataclass(frozen=True)
class Period:
    team: str
    kind: str  # sprint | week
    period_id: str  # sprint id, or ISO week '2026-W12'
    name: str
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


@dataclass
class SprintRow:
    """A sprint of `mv_planning_by_sprint` on its own planning basis (tiles.sprint_table, basis None)."""

    sprint_id: str
    sprint_name: str
    team: str
    state: str
    start_at: datetime | None
    end_at: datetime | None
    completed_at: datetime | None
    committed_issues: int | None
    scope_change_pct: float | None
    carryover_pct: float | None
    planned_vs_done_pct: float | None
    planning_basis: str = "story points"  # or "issue counts" for a sprint without estimates


class TeamMetrics:
    """One team's window values, read through the metrics layer and memoized per period."""

    def __init__(self, source: Source, team: str) -> None:
        self.source = source
        self.team = team
        self.filters = Filters(team=team, start=ALL_TIME[0], end=ALL_TIME[1])
        self._values: dict[tuple[datetime, datetime], dict[str, tuple[float | None, int]]] = {}
        self.sprints = [_sprint_row(r) for r in tiles.sprint_table(source, self.filters)]
        self._bounds: tuple[datetime | None, datetime | None] | None = None

    def values(self, start: datetime, end: datetime) -> dict[str, tuple[float | None, int]]:
        """(value, sample size) of every weekly card metric over [start, end), unrounded."""
        if (start, end) not in self._values:
            self._values[(start, end)] = tiles.period_values(self.source, self.filters, start, end, WEEKLY_KEYS)
        return self._values[(start, end)]

    def _activity(self) -> tuple[datetime | None, datetime | None]:
        if self._bounds is None:
            self._bounds = tiles.activity_bounds(self.source, self.filters)
        return self._bounds

    def first_activity(self) -> datetime | None:
        return self._activity()[0]

    def last_activity(self) -> datetime | None:
        return self._activity()[1]


def _sprint_row(row: dict[str, Any]) -> SprintRow:
    return SprintRow(str(row["sprint_id"]), str(row["sprint_name"] or f"Sprint {row['sprint_id']}"),
                     row["team"] or "unassigned", str(row["state"] or "").lower(), row["start_at"], row["end_at"],
                     row["completed_at"], None if row["committed_issues"] is None else int(row["committed_issues"]),
                     number(row["scope_change_pct"]), number(row["carryover_pct"]), number(row["planned_vs_done_pct"]),
                     BASIS_WORDS.get(str(row["basis"]), str(row["basis"])))


def load_teams(source: Source, team_names: Sequence[str] = ()) -> dict[str, TeamMetrics]:
    """The teams the cards are written for: the configured ones and every team the marts know."""
    missing = [t for t in MART_TABLES if not source.has(t)]
    if missing:
        raise MartsMissingError(
            f"the warehouse has no {', '.join(missing)}: build the marts first "
            "(`emd pipeline`, or materialize marts_job in the Dagster UI)"
        )
    # Rows of no team (`unassigned`) get no card unless a team of that name is configured.
    names = sorted(set(team_names) | {t for t in dimensions(source).teams if t != "unassigned"})
    return {name: TeamMetrics(source, name) for name in names}


# ---------------------------------------------------------------------------------------------- maths


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def planning_metrics(sprint: SprintRow | None) -> dict[str, tuple[float | None, int]]:
    n = int(sprint.committed_issues or 0) if sprint else 0
    return {
        "scope_change_pct": (sprint.scope_change_pct if sprint else None, n),
        "carryover_pct": (sprint.carryover_pct if sprint else None, n),
        "planned_vs_done_pct": (sprint.planned_vs_done_pct if sprint else None, n),
    }


# -------------------------------------------------------------------------------------------- periods


def week_start(t: datetime) -> datetime:
    """Monday 00:00 of t's ISO week."""
    day = datetime(t.year, t.month, t.day)
    return day - timedelta(days=day.weekday())


def iso_week_id(monday: datetime) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def week_period(team: str, monday: datetime) -> Period:
    week_id = iso_week_id(monday)
    return Period(team, "week", week_id, f"Week {week_id}", monday, monday + timedelta(days=7))


def sprint_period(sprint: SprintRow) -> Period | None:
    end = sprint.completed_at or sprint.end_at
    if sprint.start_at is None or end is None or end <= sprint.start_at:
        return None
    return Period(sprint.team, "sprint", sprint.sprint_id, sprint.sprint_name, sprint.start_at, end)


def completed_sprints(team: TeamMetrics) -> list[tuple[Period, SprintRow]]:
    """The team's closed sprints with usable bounds, oldest first."""
    out = []
    for sprint in team.sprints:
        if sprint.state != "closed":
            continue
        period = sprint_period(sprint)
        if period is not None:
            out.append((period, sprint))
    out.sort(key=lambda pair: (pair[0].end, pair[0].period_id))
    return out


def completed_weeks(team: TeamMetrics, horizon: datetime) -> list[Period]:
    """Every ISO week from the team's first activity to the last week that ended by `horizon`, oldest first."""
    first = team.first_activity()
    if first is None:
        return []
    weeks = []
    monday = week_start(first)
    while monday + timedelta(days=7) <= horizon:
        weeks.append(week_period(team.team, monday))
        monday += timedelta(days=7)
    return weeks


# -------------------------------------------------------------------------------------------- blob


def _iso(t: datetime) -> str:
    return t.replace(microsecond=0).isoformat()


def _metric_entry(spec: Metric, current: tuple[float | None, int],
                  previous: list[tuple[float | None, int]], sample_of: str) -> dict[str, Any]:
    """Rounded for the reader; the change is computed from the unrounded values, then rounded."""
    value, n = current
    digits = spec.digits
    entry: dict[str, Any] = {
        "value": _round(value, digits),
        "sample_size": n,
        "sample_of": sample_of,
        "previous": [_round(v, digits) for v, _ in previous],
        "previous_sample_sizes": [k for _, k in previous],
        "change": None,
        "change_pct": None,
        "trend": None,
    }
    before = previous[0][0] if previous else None
    if value is not None and before is not None:
        change = round(value - before, digits)
        entry["change"] = change
        if before != 0:
            entry["change_pct"] = round((value - before) / abs(before) * 100, 1)
        if change == 0:
            entry["trend"] = "unchanged"
        else:
            worse = (change > 0) == spec.lower_is_better
            entry["trend"] = "worse" if worse else "better"
    return entry


def weekly_anomalies(team: TeamMetrics, period: Period, horizon: datetime) -> list[dict[str, Any]]:
    """Weeks overlapping the period whose value is >= 2 sample standard deviations from the trailing 8 weeks."""
    first = team.first_activity()
    if first is None:
        return []
    data_start = week_start(first)

    def weekly(monday: datetime) -> dict[str, tuple[float | None, int]]:
        return team.values(monday, monday + timedelta(days=7))

    found: list[dict[str, Any]] = []
    monday = week_start(period.start)
    while monday < period.end:
        if monday + timedelta(days=7) <= horizon and monday + timedelta(days=7) > period.start:
            trailing_mondays = [monday - timedelta(days=7 * k) for k in range(1, TRAILING_WEEKS + 1)]
            trailing_mondays = [m for m in trailing_mondays if m >= data_start]
            for spec in CARD_METRICS:
                if spec.key not in WEEKLY_KEYS:
                    continue
                value, n = weekly(monday)[spec.key]
                history = [weekly(m)[spec.key][0] for m in trailing_mondays]
                values = [v for v in history if v is not None]
                if value is None or len(values) < MIN_TRAILING_VALUES:
                    continue
                mean = statistics.fmean(values)
                stdev = statistics.stdev(values)
                if stdev == 0:
                    continue
                z = (value - mean) / stdev
                if abs(z) >= Z_THRESHOLD:
                    worse = (z > 0) == spec.lower_is_better
                    found.append({
                        "metric": spec.key,
                        "week": iso_week_id(monday),
                        "value": _round(value, spec.digits),
                        "sample_size": n,
                        "trailing_mean": _round(mean, spec.digits),
                        "trailing_stdev": _round(stdev, spec.digits),
                        "trailing_weeks_used": len(values),
                        "z_score": round(z, 2),
                        "trend": "worse" if worse else "better",
                    })
        monday += timedelta(days=7)
    found.sort(key=lambda a: (-abs(float(a["z_score"])), str(a["week"]), str(a["metric"])))
    return found[:MAX_ANOMALIES]


def build_blob(team: TeamMetrics, period: Period, previous: Sequence[Period], horizon: datetime,
               sprint_rows: dict[str, SprintRow] | None = None) -> dict[str, Any]:
    """The metrics blob of one team and period; `previous` are the prior periods, most recent first."""
    sprint_rows = sprint_rows or {}
    previous = list(previous)[:COMPARISON_PERIODS]

    def all_metrics(p: Period) -> dict[str, tuple[float | None, int]]:
        values = dict(team.values(p.start, p.end))
        if p.kind == "sprint":
            values.update(planning_metrics(sprint_rows.get(p.period_id)))
        return values

    current = all_metrics(period)
    before = [all_metrics(p) for p in previous]
    metrics = {}
    for spec in CARD_METRICS:
        if spec.key in PLANNING_KEYS and period.kind != "sprint":
            continue
        sample_of = spec.sprint_sample_noun if period.kind == "sprint" and spec.sprint_sample_noun else spec.sample_noun
        metrics[spec.key] = _metric_entry(spec, current[spec.key], [b[spec.key] for b in before], sample_of)
    return {
        "schema": BLOB_SCHEMA,
        "team": team.team,
        "period": {"kind": period.kind, "id": period.period_id, "start": _iso(period.start),
                   "end": _iso(period.end), "days": round(period.days, 2)},
        "previous_periods": [{"id": p.period_id, "start": _iso(p.start), "end": _iso(p.end)} for p in previous],
        "comparison_periods": len(previous),
        **({"planning_basis": sprint_rows[period.period_id].planning_basis}
           if period.kind == "sprint" and period.period_id in sprint_rows else {}),
        "metrics": metrics,
        "anomalies": {
            "trailing_weeks": TRAILING_WEEKS,
            "z_threshold": Z_THRESHOLD,
            "items": weekly_anomalies(team, period, horizon),
        },
        "low_sample_threshold": LOW_SAMPLE,
    }


def add_agreements(blob: dict[str, Any], source: Source) -> None:
    """The team's agreed working-agreement rules and how often each held in the period and the previous ones
    (docs/metrics.md "Working agreements": held = items it applied to that never breached it in the period;
    emd/metrics/agreements.py). Added only for a team with agreements, so other blobs (and their cached
    cards) stay as they were."""
    from emd.metrics import agreements

    if not agreements.available(source):
        return
    team = Filters(team=blob["team"])

    def of(start: str, end: str) -> dict[str, Any]:
        found = agreements.adherence(source, team, datetime.fromisoformat(start), datetime.fromisoformat(end))
        return {a.rule: a for a in found if not a.is_proposed}

    current = of(blob["period"]["start"], blob["period"]["end"])
    if not current:
        return
    before = [of(p["start"], p["end"]) for p in blob["previous_periods"]]
    entries = {}
    for rule, item in sorted(current.items()):
        previous = [b.get(rule) for b in before]
        entries[rule] = {
            "label": item.label, "threshold": item.threshold, "sample_of": agreements.SUBJECT_NOUNS[rule],
            "held_rate": _round(item.rate, 3), "held": item.held, "sample_size": item.applied,
            "previous": [_round(p.rate, 3) if p is not None else None for p in previous],
        }
    blob["agreements"] = entries


def add_slos(blob: dict[str, Any], source: Source) -> None:
    """The team's SLOs at the period's last day: window SLI, error budget remaining, that day's burn rate and the
    status (docs/metrics.md "SLOs and error budgets"; emd/metrics/slos.py), so the card can say "the checkout
    budget is at 18%". Added only for a team with SLOs, so other blobs (and their cached cards) stay as they were."""
    from emd.metrics import slos

    if not slos.available(source):
        return
    last_day = (datetime.fromisoformat(blob["period"]["end"]) - timedelta(microseconds=1)).date()
    found = slos.reports(source, Filters(team=blob["team"], start=last_day, end=last_day))
    if not found:
        return
    blob["slos"] = {r.name: {
        "service": r.service, "target": r.target, "window_days": r.window_days, "as_of": r.as_of.isoformat(),
        "sli": _round(r.sli, 5), "error_budget_remaining_pct": _round(r.error_budget_remaining_pct, 1),
        "burn_rate": _round(r.burn_rate, 2), "status": r.status or "no_data",
    } for r in found}


def canonical_json(blob: dict[str, Any]) -> str:
    return json.dumps(blob, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def metrics_hash(blob: dict[str, Any], prompt_version: str, model: str) -> str:
    """The cache key: the same blob, prompt and model never call the model twice."""
    text = "\n".join([canonical_json(blob), prompt_version, model])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PeriodBlob:
    period: Period
    blob: dict[str, Any]


def team_blobs(team: TeamMetrics, runs_sprints: bool, horizon: datetime) -> list[PeriodBlob]:
    """One blob per completed sprint (teams that run sprints) or per completed ISO week (the others)."""
    out = []
    if runs_sprints:
        sprints = completed_sprints(team)
        rows = {p.period_id: s for p, s in sprints}
        for i, (period, _) in enumerate(sprints):
            previous = [p for p, _ in reversed(sprints[max(0, i - COMPARISON_PERIODS):i])]
            out.append(PeriodBlob(period, build_blob(team, period, previous, horizon, rows)))
    else:
        weeks = completed_weeks(team, horizon)
        for i, period in enumerate(weeks):
            previous = list(reversed(weeks[max(0, i - COMPARISON_PERIODS):i]))
            out.append(PeriodBlob(period, build_blob(team, period, previous, horizon)))
    return out


def ingested_until(source: Source) -> datetime | None:
    """The end of the last ingested UTC day (emd.metrics.filters.ingested_calendar)."""
    days = ingested_calendar(source)
    last = max(days) if days else None
    return None if last is None else datetime(last.year, last.month, last.day) + timedelta(days=1)


def org_horizon(teams: dict[str, TeamMetrics], now: datetime, ingested: datetime | None = None) -> datetime:
    """Weeks count as complete up to the earlier of now and the end of the ingested range (a quiet weekend
    does not hold back last week's card); without that range, up to the newest activity in the marts."""
    if ingested is not None:
        return min(now, ingested)
    latest = [t for team in teams.values() if (t := team.last_activity()) is not None]
    return min(now, max(latest)) if latest else now
