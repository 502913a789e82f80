"""The metric catalogue: every metric the product shows, once.

Each entry's `key` is the name the API, the Sprint Health blob, the Slack post and the dashboard's
tiles use, and (where the marts carry it per day) the mart column's name (`lead_time_p50_hours` in
`mv_dora_by_repo_day`, `cycle_time_p50_hours` in `mv_flow_by_repo_day`, `carryover_pct` in
`mv_planning_by_sprint`). Its SQL is in emd/metrics/measures.py (`METRIC_SQL`) under the same key; its definition is
in docs/metrics.md. Adding a metric means an entry here plus its SQL in measures.py, nothing else.

Units: "h" hours, "/day" per day, "rate" a fraction in [0, 1] (shown as %), "%" a percentage
(× 100, as the marts' `*_pct`), "days", "issues" (a count), "/PR" (a mean per merged PR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LOW_SAMPLE = 5  # docs/metrics.md: a value drawn from fewer than 5 items is marked

Unit = Literal["h", "/day", "rate", "%", "days", "issues", "/PR"]
UNIT_WORDS: dict[str, str] = {"h": "hours", "/day": "per day", "rate": "%", "%": "%", "days": "days",
                              "issues": "issues", "/PR": "per merged PR"}
DECIMALS: dict[str, int] = {"h": 1, "/day": 2, "rate": 1, "%": 1, "days": 1, "issues": 0, "/PR": 1}
GROUPS = ("Delivery (DORA)", "Flow", "Planning")


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # see Unit
    better: str  # "lower" | "higher"
    sample_noun: str  # what the sample size counts, over a window
    definition: str  # one line; docs/metrics.md has the full definition
    why: tuple[str, str]  # why a change matters: (when worse, when better)
    impact: str  # the probable impact of a worsening value
    advice: str  # what to do when it worsens
    series: bool  # has a series per day/week (GET /metrics/series/{key})
    dora_key: bool  # one of DORA's four keys: shows its performance band
    group: str = "Flow"  # the dashboard's tile group (GROUPS)
    card_rank: int | None = None  # place in the Sprint Health blob / card (None: not on the card)
    sprint_sample_noun: str | None = None  # the sample of one sprint's value (planning metrics)

    @property
    def in_card(self) -> bool:
        return self.card_rank is not None

    @property
    def lower_is_better(self) -> bool:
        return self.better == "lower"

    @property
    def digits(self) -> int:
        """Rounding of the Sprint Health blob's values: 3 for rates (fractions), else 2."""
        return 3 if self.unit == "rate" else 2


