"""AI-assisted work (docs/metrics.md "AI-assisted work"): the AI-assisted share, AI-assisted versus other PRs
side by side, and GitHub Copilot adoption per day -- asked for by the API (`GET /ai/impact`), the dashboard's
`/ai` page and the Sprint Health blob, with the same `Filters` as every other layer question (so a signed-in
user's team scope applies here too).

- Which PR is AI-assisted is decided in dbt (`fct_pull_requests.ai_assisted`, `ai_signal`); which deployment
  shipped one in `mv_ai_deployments`. This module only aggregates.
- The comparison: cycle time p50, pickup (time to first review) p50, review time p50, PR size p50 over the
  PRs merged in the window; PR rework rate over the PRs closed or merged in it; change failure rate over
  the deployments of the window that shipped at least one AI-assisted PR versus none. Coding agents' PRs
  count; other bots' do not.
- A difference (AI minus other) is given only when both samples have at least `MIN_SAMPLE` (5) items, with
  a 90% percentile-bootstrap interval: `RESAMPLES` (2,000) resamples of each side with replacement, drawn
  from numpy's PCG64 seeded with `SEED`, so the same data always gives the same interval.
- Adoption: the Copilot report's org rows (no team in scope), or the sum of the rows of the teams in scope
  that have 5 people or more (`mv_ai_adoption_by_day` has no row for smaller teams; they are listed in
  `hidden_teams`). No per-person figure is ever read here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from emd.metrics.catalogue import LOW_SAMPLE
from emd.metrics.filters import Filters, dimensions, github_where, teams_in_scope
from emd.metrics.measures import HUMAN_OR_AGENT
from emd.metrics.source import Source, as_date, number, rows

MIN_SAMPLE = LOW_SAMPLE  # docs/metrics.md: a difference needs at least 5 on both sides
RESAMPLES = 2000
SEED = 20260301
INTERVAL = (0.05, 0.95)  # a 90% interval

# The comparison's measures, in docs/metrics.md's order: key -> (label, unit, population, value column).
MEASURES: dict[str, tuple[str, str, str, str]] = {
    "cycle_time_p50_hours": ("PR cycle time p50", "h", "merged", "cycle_time_hours"),
    "pickup_p50_hours": ("Pickup (time to first review) p50", "h", "merged", "time_to_first_review_hours"),
    "review_time_p50_hours": ("Review time p50", "h", "merged", "review_hours"),
    "pr_size_p50_lines": ("PR size p50", "lines", "merged", "pr_size"),
    "pr_rework_rate": ("PR rework rate", "rate", "finished", "reopened"),
    "change_failure_rate": ("Change failure rate", "rate", "deployments", "is_failure"),
}
SAMPLE_NOUNS = {"merged": "merged PRs", "finished": "closed or merged PRs", "deployments": "deployments"}


@dataclass(frozen=True)
class Side:
    value: float | None
    sample_size: int


@dataclass(frozen=True)
class Comparison:
    key: str
    label: str
    unit: str  # h | lines | rate
    sample_noun: str
    ai: Side
    other: Side
    difference: float | None  # AI minus other; None unless both samples have MIN_SAMPLE
    interval: tuple[float, float] | None  # the 90% bootstrap interval of the difference

    @property
    def comparable(self) -> bool:
        return self.difference is not None


@dataclass(frozen=True)
class AdoptionDay:
    day: date
    daily_active_users: int
    code_generation_activity_count: int
    code_acceptance_activity_count: int


@dataclass(frozen=True)
class AiImpact:
    filters: Filters
    share: float | None  # ai_assisted_pr_share
    ai_prs: int
    merged_prs: int
    signals: dict[str, int]  # merged AI-assisted PRs per ai_signal
    comparisons: list[Comparison]
    adoption: list[AdoptionDay]
    adoption_scope: str  # "org" | "teams" | "none" (no Copilot data for the scope)
    hidden_teams: list[str] = field(default_factory=list)  # teams in scope below 5 people: no adoption shown


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Continuous percentile (linear interpolation), as DuckDB's quantile_cont and Postgres' percentile_cont."""
    if not values:
        return None
    return float(np.quantile(np.asarray(values, dtype=float), fraction))


