"""Working agreements in the metrics layer: the rules' labels and the adherence window aggregates.

The rows are chosen in dbt (fct_agreement_subjects, fct_agreement_breaches, mv_agreement_adherence_by_team_week;
docs/metrics.md "Working agreements"); this module computes adherence over a window once, for the dashboard's
agreements page, the Sprint Health blob and anything else that asks. No Streamlit import.
"""

from __future__ import annotations

from dataclasses import dataclass

# rule -> (label with {t} = threshold, unit)
RULES: dict[str, tuple[str, str]] = {
    "first_review_within_hours": ("First review within {t} {hours}", "h"),
    "pr_open_max_days": ("PRs open at most {t} days", "days"),
    "pr_size_max_lines": ("PRs at most {t} lines", "lines"),
    "blocked_max_days": ("Blocked at most {t} days", "days"),
    "wip_max_issues": ("WIP at most {t} issues", "issues"),
    "sprint_scope_change_max_pct": ("Sprint scope change at most {t}%", "%"),
}
SUBJECT_NOUNS = {"first_review_within_hours": "PRs", "pr_open_max_days": "PRs", "pr_size_max_lines": "PRs",
                 "blocked_max_days": "blocked issues", "wip_max_issues": "hourly checks",
                 "sprint_scope_change_max_pct": "sprints"}


def _number(value: float) -> str:
    return f"{value:g}"


def rule_label(rule: str, threshold: float, working_hours: bool = False) -> str:
    """`first_review_within_hours`, 8 -> "First review within 8 working hours"."""
    template = RULES[rule][0]
    return template.format(t=_number(threshold), hours="working hours" if working_hours else "hours")


@dataclass(frozen=True)
class Adherence:
    """How often one rule held over a window: held / applied (None when nothing applied)."""

    team: str
    rule: str
    threshold: float
    is_proposed: bool
    applied: int
    breached: int

    @property
    def held(self) -> int:
        return self.applied - self.breached

    @property
    def rate(self) -> float | None:
        return self.held / self.applied if self.applied else None
