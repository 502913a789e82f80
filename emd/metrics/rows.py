"""The rows behind a number: what a tile was computed from, and one deployment, PR or sprint in full.

- Which rows count for a tile is the metrics layer's own rule (emd/metrics/tiles.py `DOMAINS`: the
  fact table, its time column, its row condition): the list a tile opens onto is those rows in the
  window, so a person recomputes the tile's value from them by hand.
- Why a row is what it is was decided in dbt (fct_failure_signals: the attribution and its reason;
  fct_sprint_issues: the role, the points at the moment that counts, the changelog entry that
  placed the issue; the data-quality flag columns on the facts); this module only reads them.
- Values are bound parameters; the only text put into SQL comes from this module's constants and
  the layer's DOMAINS. No Streamlit: the dashboard caches the results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from emd.metrics.filters import Filters, github_where, jira_where
from emd.metrics.measures import DOMAINS, domain_where, in_calendar
from emd.metrics.source import Source, frame, number, rows

LIST_LIMIT = 2000  # rows a list shows; the counts above it (tile_counts) are over every row


@dataclass(frozen=True)
class Drill:
    """What a tile opens onto: the subject of its rows, the layer's domain that chooses them, and how
    the tile's value follows from them (said on the page)."""

    metric: str
    subject: str  # deployments | pull_requests | sprints
    domain: str  # a key of emd.metrics.tiles.DOMAINS
    recompute: str
    order: str  # the list's order (SQL text of this module)


_DEPLOYMENTS_ORDER = "deployed_at desc, deployment_id"
DRILLS: dict[str, Drill] = {d.metric: d for d in (
    Drill("deployment_frequency_per_day", "deployments", "deployments",
          "deployments listed ÷ days in the range", _DEPLOYMENTS_ORDER),
    Drill("change_failure_rate", "deployments", "deployments",
          "failed deployments (a failure signal attributed) ÷ deployments listed", "is_failure desc, " + _DEPLOYMENTS_ORDER),
    Drill("failed_deployment_recovery_p50_hours", "deployments", "deployments",
          "p50 of recovery hours over the recovered failed deployments (linear interpolation)",
          "is_failure desc, recovery_hours desc nulls last, " + _DEPLOYMENTS_ORDER),
    Drill("deployment_rework_rate", "deployments", "deployments",
          "deployments that ship a hotfix or revert PR ÷ deployments listed", "is_rework desc, " + _DEPLOYMENTS_ORDER),
    Drill("lead_time_p50_hours", "pull_requests", "deployed_prs",
          "p50 of lead time hours over the PRs listed (linear interpolation)", "lead_time_hours desc, pr_id"),
    Drill("lead_time_p90_hours", "pull_requests", "deployed_prs",
          "p90 of lead time hours over the PRs listed (linear interpolation)", "lead_time_hours desc, pr_id"),
    Drill("cycle_time_p50_hours", "pull_requests", "merged_prs",
          "p50 of cycle time hours over the PRs listed (linear interpolation)", "cycle_time_hours desc, pr_id"),
    Drill("cycle_time_p90_hours", "pull_requests", "merged_prs",
          "p90 of cycle time hours over the PRs listed (linear interpolation)", "cycle_time_hours desc, pr_id"),
    Drill("time_to_first_review_p50_hours", "pull_requests", "reviewed_prs",
          "p50 of time to first review hours over the PRs listed (linear interpolation)",
          "time_to_first_review_hours desc, pr_id"),
    Drill("pr_rework_rate", "pull_requests", "finished_prs",
          "PRs reopened at least once ÷ PRs listed", "reopened_count desc, pr_id"),
    Drill("ai_assisted_pr_share", "pull_requests", "ai_merged_prs",
          "AI-assisted PRs (ai_signal set) ÷ PRs listed", "ai_assisted desc, merged_at desc, pr_id"),
    Drill("planned_vs_done_pct", "sprints", "completed_sprints",
          "Σ completed committed ÷ Σ committed × 100, over the sprints listed", "completed_at desc, sprint_id"),
    Drill("scope_change_pct", "sprints", "completed_sprints",
          "(Σ added + Σ removed) ÷ Σ committed × 100, over the sprints listed", "completed_at desc, sprint_id"),
    Drill("carryover_pct", "sprints", "completed_sprints",
          "Σ carryover ÷ (Σ completed + Σ carryover) × 100, over the sprints listed", "completed_at desc, sprint_id"),
)}

