"""Working agreements in the metrics layer: the rules' labels and the adherence window aggregates.

The rows are chosen in dbt (fct_agreement_subjects, fct_agreement_breaches, mv_agreement_adherence_by_team_week;
docs/metrics.md "Working agreements"); this module computes adherence over a window once, for the dashboard's
agreements page, the Sprint Health blob and anything else that asks. No Streamlit import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from emd.metrics.filters import Filters, jira_where
from emd.metrics.source import Source, as_date, rows

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
    counts_working_hours: bool = False

    @property
    def label(self) -> str:
        return rule_label(self.rule, self.threshold, self.counts_working_hours)

    @property
    def held(self) -> int:
        return self.applied - self.breached

    @property
    def rate(self) -> float | None:
        return self.held / self.applied if self.applied else None


# ------------------------------------------------------------------------------------------ window aggregates

TABLES = ("fct_agreement_subjects", "fct_agreement_breaches", "mv_agreement_adherence_by_team_week")
_FAR = "cast('9999-12-31' as timestamp)"

# docs/metrics.md: items the rule applied to in [start, end) that had no breach overlapping it / items it applied
# to; for WIP, evaluations within the limit / evaluations. The same definition as the weekly mart
# (mv_agreement_adherence_by_team_week), for any window.
_ADHERENCE_SQL = """
with applied as (
    select team, rule, threshold, is_proposed, subject_type, subject_key, applies_from, is_breached_evaluation
    from fct_agreement_subjects
    where applies_from < ? and coalesce(applies_to, cast('9999-12-31' as timestamp)) >= ? {teams}
),
judged as (
    select a.team, a.rule, a.threshold, a.is_proposed,
           case when a.rule = 'wip_max_issues' then a.is_breached_evaluation
                else count(b.opened_at) > 0 end as is_breached
    from applied as a
    left join fct_agreement_breaches as b
        on a.rule <> 'wip_max_issues'
       and a.team = b.team and a.rule = b.rule and a.subject_type = b.subject_type and a.subject_key = b.subject_key
       and b.opened_at < ? and coalesce(b.closed_at, cast('9999-12-31' as timestamp)) > ?
    group by a.team, a.rule, a.threshold, a.is_proposed, a.subject_type, a.subject_key, a.applies_from,
             a.is_breached_evaluation
),
counted as (
    select team, rule, count(*) as applied, sum(case when is_breached then 1 else 0 end) as breached
    from judged
    group by team, rule
),
rules as (
    select distinct team, rule, threshold, is_proposed, counts_working_hours
    from mv_agreement_adherence_by_team_week where 1 = 1 {teams}
)
select r.team, r.rule, r.threshold, r.is_proposed, r.counts_working_hours, coalesce(c.applied, 0) as applied,
       coalesce(c.breached, 0) as breached
from rules as r
left join counted as c on r.team = c.team and r.rule = c.rule
order by r.team, r.rule
"""


def available(source: Source) -> bool:
    return all(source.has(t) for t in TABLES)


def _team_condition(source: Source, filters: Filters) -> tuple[str, list[Any]]:
    return jira_where(source, filters)  # agreements are per team; a repo does not narrow them


def adherence(source: Source, filters: Filters, start: datetime | None = None,
              end: datetime | None = None) -> list[Adherence]:
    """Adherence of every configured rule (agreed and proposed) of the teams in scope over [start, end)
    (default: the filters' range)."""
    start, end = start or filters.start_ts, end or filters.end_ts
    teams, params = _team_condition(source, filters)
    found = rows(source, _ADHERENCE_SQL.replace("{teams}", teams), [end, start, *params, end, start, *params])
    return [Adherence(team=r["team"], rule=r["rule"], threshold=float(r["threshold"]),
                      is_proposed=bool(r["is_proposed"]), applied=int(r["applied"]), breached=int(r["breached"]),
                      counts_working_hours=bool(r["counts_working_hours"]))
            for r in found]


def weekly_adherence(source: Source, filters: Filters) -> list[dict[str, Any]]:
    """Per team, rule and ISO week meeting the filters' range: the weekly mart's rows (every week of history is
    there, also before a rule was agreed). Columns: team, rule, label, week_start, threshold, is_proposed,
    applied_items, breached_items, held_items, adherence_pct, counts_working_hours."""
    teams, params = _team_condition(source, filters)
    first_week = filters.start - timedelta(days=filters.start.weekday())
    found = rows(source, (
        "select team, rule, week_start, threshold, is_proposed, applied_items, breached_items, held_items, "  # noqa: S608
        "adherence_pct, counts_working_hours from mv_agreement_adherence_by_team_week "  # SQL text from this module
        f"where week_start >= ? and week_start <= ? {teams} order by team, rule, week_start"),
        [first_week, filters.end, *params])
    for r in found:
        r["week_start"] = as_date(r["week_start"])
        r["label"] = rule_label(r["rule"], float(r["threshold"]), bool(r["counts_working_hours"]))
    return found


def breaches(source: Source, filters: Filters, limit: int = 500) -> list[dict[str, Any]]:
    """Breaches that were open at some moment of the filters' range, newest first."""
    teams, params = _team_condition(source, filters)
    return rows(source, (
        "select team, rule, subject_type, subject_key, threshold, is_proposed, opened_at, closed_at, "  # noqa: S608
        "subject_title, subject_url from fct_agreement_breaches "  # SQL text from this module; values bound
        f"where opened_at < ? and coalesce(closed_at, {_FAR}) > ? {teams} "
        "order by opened_at desc, subject_key limit ?"), [filters.end_ts, filters.start_ts, *params, limit])