def _median(values: Sequence[float]) -> float | None:
    return percentile(values, 0.5)


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def bootstrap_interval(ai: Sequence[float], other: Sequence[float], statistic: str,
                       resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """The 90% percentile-bootstrap interval of statistic(ai) - statistic(other) ("median" or "mean"):
    each resample draws len(ai) and len(other) items with replacement from its own side."""
    rng = np.random.default_rng(seed)
    a, o = np.asarray(ai, dtype=float), np.asarray(other, dtype=float)
    a_draws = a[rng.integers(0, len(a), size=(resamples, len(a)))]
    o_draws = o[rng.integers(0, len(o), size=(resamples, len(o)))]
    reduce: Callable[..., Any] = np.median if statistic == "median" else np.mean
    differences = reduce(a_draws, axis=1) - reduce(o_draws, axis=1)
    low, high = np.quantile(differences, INTERVAL)
    return float(low), float(high)


def compare(key: str, ai: Sequence[float], other: Sequence[float]) -> Comparison:
    """One measure side by side; the difference and its interval only when both samples are large enough."""
    label, unit, population, _column = MEASURES[key]
    statistic = "mean" if unit == "rate" else "median"
    value = _mean if statistic == "mean" else _median
    ai_value, other_value = value(ai), value(other)
    difference = interval = None
    if len(ai) >= MIN_SAMPLE and len(other) >= MIN_SAMPLE and ai_value is not None and other_value is not None:
        difference = ai_value - other_value
        interval = bootstrap_interval(ai, other, statistic)
    return Comparison(key, label, unit, SAMPLE_NOUNS[population], Side(ai_value, len(ai)),
                      Side(other_value, len(other)), difference, interval)


def _split(found: list[dict[str, Any]], flag: str, column: str) -> tuple[list[float], list[float]]:
    ai: list[float] = []
    other: list[float] = []
    for row in found:
        value = number(row.get(column))
        if value is None:
            continue
        (ai if row.get(flag) else other).append(value)
    return ai, other


def _pull_requests(source: Source, filters: Filters) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    where, params = github_where(source, filters)
    merged = rows(source, (
        "select ai_assisted, ai_signal, cycle_time_hours, time_to_first_review_hours, review_hours, "  # noqa: S608 - SQL text from this module
        "additions + deletions as pr_size from fct_pull_requests "
        f"where merged_at >= ? and merged_at < ? and {HUMAN_OR_AGENT}{where}"),
        [filters.start_ts, filters.end_ts, *params])
    finished = rows(source, (
        "select ai_assisted, case when reopened_count > 0 then 1 else 0 end as reopened from fct_pull_requests "  # noqa: S608
        f"where coalesce(merged_at, closed_at) >= ? and coalesce(merged_at, closed_at) < ? and {HUMAN_OR_AGENT}{where}"),
        [filters.start_ts, filters.end_ts, *params])
    return merged, finished


def _deployments(source: Source, filters: Filters) -> list[dict[str, Any]]:
    if not source.has("mv_ai_deployments"):
        return []
    where, params = github_where(source, filters)
    return rows(source, (
        "select ships_ai_assisted, case when is_failure then 1 else 0 end as is_failure from mv_ai_deployments "  # noqa: S608
        f"where deployed_at >= ? and deployed_at < ?{where}"), [filters.start_ts, filters.end_ts, *params])


def adoption(source: Source, filters: Filters) -> tuple[list[AdoptionDay], str, list[str]]:
    """Copilot adoption per day over the window: (days, "org" | "teams" | "none", teams hidden as too small)."""
    if not source.has("mv_ai_adoption_by_day"):
        return [], "none", []
    teams = teams_in_scope(source, filters)
    if teams is None and filters.repo is None:
        found = rows(source, "select date, daily_active_users, code_generation_activity_count, "
                             "code_acceptance_activity_count from mv_ai_adoption_by_day "
                             "where team = '*' and date >= ? and date <= ? order by date",
                     [filters.start, filters.end])
        scope, hidden = "org", []
    else:
        # A repo filter: Copilot reports have no repo, so the repo's team stands for it.
        if teams is None:
            dims = dimensions(source)
            teams = tuple(t for t in dims.teams if filters.repo in dims.repos_by_team.get(t, ()))
        marks = ", ".join("?" * len(teams)) or "null"
        shown = {r["team"] for r in rows(source, f"select distinct team from mv_ai_adoption_by_day where team in ({marks})",  # noqa: S608
                                         list(teams))}
        hidden = sorted(set(teams) - shown)
        found = rows(source, (
            "select date, sum(daily_active_users) as daily_active_users, "  # noqa: S608 - SQL text from this module
            "sum(code_generation_activity_count) as code_generation_activity_count, "
            "sum(code_acceptance_activity_count) as code_acceptance_activity_count from mv_ai_adoption_by_day "
            f"where team in ({marks}) and date >= ? and date <= ? group by date order by date"),
            [*teams, filters.start, filters.end])
        scope = "teams" if shown else "none"
    days = [AdoptionDay(d, int(number(r["daily_active_users"]) or 0),
                        int(number(r["code_generation_activity_count"]) or 0),
                        int(number(r["code_acceptance_activity_count"]) or 0))
            for r in found if (d := as_date(r["date"])) is not None]
    return days, scope if days or scope == "teams" else "none", hidden


def ai_impact(source: Source, filters: Filters) -> AiImpact:
    """The share, the comparison and the adoption of the window and scope `filters` describe."""
    merged, finished = _pull_requests(source, filters)
    deployments = _deployments(source, filters)
    comparisons = []
    for key, (_label, _unit, population, column) in MEASURES.items():
        if population == "merged":
            ai, other = _split(merged, "ai_assisted", column)
        elif population == "finished":
            ai, other = _split(finished, "ai_assisted", column)
        else:
            ai, other = _split(deployments, "ships_ai_assisted", column)
        comparisons.append(compare(key, ai, other))
    ai_prs = sum(1 for r in merged if r["ai_assisted"])
    signals: dict[str, int] = {}
    for r in merged:
        if r["ai_assisted"]:
            signals[str(r["ai_signal"])] = signals.get(str(r["ai_signal"]), 0) + 1
    days, scope, hidden = adoption(source, filters)
    return AiImpact(filters=filters, share=ai_prs / len(merged) if merged else None, ai_prs=ai_prs,
                    merged_prs=len(merged), signals=dict(sorted(signals.items())), comparisons=comparisons,
                    adoption=days, adoption_scope=scope, hidden_teams=hidden)
