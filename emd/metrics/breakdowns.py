"""The dashboard pages' breakdowns: a domain's aggregates per day/week bucket or per PR type, and the
lists of rows the pages show (failed deployments, pull requests, blocked days, Sprint Health cards).

Every aggregate runs over a domain of measures.py (same fact table, time column and row rule as the
tiles), and the catalogue's metrics (p50, p90, review depth) use the domain's own aggregate SQL, so a
chart's bucket and a tile never disagree on which rows count or how they are aggregated.
"""

from __future__ import annotations

import json
from typing import Any

from emd.metrics.filters import Filters, github_where, jira_where
from emd.metrics.measures import DOMAINS, aggregate
from emd.metrics.source import Source, as_date, bucket, hours_between, percentile, rows


def _per_bucket(source: Source, domain: str, filters: Filters,
                measures: dict[str, str] | None = None) -> list[dict[str, Any]]:
    time_column = DOMAINS[domain].time
    found = aggregate(source, domain, filters, bucket(time_column, filters.granularity), [],
                      filters.start_ts, filters.end_ts, measures)
    out = []
    for key in sorted(found, key=lambda k: as_date(k) or k):
        row = dict(found[key])
        row["period"] = as_date(row.pop("grp"))
        out.append(row)
    return out


def deployments_over_time(source: Source, filters: Filters) -> list[dict[str, Any]]:
    """Per bucket: deployments, failed, rework, recovered, recovery_p50 (hours)."""
    return _per_bucket(source, "deployments", filters)


def lead_time_over_time(source: Source, filters: Filters) -> list[dict[str, Any]]:
    """Per bucket of deployment: n (deployed PRs with a lead time), p50, p90 (hours)."""
    return _per_bucket(source, "deployed_prs", filters)


def _merged_measures(source: Source, **more: str) -> dict[str, str]:
    """The merged-PR domain's catalogue aggregates (cycle time p50/p90, review depth: METRIC_SQL's SQL, the
    tiles' own) under the breakdowns' names, plus `more` (measures that are no catalogue metric)."""
    catalogue = DOMAINS["merged_prs"].aggregates(source)
    return {"merged_prs": catalogue["n"], "p50_hours": catalogue["p50"], "p90_hours": catalogue["p90"],
            "review_depth_avg": catalogue["review_depth_avg"], **more}


def cycle_time_over_time(source: Source, filters: Filters) -> list[dict[str, Any]]:
    """Per bucket of merge (human-authored merged PRs): cycle time p50/p90, each phase's p50, review
    depth and reviewers (means), size p50/p90."""
    measures = _merged_measures(
        source,
        coding_p50_hours=percentile(source, "coding_hours", 0.5),
        # time to first review's catalogue percentile (a merged PR without a review has none: not counted)
        pickup_p50_hours=DOMAINS["reviewed_prs"].aggregates(source)["p50"],
        review_p50_hours=percentile(source, "review_hours", 0.5),
        reviewers_avg="avg(reviewers)",
        size_p50_lines=percentile(source, "additions + deletions", 0.5),
        size_p90_lines=percentile(source, "additions + deletions", 0.9),
    )
    return _per_bucket(source, "merged_prs", filters, measures)


def flow_by_pr_type(source: Source, filters: Filters) -> list[dict[str, Any]]:
    """Per PR type, over the human-authored PRs merged in the window, most merged first."""
    measures = _merged_measures(source, size_p50_lines=percentile(source, "additions + deletions", 0.5))
    found = aggregate(source, "merged_prs", filters, "pr_type", [], filters.start_ts, filters.end_ts, measures)
    out = [{"pr_type": k, **{c: v for c, v in r.items() if c != "grp"}} for k, r in found.items()]
    out = [{**r, "cycle_time_p50_hours": r.pop("p50_hours"), "cycle_time_p90_hours": r.pop("p90_hours")} for r in out]
    return sorted(out, key=lambda r: (-int(r["merged_prs"]), str(r["pr_type"])))


def failed_deployments(source: Source, filters: Filters) -> list[dict[str, Any]]:
    """The failed deployments of the window, newest first, with their recovery time (hours)."""
    where, params = github_where(source, filters, deployments=True)
    return rows(source, f"""
        select deployed_at, repo, team, source, is_rework, recovered_at,
               {hours_between('deployed_at', 'recovered_at')} as recovery_hours
        from fct_deployments
        where is_failure and deployed_at >= ? and deployed_at < ?{where}
        order by deployed_at desc""", [filters.start_ts, filters.end_ts, *params])  # noqa: S608 - SQL text from the layer; values bound


def pull_requests(source: Source, filters: Filters, limit: int = 500) -> list[dict[str, Any]]:
    """PRs opened or merged in the window, newest first (at most `limit`)."""
    where, params = github_where(source, filters)
    return rows(source, f"""
        select repo, number, title, author, team, pr_type, state, created_at, merged_at,
               cycle_time_hours, time_to_first_review_hours, review_depth, additions + deletions as size_lines
        from fct_pull_requests
        where ((merged_at >= ? and merged_at < ?) or (created_at >= ? and created_at < ?)){where}
        order by coalesce(merged_at, created_at) desc, repo, number
        limit ?""", [filters.start_ts, filters.end_ts, filters.start_ts, filters.end_ts, *params, limit])  # noqa: S608 - SQL text from the layer; values bound


def blocked_over_time(source: Source, filters: Filters) -> list[dict[str, Any]]:
    """Blocked issues at the end of each day of the window, per team (mv_planning_by_team_day)."""
    if not source.has("mv_planning_by_team_day"):
        return []
    where, params = jira_where(source, filters)
    return rows(source, f"""
        select "date" as day, team, blocked_issues, blocked_age_max_days
        from mv_planning_by_team_day where "date" >= ? and "date" <= ?{where}
        order by 1, 2""", [filters.start, filters.end, *params])  # noqa: S608 - SQL text from the layer; values bound


def teams_with_sprints(source: Source) -> set[str]:
    if not source.has("mv_planning_by_sprint"):
        return set()
    return {str(r["team"]) for r in rows(source, "select distinct team from mv_planning_by_sprint")}


def latest_cards(source: Source, filters: Filters) -> dict[str, dict[str, Any]]:
    """The Sprint Health card of each team's most recent period (ties: the newest written)."""
    if not source.has("sprint_health"):
        return {}
    where, params = jira_where(source, filters)
    found = rows(source, f"""
        select team, period_kind, period_id, period_name, period_start, period_end, metrics_json,
               prompt_version, model, source, card_json, card_text, tokens_used, slack_channel,
               slack_ts, generated_at, posted_at
        from sprint_health where 1 = 1{where}
        order by team, period_end desc nulls last, generated_at desc""", params)  # noqa: S608 - SQL text from the layer; values bound
    cards: dict[str, dict[str, Any]] = {}
    for row in found:
        cards.setdefault(row["team"], row)
    return cards


def parse_json(text: Any) -> Any:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