_METRICS: tuple[Metric, ...] = (
    # ---------------------------------------------------------------- Delivery (DORA)
    Metric("deployment_frequency_per_day", "Deployment frequency", "/day", "higher", "deployments",
           "Deployments in the window / days in the window.",
           ("changes reach users less often", "changes reach users more often"),
           "bigger batches make each release riskier",
           "Deploy on every merge to main, with feature flags for unfinished work.",
           series=True, dora_key=True, group="Delivery (DORA)", card_rank=4),
    Metric("lead_time_p50_hours", "Lead time p50", "h", "lower", "deployed PRs",
           "Median of deployment time − first commit over the PRs deployed in the window (negative ones excluded).",
           ("changes take longer to reach production", "changes reach production sooner"),
           "fixes and features reach users later",
           "Find where merged work waits before release and automate that step.",
           series=True, dora_key=True, group="Delivery (DORA)", card_rank=5),
    Metric("lead_time_p90_hours", "Lead time p90", "h", "lower", "deployed PRs",
           "90th percentile of lead time over the PRs deployed in the window.",
           ("the slowest changes take longer to ship", "fewer changes wait long to ship"),
           "a few changes wait far longer than the rest",
           "Look at the slowest deployed changes and remove the step they waited on.",
           series=True, dora_key=False, group="Delivery (DORA)"),
    Metric("change_failure_rate", "Change failure rate", "rate", "lower", "deployments",
           "Failed deployments (with an attributed hotfix, revert or incident) / deployments in the window.",
           ("more releases need a fix", "fewer releases need a fix"),
           "rework takes time from planned work",
           "Hold a short review of each failed deployment and add a test for its cause.",
           series=True, dora_key=True, group="Delivery (DORA)", card_rank=6),
    Metric("failed_deployment_recovery_p50_hours", "Failed deployment recovery time p50", "h", "lower",
           "recovered failed deployments",
           "Median of first fix (hotfix/revert deployed, incident resolved) − failed deployment, over the "
           "recovered failed deployments of the window.",
           ("failures stay unresolved longer", "failures are fixed sooner"),
           "users live with broken releases for longer",
           "Practise rollbacks and keep a one-step revert path for every service.",
           series=True, dora_key=True, group="Delivery (DORA)"),
    Metric("deployment_rework_rate", "Deployment rework rate", "rate", "lower", "deployments",
           "Deployments that carry a hotfix or revert PR / deployments in the window (DORA 2024).",
           ("more deployments are unplanned fixes", "fewer deployments are unplanned fixes"),
           "unplanned fixes crowd out planned work",
           "Track each hotfix back to its cause and add the missing check before release.",
           series=True, dora_key=False, group="Delivery (DORA)"),
    Metric("hotfix_rate", "Hotfix rate", "rate", "lower", "deployments",
           "Hotfix PRs merged in the window / deployments in the window.",
           ("more changes need an urgent fix", "fewer changes need an urgent fix"),
           "urgent fixes interrupt planned work and skip the usual checks",
           "Look at what each hotfix fixed and add the test or check that would have caught it.",
           series=True, dora_key=False, group="Delivery (DORA)", card_rank=10),
    # ---------------------------------------------------------------- Flow
    Metric("cycle_time_p50_hours", "PR cycle time p50", "h", "lower", "merged PRs",
           "Median of merged_at − created_at over the human-authored PRs merged in the window.",
           ("work takes longer to merge", "work merges faster"),
           "work may spill past the period end",
           "Split large pull requests so each merges within a day or two.",
           series=True, dora_key=False, group="Flow", card_rank=1),
    Metric("cycle_time_p90_hours", "PR cycle time p90", "h", "lower", "merged PRs",
           "90th percentile of cycle time over the human-authored PRs merged in the window.",
           ("the slowest PRs wait longer", "fewer PRs drag on"),
           "long-running PRs invite merge conflicts",
           "List the slowest open pull requests at stand-up and unblock them first.",
           series=True, dora_key=False, group="Flow", card_rank=2),
    Metric("time_to_first_review_p50_hours", "Time to first review p50", "h", "lower", "reviewed merged PRs",
           "Median of first review − ready for review over the reviewed human-authored PRs merged in the window.",
           ("authors wait longer for feedback", "authors get feedback sooner"),
           "idle PRs pile up and context switching grows",
           "Set a review rotation so every ready pull request is reviewed the same day.",
           series=True, dora_key=False, group="Flow", card_rank=3),
    Metric("review_depth_avg", "Review depth", "/PR", "higher", "merged PRs",
           "Mean of non-author, non-bot review submissions + inline review comments per human-authored PR merged "
           "in the window.",
           ("changes get less review", "changes get more review"),
           "thinly reviewed changes let defects through",
           "Ask for at least one substantive review per pull request and keep PRs small enough to read.",
           series=True, dora_key=False, group="Flow", card_rank=11),
    Metric("pr_rework_rate", "PR rework rate", "rate", "lower", "closed or merged PRs",
           "Human-authored PRs closed or merged in the window that were reopened at least once / such PRs.",
           ("more PRs are reopened", "fewer PRs are reopened"),
           "reopened work costs review time twice",
           "Agree on a definition of done for pull requests before they are closed.",
           series=True, dora_key=False, group="Flow"),
    # ---------------------------------------------------------------- Planning
    Metric("planned_vs_done_pct", "Planned vs done", "%", "higher", "completed sprints",
           "Completed committed points (or issues) / committed, pooled over the sprints completed in the window.",
           ("less committed work got done", "more committed work got done"),
           "roadmap dates slip",
           "Plan to the recent completion rate and check committed work daily.",
           series=True, dora_key=False, group="Planning", card_rank=9, sprint_sample_noun="committed issues"),
    Metric("scope_change_pct", "Scope change", "%", "lower", "completed sprints",
           "(Added + removed) / committed points (or issues), pooled over the sprints completed in the window.",
           ("the plan moved more mid-sprint", "the plan held better"),
           "commitments become unreliable for stakeholders",
           "Freeze scope after planning; send new requests to the backlog unless urgent.",
           series=True, dora_key=False, group="Planning", card_rank=7, sprint_sample_noun="committed issues"),
    Metric("carryover_pct", "Carryover", "%", "lower", "completed sprints",
           "Carryover / (completed + carryover) points (or issues), pooled over the sprints completed in the window.",
           ("more work slipped to the next sprint", "less work slipped"),
           "the next sprint starts behind",
           "Commit to less next sprint and split stories that carried over.",
           series=True, dora_key=False, group="Planning", card_rank=8, sprint_sample_noun="committed issues"),
    Metric("blocked_issues", "Blocked issues", "issues", "lower", "blocked issues",
           "Issues blocked (blocked status or Flagged) at the end of the window's last day.",
           ("more work is stuck", "less work is stuck"),
           "stuck work delays everything that depends on it",
           "Review blocked issues daily and name an owner for each blocker.",
           series=True, dora_key=False, group="Planning"),
    Metric("blocked_age_p50_days", "Blocked age p50", "days", "lower", "blocked issues",
           "Median age since each issue blocked at the end of the window's last day last became blocked.",
           ("blockers stay longer", "blockers clear sooner"),
           "long blockers turn into carryover",
           "Escalate any issue blocked for more than two days.",
           series=False, dora_key=False, group="Planning"),
)

