"""The Sprint Health metrics blob: aggregates of one team's completed sprint (or ISO week), from the marts.

The blob is what the model sees, so it holds aggregates only (numbers, sample sizes, period bounds):
never a person's name, a PR title or an issue summary, which keeps people's data out of prompts and
leaves a crafted title no way to steer the model.

Definitions (docs/metrics.md):
- A period is half-open [start, end): a sprint runs from `start_at` to `completed_at` (else `end_at`);
  an ISO week from Monday 00:00 UTC to the next Monday.
- Cycle time p50/p90 and time to first review p50: PRs merged in the period (the merged-PR cohort of
  mv_flow_by_repo_day), bot authors left out. Lead time p50: PRs deployed in the period (negative lead
  times are NULL in fct_pull_requests, and excluded).
  Percentiles are continuous (linear interpolation, like `quantile_cont`) over the fact rows.
- Deployments per day: deployments in the period / the period's length in days.
  Change failure rate: failed deployments / deployments in the period (None without deployments).
- Scope change %, carryover %, planned vs done %: the sprint's row of `mv_planning_by_sprint`, by
  points, or by issue count for a sprint with no committed points (weeks have no planning metrics).
- Values are rounded for the reader (2 decimals, rates 3); changes and z-scores are computed from the
  unrounded values, then rounded.
- Every metric carries its value in each of the previous three periods of the same team and kind.
- Anomalies: for each complete ISO week overlapping the period and each weekly metric, the z-score of
  the week's value against the trailing 8 weeks (mean and sample standard deviation of those weeks
  that have a value, at least 3 of them, not before the team's data starts); |z| >= 2 counts,
  largest |z| first, at most 5.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

BLOB_SCHEMA = "sprint-health-blob-v1"
COMPARISON_PERIODS = 3
TRAILING_WEEKS = 8
MIN_TRAILING_VALUES = 3
Z_THRESHOLD = 2.0
MAX_ANOMALIES = 5
LOW_SAMPLE = 5

MART_TABLES = ("fct_pull_requests", "fct_deployments", "mv_planning_by_sprint")


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    unit: str  # "h" (hours), "/day", "rate" (fraction shown as %), "%"
    lower_is_better: bool
    sample_of: str
    weekly: bool  # computed per ISO week for anomalies (planning metrics are per sprint only)


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("cycle_time_p50_hours", "Cycle time p50", "h", True, "merged PRs", True),
    MetricSpec("cycle_time_p90_hours", "Cycle time p90", "h", True, "merged PRs", True),
    MetricSpec("time_to_first_review_p50_hours", "Time to first review p50", "h", True, "reviewed PRs", True),
    MetricSpec("deploys_per_day", "Deployments per day", "/day", False, "deployments", True),
    MetricSpec("lead_time_p50_hours", "Lead time p50", "h", True, "deployed PRs", True),
    MetricSpec("change_failure_rate", "Change failure rate", "rate", True, "deployments", True),
    MetricSpec("scope_change_pct", "Scope change", "%", True, "committed issues", False),
    MetricSpec("carryover_pct", "Carryover", "%", True, "committed issues", False),
    MetricSpec("planned_vs_done_pct", "Planned vs done", "%", False, "committed issues", False),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}
PLANNING_KEYS = ("scope_change_pct", "carryover_pct", "planned_vs_done_pct")


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
class PullRequestFacts:
    merged_at: datetime | None
    cycle_time_hours: float | None
    first_review_at: datetime | None
    time_to_first_review_hours: float | None
    deployed_at: datetime | None
    lead_time_hours: float | None


@dataclass
class DeploymentFacts:
    deployed_at: datetime
    is_failure: bool


@dataclass
class SprintRow:
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


@dataclass
class TeamFacts:
    team: str
    pull_requests: list[PullRequestFacts] = field(default_factory=list)
    deployments: list[DeploymentFacts] = field(default_factory=list)
    sprints: list[SprintRow] = field(default_factory=list)

    def first_activity(self) -> datetime | None:
        """The first merge or deployment (a review alone may belong to a PR from before the ingested range)."""
        stamps = [d.deployed_at for d in self.deployments]
        for pr in self.pull_requests:
            stamps += [t for t in (pr.merged_at, pr.deployed_at) if t is not None]
        return min(stamps) if stamps else None

    def last_activity(self) -> datetime | None:
        stamps = [d.deployed_at for d in self.deployments]
        for pr in self.pull_requests:
            stamps += [t for t in (pr.merged_at, pr.first_review_at, pr.deployed_at) if t is not None]
        return max(stamps) if stamps else None


# ---------------------------------------------------------------------------------------------- maths


def quantile_cont(values: Sequence[float], q: float) -> float | None:
    """Continuous percentile with linear interpolation, as DuckDB `quantile_cont` / Postgres `percentile_cont`."""
    xs = sorted(values)
    if not xs:
        return None
    pos = q * (len(xs) - 1)
    lower = math.floor(pos)
    upper = min(lower + 1, len(xs) - 1)
    return xs[lower] + (xs[upper] - xs[lower]) * (pos - lower)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _in(t: datetime | None, start: datetime, end: datetime) -> bool:
    return t is not None and start <= t < end


def period_metrics(facts: TeamFacts, start: datetime, end: datetime) -> dict[str, tuple[float | None, int]]:
    """(value, sample size) of every non-planning metric over [start, end), unrounded."""
    merged = [pr.cycle_time_hours for pr in facts.pull_requests
              if _in(pr.merged_at, start, end) and pr.cycle_time_hours is not None]
    reviewed = [pr.time_to_first_review_hours for pr in facts.pull_requests
                if _in(pr.merged_at, start, end) and pr.time_to_first_review_hours is not None]
    deployed = [pr.lead_time_hours for pr in facts.pull_requests
                if _in(pr.deployed_at, start, end) and pr.lead_time_hours is not None and pr.lead_time_hours >= 0]
    deploys = [d for d in facts.deployments if _in(d.deployed_at, start, end)]
    days = (end - start).total_seconds() / 86400
    failed = sum(1 for d in deploys if d.is_failure)
    return {
        "cycle_time_p50_hours": (quantile_cont(merged, 0.5), len(merged)),
        "cycle_time_p90_hours": (quantile_cont(merged, 0.9), len(merged)),
        "time_to_first_review_p50_hours": (quantile_cont(reviewed, 0.5), len(reviewed)),
        "deploys_per_day": (len(deploys) / days if days > 0 else None, len(deploys)),
        "lead_time_p50_hours": (quantile_cont(deployed, 0.5), len(deployed)),
        "change_failure_rate": (failed / len(deploys) if deploys else None, len(deploys)),
    }


def planning_metrics(sprint: SprintRow | None) -> dict[str, tuple[float | None, int]]:
    n = int(sprint.committed_issues or 0) if sprint else 0
    return {
        "scope_change_pct": (sprint.scope_change_pct if sprint else None, n),
        "carryover_pct": (sprint.carryover_pct if sprint else None, n),
        "planned_vs_done_pct": (sprint.planned_vs_done_pct if sprint else None, n),
    }


def _digits(spec: MetricSpec) -> int:
    return 3 if spec.unit == "rate" else 2


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


def completed_sprints(facts: TeamFacts) -> list[tuple[Period, SprintRow]]:
    """The team's closed sprints with usable bounds, oldest first."""
    out = []
    for sprint in facts.sprints:
        if sprint.state != "closed":
            continue
        period = sprint_period(sprint)
        if period is not None:
            out.append((period, sprint))
    out.sort(key=lambda pair: (pair[0].end, pair[0].period_id))
    return out