_COLUMNS = {
    "deployments": ("deployment_id, repo, team, deployed_at, source, source_ref, is_failure, is_rework, "
                    "recovered_at, recovery_hours, failure_signals, deployed_prs, has_no_pull_request"),
    "pull_requests": ("pr_id, repo, number, team, author, title, pr_type, created_at, merged_at, deployed_at, "
                      "lead_time_hours, cycle_time_hours, time_to_first_review_hours, reopened_count, "
                      "additions + deletions as pr_size, has_negative_lead_time, is_merged_without_review, ai_signal"),
    "sprints": ("sprint_id, sprint_name, team, state, start_at, completed_at, committed_points, added_points, "
                "removed_points, completed_points, completed_committed_points, carryover_points, committed_issues, "
                "added_issues, removed_issues, completed_issues, completed_committed_issues, carryover_issues, "
                "unestimated_issues, history_complete, planning_basis"),
}


def tile_rows(source: Source, filters: Filters, metric: str, limit: int = LIST_LIMIT) -> pd.DataFrame:
    """The rows the tile `metric` was computed from in the window, in the drill's order."""
    drill = DRILLS[metric]
    domain = DOMAINS[drill.domain]
    if not source.has(domain.table):
        return pd.DataFrame()
    where, params = domain_where(source, domain, filters)
    during, bounds = in_calendar(source, domain.time, filters.start_ts, filters.end_ts, domain.scope)
    sql = (f"select {_COLUMNS[drill.subject]} from {domain.table} "  # noqa: S608 - SQL text from this module and DOMAINS
           f"where {during} and {domain.rule}{where} "
           f"order by {drill.order} limit {int(limit)}")
    return frame(source, sql, [*bounds, *params])


_COUNTS = {
    "deployments": ("count(*) as rows_, sum(case when is_failure then 1 else 0 end) as failed, "
                    "sum(case when is_rework then 1 else 0 end) as rework, "
                    "count(*) filter (where is_failure and recovered_at is not null) as recovered"),
    "pull_requests": "count(*) as rows_",
    "sprints": "count(*) as rows_",
}


def tile_counts(source: Source, filters: Filters, metric: str) -> dict[str, int]:
    """How many rows the tile has in the window (`rows`), and for deployments how many failed, were
    rework and recovered - over every row, also when the list shows only the first LIST_LIMIT."""
    drill = DRILLS[metric]
    domain = DOMAINS[drill.domain]
    if not source.has(domain.table):
        return {"rows": 0}
    where, params = domain_where(source, domain, filters)
    during, bounds = in_calendar(source, domain.time, filters.start_ts, filters.end_ts, domain.scope)
    found = rows(source, f"select {_COUNTS[drill.subject]} from {domain.table} "  # noqa: S608 - SQL text from this module and DOMAINS
                         f"where {during} and {domain.rule}{where}", [*bounds, *params])[0]
    return {("rows" if k == "rows_" else k): int(v or 0) for k, v in found.items()}


# ---------------------------------------------------------------------------------------------
# One deployment


def deployment(source: Source, deployment_id: str) -> dict[str, Any] | None:
    found = rows(source, f"select {_COLUMNS['deployments']} from fct_deployments "  # noqa: S608 - SQL text from this module
                         "where deployment_id = ?", [deployment_id])
    return found[0] if found else None


def deployment_pull_requests(source: Source, deployment_id: str) -> pd.DataFrame:
    """The PRs the deployment shipped (their first deployment at or after their merge), each with its lead time."""
    return frame(source, f"select {_COLUMNS['pull_requests']}, is_hotfix, is_revert "  # noqa: S608 - SQL text from this module
                         "from fct_pull_requests where deployment_id = ? order by merged_at, pr_id", [deployment_id])


def deployment_signals(source: Source, deployment_id: str) -> pd.DataFrame:
    """The failure signals attributed to the deployment, with why (fct_failure_signals)."""
    if not source.has("fct_failure_signals"):
        return pd.DataFrame()
    return frame(source, "select * from fct_failure_signals where deployment_id = ? order by signal_at, signal_id",
                 [deployment_id])


def attribution_reason(signal: dict[str, Any]) -> str:
    """Why a signal counts where it does, in words, from fct_failure_signals' columns."""
    window = int(signal.get("failure_window_days") or 0)
    kind = signal.get("attribution")
    hours = number(signal.get("hours_after_previous_deployment"))
    if kind == "attributed":
        return (f"same repo ({signal['repo']}); the latest deployment before it; {hours:.1f} h earlier, "
                f"within {window} days")
    if kind == "outside_window":
        return (f"not attributed: the latest earlier deployment of {signal['repo']} is {hours:.1f} h earlier, "
                f"more than {window} days")
    return f"not attributed: no earlier deployment of {signal['repo']}"