CATALOGUE: dict[str, Metric] = {m.key: m for m in _METRICS}
# The seed's route slugs (`GET /metrics/series/cycle-time`), one per metric with a series, beside its key.
SLUGS: dict[str, str] = {
    "deployment-frequency": "deployment_frequency_per_day",
    "lead-time": "lead_time_p50_hours",
    "lead-time-p90": "lead_time_p90_hours",
    "change-failure-rate": "change_failure_rate",
    "recovery-time": "failed_deployment_recovery_p50_hours",
    "deployment-rework-rate": "deployment_rework_rate",
    "hotfix-rate": "hotfix_rate",
    "cycle-time": "cycle_time_p50_hours",
    "cycle-time-p90": "cycle_time_p90_hours",
    "time-to-first-review": "time_to_first_review_p50_hours",
    "review-depth": "review_depth_avg",
    "rework-rate": "pr_rework_rate",
    "planned-vs-done": "planned_vs_done_pct",
    "scope-change": "scope_change_pct",
    "carryover": "carryover_pct",
    "blocked-issues": "blocked_issues",
}
SLUG_OF: dict[str, str] = {key: slug for slug, key in SLUGS.items()}
# The Sprint Health card's metrics, in card order (the fallback card breaks ties in this order).
CARD_METRICS: tuple[Metric, ...] = tuple(sorted((m for m in _METRICS if m.in_card), key=lambda m: m.card_rank or 0))
PLANNING_KEYS: tuple[str, ...] = ("planned_vs_done_pct", "scope_change_pct", "carryover_pct")


def metric(key: str) -> Metric:
    """The catalogue entry of `key`; KeyError names the known keys."""
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(f"unknown metric {key!r}; known: {', '.join(CATALOGUE)}") from None


# ------------------------------------------------------------------------------------------ formatting