def completed_weeks(facts: TeamFacts, horizon: datetime) -> list[Period]:
    """Every ISO week from the team's first activity to the last week that ended by `horizon`, oldest first."""
    first = facts.first_activity()
    if first is None:
        return []
    weeks = []
    monday = week_start(first)
    while monday + timedelta(days=7) <= horizon:
        weeks.append(week_period(facts.team, monday))
        monday += timedelta(days=7)
    return weeks


# -------------------------------------------------------------------------------------------- blob


def _iso(t: datetime) -> str:
    return t.replace(microsecond=0).isoformat()


def _metric_entry(spec: MetricSpec, current: tuple[float | None, int],
                  previous: list[tuple[float | None, int]]) -> dict[str, Any]:
    """Rounded for the reader; the change is computed from the unrounded values, then rounded."""
    value, n = current
    digits = _digits(spec)
    entry: dict[str, Any] = {
        "value": _round(value, digits),
        "sample_size": n,
        "sample_of": spec.sample_of,
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


def weekly_anomalies(facts: TeamFacts, period: Period, horizon: datetime,
                     metrics_of: Callable[[datetime, datetime], dict[str, tuple[float | None, int]]] | None = None,
                     ) -> list[dict[str, Any]]:
    """Weeks overlapping the period whose value is >= 2 sample standard deviations from the trailing 8 weeks."""
    first = facts.first_activity()
    if first is None:
        return []
    data_start = week_start(first)
    metrics_of = metrics_of or (lambda s, e: period_metrics(facts, s, e))
    cache: dict[datetime, dict[str, tuple[float | None, int]]] = {}

    def weekly(monday: datetime) -> dict[str, tuple[float | None, int]]:
        if monday not in cache:
            cache[monday] = metrics_of(monday, monday + timedelta(days=7))
        return cache[monday]

    found: list[dict[str, Any]] = []
    monday = week_start(period.start)
    while monday < period.end:
        if monday + timedelta(days=7) <= horizon and monday + timedelta(days=7) > period.start:
            trailing_mondays = [monday - timedelta(days=7 * k) for k in range(1, TRAILING_WEEKS + 1)]
            trailing_mondays = [m for m in trailing_mondays if m >= data_start]
            for spec in METRICS:
                if not spec.weekly:
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
                        "value": _round(value, _digits(spec)),
                        "sample_size": n,
                        "trailing_mean": _round(mean, _digits(spec)),
                        "trailing_stdev": _round(stdev, _digits(spec)),
                        "trailing_weeks_used": len(values),
                        "z_score": round(z, 2),
                        "trend": "worse" if worse else "better",
                    })
        monday += timedelta(days=7)
    found.sort(key=lambda a: (-abs(float(a["z_score"])), str(a["week"]), str(a["metric"])))
    return found[:MAX_ANOMALIES]