# ---------------------------------------------------------------------------------------------
# One pull request


_PR_DETAIL = ("pr_id, repo, number, team, author, title, state, base_branch, head_branch, created_at, ready_at, "
              "first_commit_at, first_review_at, merged_at, closed_at, deployed_at, deployment_id, cycle_time_hours, "
              "lead_time_hours, time_to_first_review_hours, coding_hours, review_hours, review_count, "
              "review_comment_count, reviewers, reopened_count, is_hotfix, is_revert, pr_type, additions, deletions, "
              "has_negative_lead_time, is_merged_without_review, is_bot_author")


PR_REF = re.compile(r"^\s*(?P<repo>[^/#\s]+/[^/#\s]+)#(?P<number>\d+)\s*$")


def pull_request(source: Source, pr_ref: str) -> dict[str, Any] | None:
    """One PR by its node id (`PR_...`) or by `owner/repo#number` (what people paste into a link)."""
    by_number = PR_REF.match(pr_ref)
    if by_number:
        found = rows(source, f"select {_PR_DETAIL} from fct_pull_requests where repo = ? and number = ?",  # noqa: S608
                     [by_number["repo"], int(by_number["number"])])
    else:
        found = rows(source, f"select {_PR_DETAIL} from fct_pull_requests where pr_id = ?", [pr_ref])  # noqa: S608
    return found[0] if found else None


def pull_request_reviews(source: Source, pr_id: str) -> pd.DataFrame:
    if not source.has("fct_pull_request_reviews"):
        return pd.DataFrame()
    return frame(source, "select reviewer, state, submitted_at, comment_count, is_counted "
                         "from fct_pull_request_reviews where pr_id = ? order by submitted_at, review_id", [pr_id])


@dataclass(frozen=True)
class TimelinePart:
    name: str  # coding | pickup | review | deploy
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def timeline_parts(pr: dict[str, Any]) -> list[TimelinePart]:
    """The PR's cycle drawn as a bar (docs/metrics.md Flow): coding = first commit → ready (floored at
    0: a commit authored after the PR was opened starts no earlier part), pickup = ready → first review,
    review = first review → merge, deploy = merge → deployment. Parts whose ends are unknown are left out."""
    def at(name: str) -> datetime | None:
        value = pr.get(name)
        if value is None or pd.isna(value):
            return None
        return pd.Timestamp(value).to_pydatetime()

    first_commit, ready, review, merged, deployed = (at(c) for c in (
        "first_commit_at", "ready_at", "first_review_at", "merged_at", "deployed_at"))
    parts: list[TimelinePart] = []
    if first_commit is not None and ready is not None:
        parts.append(TimelinePart("coding", min(first_commit, ready), ready))
    if ready is not None and review is not None:
        parts.append(TimelinePart("pickup", ready, review))
    if review is not None and merged is not None:
        parts.append(TimelinePart("review", review, merged))
    if merged is not None and deployed is not None:
        parts.append(TimelinePart("deploy", merged, deployed))
    return parts


# ---------------------------------------------------------------------------------------------
# One sprint


def sprint(source: Source, sprint_id: int) -> dict[str, Any] | None:
    if not source.has("mv_planning_by_sprint"):
        return None
    found = rows(source, f"select {_COLUMNS['sprints']}, board_id, end_at from mv_planning_by_sprint "  # noqa: S608
                         "where sprint_id = ?", [int(sprint_id)])
    return found[0] if found else None


def sprint_issues(source: Source, sprint_id: int) -> pd.DataFrame:
    """Every (issue, role) row the sprint's numbers count, with the points at the moment that counts
    and the changelog entry that placed the issue there (fct_sprint_issues)."""
    if not source.has("fct_sprint_issues"):
        return pd.DataFrame()
    return frame(source, """
        select role, issue_key, summary, issue_type, story_points, is_unestimated, measured_at, status_category,
               is_committed_issue, is_completed_committed, placed_by_field, placed_by_changed_at,
               placed_by_history_id, placed_by_from, placed_by_to, placed_by_author_account_id
        from fct_sprint_issues where sprint_id = ?
        order by case role when 'committed' then 1 when 'added' then 2 when 'removed' then 3
                 when 'removed_done' then 4 when 'completed' then 5 else 6 end, issue_key, measured_at""",
                 [int(sprint_id)])