def _trimmed(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(m: Metric, value: float | None, *, trim: bool = False) -> str:
    """The value in the metric's unit for a reader: `12.5 h`, `0.57/day`, `37.5%` (a rate × 100),
    `3.5 days`, `3`; "—" for no value. `trim` drops trailing zeros (prose: `12 h`, not `12.0 h`)."""
    if value is None:
        return "—"
    digits = DECIMALS[m.unit]
    shown = value * 100 if m.unit == "rate" else value
    text = _trimmed(shown, digits) if trim else f"{shown:.{digits}f}"
    if m.unit == "h":
        return f"{text} h"
    if m.unit == "/day":
        return f"{text}/day"
    if m.unit in ("rate", "%"):
        return f"{text}%"
    if m.unit == "days":
        return f"{text} days"
    if m.unit == "/PR":
        return f"{text} per PR"
    return text


def format_delta(m: Metric, difference: float) -> str:
    """A signed change in the metric's unit; rates and percentages change by percentage points."""
    digits = DECIMALS[m.unit]
    if m.unit == "rate":
        return f"{difference * 100:+.{digits}f} pp"
    if m.unit == "%":
        return f"{difference:+.{digits}f} pp"
    if m.unit == "h":
        return f"{difference:+.{digits}f} h"
    if m.unit == "/day":
        return f"{difference:+.{digits}f}/day"
    if m.unit == "days":
        return f"{difference:+.{digits}f} days"
    if m.unit == "/PR":
        return f"{difference:+.{digits}f} per PR"
    return f"{difference:+.{digits}f}"


def unchanged(m: Metric, difference: float) -> bool:
    """A change that rounds to 0 at the shown precision."""
    shown = difference * 100 if m.unit == "rate" else difference
    return round(shown, DECIMALS[m.unit]) == 0


def is_better(m: Metric, current: float, previous: float) -> bool:
    return (current < previous) == m.lower_is_better


# --------------------------------------------------------------------------------- DORA performance bands


@dataclass(frozen=True)
class Band:
    """One performance band of a DORA key: the value's `measure` must be below / at most / at least the
    bound (the last band of a key has no bound: everything else)."""

    name: str  # elite | high | medium | low
    report_text: str  # the report's wording for the band
    measure: str = ""  # what the bound applies to: a catalogue key or "deployment_days_per_week_median"
    below: float | None = None
    at_most: float | None = None
    at_least: float | None = None

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        if self.below is not None and not value < self.below:
            return False
        if self.at_most is not None and not value <= self.at_most:
            return False
        if self.at_least is not None and not value >= self.at_least:  # noqa: SIM103 - one test per bound
            return False
        return True


DORA_REPORT = "Accelerate State of DevOps Report"
DORA_REPORT_YEAR = 2024
# From the report's software delivery performance levels. A value is placed in the best band whose bound
# it meets, so where the report's clusters are not ordered (2024: medium's change failure rate of 10%
# is below high's 20%; medium's recovery time equals high's) the later band is never reached by that key
# alone. Deployment frequency is tiered as docs/metrics.md defines it, from the median number of days
# per week with a deployment (7-day blocks counted back from the window's last day).
DORA_BANDS: dict[str, tuple[Band, ...]] = {
    "deployment_frequency_per_day": (
        Band("elite", "on demand (multiple deploys per day)", "deployment_days_per_week_median", at_least=3),
        Band("high", "between once per day and once per week", "deployment_days_per_week_median", at_least=1),
        Band("medium", "between once per week and once per month", "deployment_frequency_per_day",
             at_least=1 / 30),
        Band("low", "between once per month and once every six months"),
    ),
    "lead_time_p50_hours": (
        Band("elite", "less than one day", "lead_time_p50_hours", below=24),
        Band("high", "between one day and one week", "lead_time_p50_hours", below=24 * 7),
        Band("medium", "between one week and one month", "lead_time_p50_hours", below=24 * 30),
        Band("low", "between one month and six months"),
    ),
    "change_failure_rate": (
        Band("elite", "5%", "change_failure_rate", at_most=0.05),
        Band("high", "20%", "change_failure_rate", at_most=0.20),
        Band("medium", "10%", "change_failure_rate", at_most=0.10),
        Band("low", "40%"),
    ),
    "failed_deployment_recovery_p50_hours": (
        Band("elite", "less than one hour", "failed_deployment_recovery_p50_hours", below=1),
        Band("high", "less than one day", "failed_deployment_recovery_p50_hours", below=24),
        Band("medium", "less than one day", "failed_deployment_recovery_p50_hours", below=24),
        Band("low", "between one week and one month"),
    ),
}


def dora_band(key: str, measures: dict[str, float | None]) -> str | None:
    """The band of DORA key `key` given its measures (the metric's value under its key, plus
    `deployment_days_per_week_median` for deployment frequency); None without a value."""
    bands = DORA_BANDS.get(key)
    if not bands or measures.get(key) is None:
        return None
    for band in bands:
        if not band.measure or band.holds(measures.get(band.measure)):
            return band.name
    return None


def dora_source_note() -> str:
    return f"DORA performance bands from the {DORA_REPORT} {DORA_REPORT_YEAR}"