def build_blob(facts: TeamFacts, period: Period, previous: Sequence[Period], horizon: datetime,
               sprint_rows: dict[str, SprintRow] | None = None) -> dict[str, Any]:
    """The metrics blob of one team and period; `previous` are the prior periods, most recent first."""
    sprint_rows = sprint_rows or {}
    previous = list(previous)[:COMPARISON_PERIODS]

    def all_metrics(p: Period) -> dict[str, tuple[float | None, int]]:
        values = period_metrics(facts, p.start, p.end)
        if p.kind == "sprint":
            values.update(planning_metrics(sprint_rows.get(p.period_id)))
        return values

    current = all_metrics(period)
    before = [all_metrics(p) for p in previous]
    metrics = {}
    for spec in METRICS:
        if spec.key in PLANNING_KEYS and period.kind != "sprint":
            continue
        metrics[spec.key] = _metric_entry(spec, current[spec.key], [b[spec.key] for b in before])
    return {
        "schema": BLOB_SCHEMA,
        "team": facts.team,
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
            "items": weekly_anomalies(facts, period, horizon),
        },
        "low_sample_threshold": LOW_SAMPLE,
    }


def add_agreements(blob: dict[str, Any], conn: Any, kind: str) -> None:
    """The team's agreed working-agreement rules and how often each held in the period and the previous ones
    (docs/metrics.md "Working agreements": held = items it applied to that never breached it in the period;
    emd/metrics/agreements.py). Added only for a team with agreements, so other blobs (and their cached
    cards) stay as they were."""
    from emd.metrics.agreements import SUBJECT_NOUNS, team_adherence

    def of(start: str, end: str) -> dict[str, Any]:
        found = team_adherence(conn, kind, blob["team"], datetime.fromisoformat(start), datetime.fromisoformat(end))
        return {a.rule: a for a in found if not a.is_proposed}

    current = of(blob["period"]["start"], blob["period"]["end"])
    if not current:
        return
    before = [of(p["start"], p["end"]) for p in blob["previous_periods"]]
    entries = {}
    for rule, item in sorted(current.items()):
        previous = [b.get(rule) for b in before]
        entries[rule] = {
            "label": item.label, "threshold": item.threshold, "sample_of": SUBJECT_NOUNS[rule],
            "held_rate": _round(item.rate, 3), "held": item.held, "sample_size": item.applied,
            "previous": [_round(p.rate, 3) if p is not None else None for p in previous],
        }
    blob["agreements"] = entries