# ---------------------------------------------------------------------------------------------
# Data-quality notes: each counted on the page it affects, with the rows behind the count


@dataclass(frozen=True)
class QualityNote:
    key: str
    page: str  # delivery | flow | planning
    label: str  # what it means for the numbers
    count: int
    rows: pd.DataFrame


_QUALITY: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    # key, page, label, table, time column, condition, columns
    ("lead_time_clock_skew", "delivery",
     "deployed PRs whose first commit is dated after their deployment (author clock skew): left out of lead time",
     "fct_pull_requests", "deployed_at", "has_negative_lead_time",
     "pr_id, repo, number, title, first_commit_at, deployed_at, lead_time_raw_hours"),
    ("deployment_without_pr", "delivery",
     "deployments that shipped no merged PR: counted as deployments, they add no lead time",
     "fct_deployments", "deployed_at", "has_no_pull_request",
     "deployment_id, repo, deployed_at, source, source_ref"),
    ("merged_without_review", "flow",
     "merged PRs with no review by anyone but the author or a bot: no time to first review",
     "fct_pull_requests", "merged_at", "is_merged_without_review and not coalesce(is_bot_author, false)",
     "pr_id, repo, number, title, author, merged_at"),
    ("sprint_before_first_day", "planning",
     "sprints that started before the first ingested day: issues not updated since may be missing, "
     "so they are left out of the planning tiles",
     "mv_planning_by_sprint", "completed_at", "not history_complete",
     "sprint_id, sprint_name, team, start_at, completed_at"),
    ("issue_without_estimate", "planning",
     "issues in the range's counted sprints with no estimate at the moment that counts: 0 points",
     "fct_sprint_issues", "", "is_unestimated",
     "sprint_id, sprint_name, issue_key, summary, role, measured_at"),
)


_QUALITY_FLAGS = {"lead_time_clock_skew": "has_negative_lead_time", "deployment_without_pr": "has_no_pull_request",
                  "merged_without_review": "is_merged_without_review"}
_columns_cache: dict[tuple[str, str, str], frozenset[str]] = {}


def table_columns(source: Source, table: str) -> frozenset[str]:
    """The columns of a published table (once per build): a build published before a flag column
    existed shows no note for it rather than an error."""
    cache_key = (source.key, source.build_id, table)
    if cache_key not in _columns_cache or source.build_id == "live":
        if source.kind == "postgres" and source.schema:
            found = rows(source, "select column_name from information_schema.columns "
                                 "where table_name = ? and table_schema = ?", [table, source.schema])
        else:
            found = rows(source, "select column_name from information_schema.columns where table_name = ?", [table])
        _columns_cache[cache_key] = frozenset(str(r["column_name"]) for r in found)
    return _columns_cache[cache_key]


def data_quality(source: Source, filters: Filters, page: str | None = None) -> list[QualityNote]:
    """The notes of `page` (all pages when None) for the window; a note with count 0 is still returned."""
    notes: list[QualityNote] = []
    for key, note_page, label, table, time_column, condition, columns in _QUALITY:
        if page is not None and note_page != page or not source.has(table):
            continue
        flag = _QUALITY_FLAGS.get(key)
        if flag is not None and flag not in table_columns(source, table):
            continue
        if table == "fct_sprint_issues":
            if not source.has("mv_planning_by_sprint"):
                continue
            where, params = jira_where(source, filters)
            sprint_rule = DOMAINS["completed_sprints"].rule
            found = frame(source, f"""
                select {columns} from fct_sprint_issues
                where {condition} and sprint_id in (
                    select sprint_id from mv_planning_by_sprint
                    where completed_at >= ? and completed_at < ? and {sprint_rule}{where})
                order by sprint_id, issue_key, role""", [filters.start_ts, filters.end_ts, *params])  # noqa: S608
        else:
            where, params = (jira_where(source, filters) if table.startswith("mv_planning")
                              else github_where(source, filters, deployments=table == "fct_deployments"))
            found = frame(source, f"select {columns} from {table} "  # noqa: S608 - SQL text from this module
                                  f"where {time_column} >= ? and {time_column} < ? and {condition}{where} "
                                  f"order by {time_column} desc", [filters.start_ts, filters.end_ts, *params])
        # An issue counts once per sprint however many roles it has there (as unestimated_issues does).
        count = len(found[["sprint_id", "issue_key"]].drop_duplicates()) if table == "fct_sprint_issues" else len(found)
        notes.append(QualityNote(key, note_page, label, count, found))
    return notes