def canonical_json(blob: dict[str, Any]) -> str:
    return json.dumps(blob, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def metrics_hash(blob: dict[str, Any], prompt_version: str, model: str) -> str:
    """The cache key: the same blob, prompt and model never call the model twice."""
    text = "\n".join([canonical_json(blob), prompt_version, model])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -------------------------------------------------------------------------------------------- reading


def _fetch(conn: Any, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


def _table_exists(conn: Any, table: str, kind: str) -> bool:
    ph = "?" if kind == "duckdb" else "%s"
    sql = f"select count(*) from information_schema.tables where table_name = {ph}"  # noqa: S608 - placeholder only
    return bool(conn.execute(sql, [table]).fetchone()[0])


def load_team_facts(conn: Any, kind: str) -> dict[str, TeamFacts]:
    """Every team's PR, deployment and sprint rows from the marts (only the columns the blob needs)."""
    missing = [t for t in MART_TABLES if not _table_exists(conn, t, kind)]
    if missing:
        raise MartsMissingError(
            f"the warehouse has no {', '.join(missing)}: build the marts first "
            "(`emd pipeline`, or materialize marts_job in the Dagster UI)"
        )
    teams: dict[str, TeamFacts] = {}

    def team(name: str | None) -> TeamFacts:
        key = name or "unassigned"
        if key not in teams:
            teams[key] = TeamFacts(key)
        return teams[key]

    # Flow metrics measure people: bot-authored PRs are left out of cycle time and review time, as in
    # mv_flow_by_repo_day; lead time is a delivery metric and keeps every deployed PR, as in mv_dora_by_repo_day.
    for row in _fetch(conn, "select team, is_bot_author, merged_at, cycle_time_hours, first_review_at, "
                            "time_to_first_review_hours, deployed_at, lead_time_hours from fct_pull_requests"):
        is_bot = bool(row[1])
        team(row[0]).pull_requests.append(PullRequestFacts(
            row[2], None if is_bot else _float(row[3]), row[4], None if is_bot else _float(row[5]),
            row[6], _float(row[7])))
    for row in _fetch(conn, "select team, deployed_at, is_failure from fct_deployments where deployed_at is not null"):
        team(row[0]).deployments.append(DeploymentFacts(row[1], bool(row[2])))
    # Teams that do not estimate (no committed points) read the issue-count forms of the three percentages.
    for row in _fetch(conn, "select sprint_id, sprint_name, team, state, start_at, end_at, completed_at, "
                            "committed_issues, committed_points, "
                            "scope_change_pct, carryover_pct, planned_vs_done_pct, "
                            "scope_change_issues_pct, carryover_issues_pct, planned_vs_done_issues_pct "
                            # A sprint that started before the first ingested day may miss issues: left out.
                            "from mv_planning_by_sprint where history_complete"):
        by_points = row[8] is not None and float(row[8]) > 0
        pcts = row[9:12] if by_points else row[12:15]
        team(row[2]).sprints.append(SprintRow(
            str(row[0]), str(row[1] or f"Sprint {row[0]}"), row[2] or "unassigned", str(row[3] or "").lower(),
            row[4], row[5], row[6], row[7], _float(pcts[0]), _float(pcts[1]), _float(pcts[2]),
            "story points" if by_points else "issue counts"))
    return teams


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class PeriodBlob:
    period: Period
    blob: dict[str, Any]


def team_blobs(facts: TeamFacts, runs_sprints: bool, horizon: datetime) -> list[PeriodBlob]:
    """One blob per completed sprint (teams that run sprints) or per completed ISO week (the others)."""
    out = []
    if runs_sprints:
        sprints = completed_sprints(facts)
        rows = {p.period_id: s for p, s in sprints}
        for i, (period, _) in enumerate(sprints):
            previous = [p for p, _ in reversed(sprints[max(0, i - COMPARISON_PERIODS):i])]
            out.append(PeriodBlob(period, build_blob(facts, period, previous, horizon, rows)))
    else:
        weeks = completed_weeks(facts, horizon)
        for i, period in enumerate(weeks):
            previous = list(reversed(weeks[max(0, i - COMPARISON_PERIODS):i]))
            out.append(PeriodBlob(period, build_blob(facts, period, previous, horizon)))
    return out


def ingested_until(conn: Any, kind: str) -> datetime | None:
    """The end of the last ingested UTC day: mv_dora_by_repo_day is dense over the ingested range."""
    if not _table_exists(conn, "mv_dora_by_repo_day", kind):
        return None
    last = conn.execute("select max(date) from mv_dora_by_repo_day").fetchone()[0]
    if last is None:
        return None
    return datetime(last.year, last.month, last.day) + timedelta(days=1)


def org_horizon(all_facts: dict[str, TeamFacts], now: datetime, ingested: datetime | None = None) -> datetime:
    """Weeks count as complete up to the earlier of now and the end of the ingested range (a quiet weekend
    does not hold back last week's card); without that range, up to the newest activity in the marts."""
    if ingested is not None:
        return min(now, ingested)
    latest = [t for f in all_facts.values() if (t := f.last_activity()) is not None]
    return min(now, max(latest)) if latest else now
