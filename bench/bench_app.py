"""Dashboard performance: page render time (AppTest runs) and tile query latency, at --scale large.

Targets: each page renders in < 1.5 s (issues 4, 12); tile and series queries through the metrics layer
p95 < 50 ms (issue 11).

Data: `--warehouse PATH` measures an existing warehouse built by the pipeline (e.g.
`DATABASE_URL=duckdb:///data/large.duckdb emd pipeline --synthetic --scale large ...`); without it a
warehouse of the large synthetic org's size is generated straight into the mart tables (10 teams,
52 repos, 45 days, 14.4 PRs per repo and day as mock_apis/github_data.py generates) and
published like the pipeline does.

    .venv/bin/python bench/bench_app.py [--scale large|default] [--warehouse PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("app_pages/overview.py", "app_pages/delivery.py", "app_pages/flow.py", "app_pages/planning.py",
         "app_pages/sprint_health.py")
DRILLDOWN = "app_pages/drilldown.py"
# The drilldowns measured: the longest lists (every deployment, every deployed PR) and one of each subject.
DRILLS = (("metric", "change_failure_rate"), ("metric", "lead_time_p50_hours"), ("metric", "planned_vs_done_pct"),
          ("deployment", None), ("pr", None), ("sprint", None))
SCALES = {  # teams, repos, days, PRs per repo and day (the synthetic org's shape)
    "large": (10, 52, 45, 14.4),
    "default": (3, 6, 45, 1.35),
}
ANCHOR = date(2026, 3, 31)


def generate_warehouse(path: Path, scale: str) -> dict[str, int]:
    """Mart tables of the synthetic org's size (random but seeded), with the real marts' columns."""
    import duckdb

    teams, repos, days, per_repo_day = SCALES[scale]
    start = ANCHOR - timedelta(days=days - 1)
    prs_per_repo = int(per_repo_day * days)
    conn = duckdb.connect(str(path))
    try:
        conn.execute("select setseed(0.42)")
        conn.execute(f"""
            create table repos as
            select i as repo_i, 'acme/service-' || lpad(cast(i as varchar), 2, '0') as repo,
                   'team' || lpad(cast(i % {teams} as varchar), 2, '0') as team
            from range({repos}) as t(i)""")  # noqa: S608 - generator constants
        conn.execute(f"""
            create table fct_pull_requests as
            with base as (
                select r.repo, r.team, n + 1 as number,
                       timestamp '{start.isoformat()}' + to_seconds(cast(random() * {days} * 86400 as bigint))
                           as created_at,
                       -ln(random() + 1e-9) * 24 as cycle, random() as u_review, random() as u_merge,
                       random() as u_bot, random() as u_type, random() as u_reopen,
                       cast(random() * 400 as integer) as additions, cast(random() * 150 as integer) as deletions
                from repos as r, range({prs_per_repo}) as t(n)
            ),
            shaped as (
                select *, case when u_merge < 0.88 then created_at + to_seconds(cast(cycle * 3600 as bigint)) end
                              as merged_at
                from base
            )
            select repo || '#' || number as pr_id, repo, number, team,
                   case when u_bot < 0.05 then 'dependabot' else 'dev' || cast(number % 60 as varchar) end as author,
                   u_bot < 0.05 as is_bot_author, 'Change ' || number as title,
                   case when merged_at is not null then 'MERGED' when u_merge < 0.95 then 'OPEN' else 'CLOSED' end
                       as state,
                   'main' as base_branch, 'feature/' || number as head_branch, created_at, created_at as ready_at,
                   created_at - interval 3 hour as first_commit_at,
                   case when u_review < 0.9 then created_at + to_seconds(cast(cycle * 0.3 * 3600 as bigint)) end
                       as first_review_at,
                   merged_at,
                   case when merged_at is not null then merged_at
                        when u_merge >= 0.95 then created_at + interval 2 day end as closed_at,
                   merged_at as deployed_at,
                   case when merged_at is not null then cycle end as cycle_time_hours,
                   case when merged_at is not null then cycle + 3 end as lead_time_hours,
                   case when u_review < 0.9 then cycle * 0.3 end as time_to_first_review_hours,
                   3.0 as coding_hours,
                   case when merged_at is not null and u_review < 0.9 then cycle * 0.7 end as review_hours,
                   2 as review_count, 3 as review_comment_count, 5 as review_depth, 2 as reviewers,
                   case when u_reopen < 0.05 then 1 else 0 end as reopened_count,
                   u_type < 0.03 as is_hotfix, u_type between 0.03 and 0.05 as is_revert,
                   case when u_type < 0.03 then 'hotfix' when u_type < 0.3 then 'bug'
                        when u_type < 0.7 then 'feature' else 'other' end as pr_type,
                   additions, deletions, additions + deletions as pr_size,
                   case when merged_at is not null then 'dep-' || repo || '#' || number end as deployment_id,
                   false as has_negative_lead_time, merged_at is not null and u_review >= 0.9
                       as is_merged_without_review,
                   case when merged_at is not null then cycle + 3 end as lead_time_raw_hours,
                   -- the AI columns as fct_pull_requests.sql defines them (coalesce(ai.ai_assisted, false),
                   -- ai.ai_signal, coalesce(ai.is_agent_author, false)): every fifth PR has a co-author
                   -- trailer; the bots here (dependabot) are no coding agents
                   number % 5 = 0 as ai_assisted,
                   case when number % 5 = 0 then 'coauthor_trailer' end as ai_signal,
                   false as is_agent_author
            from shaped""")  # noqa: S608 - generator constants
        # ~1 % of deployed PRs with a skewed author clock (the drilldowns' data-quality note)
        conn.execute("update fct_pull_requests set has_negative_lead_time = true, lead_time_hours = null, "
                     "lead_time_raw_hours = -1.5 where deployed_at is not null and random() < 0.01")
        conn.execute("""
            create table fct_deployments as
            select 'dep-' || pr_id as deployment_id, repo, team, deployed_at, 'merge' as source,
                   random() < 0.12 as is_failure, is_hotfix or is_revert as is_rework,
                   null::timestamp as recovered_at, null::double as recovery_hours,
                   0 as failure_signals, 1 as deployed_prs, repo || '#' || number as source_ref,
                   false as has_no_pull_request
            from fct_pull_requests where deployed_at is not null""")
        conn.execute("update fct_deployments set recovered_at = deployed_at + to_seconds(cast(random() * 86400 "
                     "as bigint)) where is_failure and random() < 0.85")
        conn.execute("update fct_deployments set failure_signals = 1, recovery_hours = "
                     "epoch(recovered_at - deployed_at) / 3600.0 where is_failure")
        # the rows behind the numbers (drilldowns): one signal per failed deployment, two reviews per PR
        conn.execute("""
            create table fct_failure_signals as
            select 'incident:' || deployment_id as signal_id, 'incident' as signal_kind, 'jira' as signal_source,
                   'INC-' || row_number() over () as signal_ref, repo, team,
                   deployed_at + interval 2 hour as signal_at, recovered_at as recovery_at, deployment_id,
                   deployed_at as deployment_deployed_at, source as deployment_source, 'attributed' as attribution,
                   deployment_id as previous_deployment_id, deployed_at as previous_deployed_at,
                   2.0 as hours_after_previous_deployment, 7 as failure_window_days, recovery_hours
            from fct_deployments where is_failure""")
        conn.execute("""
            create table fct_pull_request_reviews as
            select pr_id, repo, number as pr_number, pr_id || ':' || k as review_id, 'rev' || k as reviewer,
                   case when k = 0 then 'COMMENTED' else 'APPROVED' end as state,
                   first_review_at + to_seconds(k * 3600) as submitted_at, 1 as comment_count,
                   false as is_bot_reviewer, false as is_self_review, true as is_counted
            from fct_pull_requests, range(2) as t(k) where first_review_at is not null""")
        conn.execute(f"""
            create table fct_jira_issues as
            select 'T' || lpad(cast(i % {teams} as varchar), 2, '0') || '-' || i as issue_key,
                   'T' || lpad(cast(i % {teams} as varchar), 2, '0') as project_key,
                   'team' || lpad(cast(i % {teams} as varchar), 2, '0') as team, 'Story' as issue_type,
                   'Issue ' || i as summary, case when random() < 0.04 then 'Blocked' else 'In Progress' end
                       as status_name, 'indeterminate' as status_category, cast(random() * 8 as integer) as story_points,
                   timestamp '{start.isoformat()}' + to_seconds(cast(random() * {days} * 86400 as bigint)) as created_at,
                   null::timestamp as resolved_at, false as is_blocked, null::timestamp as blocked_since,
                   null::double as cycle_time_hours, i % 10 = 0 as is_subtask, i % 10 <> 0 as counts_for_planning
            from range({teams * 500}) as t(i)""")  # noqa: S608 - generator constants
        conn.execute("update fct_jira_issues set is_blocked = true, "
                     "blocked_since = cast(? as timestamp) - to_seconds(cast(random() * 10 * 86400 as bigint)) "
                     "where status_name = 'Blocked'", [ANCHOR])
        conn.execute(f"""
            create table mv_planning_by_sprint as
            select team_i * 100 + s as sprint_id, 'team' || lpad(cast(team_i as varchar), 2, '0') || ' sprint ' || s
                       as sprint_name, 12 + team_i as board_id,
                   'team' || lpad(cast(team_i as varchar), 2, '0') as team,
                   case when s < 3 then 'closed' else 'active' end as state,
                   timestamp '{start.isoformat()}' + to_days(cast(s * 14 as integer)) as start_at,
                   timestamp '{start.isoformat()}' + to_days(cast(s * 14 + 14 as integer)) as end_at,
                   case when s < 3 then timestamp '{start.isoformat()}' + to_days(cast(s * 14 + 14 as integer)) end
                       as completed_at,
                   40.0 as committed_points, 6.0 as added_points, 3.0 as removed_points, 36.0 as completed_points,
                   32.0 as completed_committed_points, 7.0 as carryover_points,
                   15 as committed_issues, 3 as added_issues, 1 as removed_issues, 14 as completed_issues,
                   12 as completed_committed_issues, 3 as carryover_issues, 1 as unestimated_issues,
                   80.0 as planned_vs_done_pct, 22.5 as scope_change_pct, 16.3 as carryover_pct,
                   80.0 as planned_vs_done_issues_pct, 26.7 as scope_change_issues_pct,
                   17.6 as carryover_issues_pct, 'points' as planning_basis, true as history_complete
            from range({teams}) as t(team_i), range(4) as s(s)""")  # noqa: S608 - generator constants
        conn.execute("""
            create table fct_sprint_issues as
            select s.sprint_id, s.team || '-' || i as issue_key,
                   case when i < 15 then 'committed' when i < 18 then 'added' when i < 19 then 'removed'
                        when i < 33 then 'completed' else 'carryover' end as role,
                   s.sprint_name, s.team, s.board_id, cast(i as varchar) as issue_id, 'Issue ' || i as summary,
                   'Story' as issue_type, s.start_at as measured_at, cast(i % 5 as double) as story_points,
                   i = 3 as is_unestimated, 'indeterminate' as status_category, i < 15 as is_committed_issue,
                   i between 19 and 30 as is_completed_committed, s.start_at as entered_at,
                   null::timestamp as left_at, 'sprint' as placed_by_field, s.start_at as placed_by_changed_at,
                   'h' || i as placed_by_history_id, 'acct' as placed_by_author_account_id,
                   null::varchar as placed_by_from, s.sprint_name as placed_by_to,
                   false as is_sprint_history_incomplete
            from mv_planning_by_sprint as s, range(36) as t(i)""")
        day_series = f"range(date '{start.isoformat()}', date '{(ANCHOR + timedelta(days=1)).isoformat()}', interval 1 day)"
        conn.execute(f"""
            create table mv_planning_by_team_day as
            select 'team' || lpad(cast(team_i as varchar), 2, '0') as team, cast(d.day as date) as date,
                   cast(random() * 5 as integer) as blocked_issues, random() * 4 as blocked_age_p50_days,
                   4 + random() * 6 as blocked_age_max_days, 10 as wip_issues, 3 as resolved_issues,
                   30.0 as issue_cycle_time_p50_hours, 3 as issue_cycle_time_issues
            from range({teams}) as t(team_i), {day_series} as d(day)""")  # noqa: S608 - generator constants
        for table in ("mv_dora_by_repo_day", "mv_flow_by_repo_day"):
            sql = (f"create table {table} as select repo, team, cast(d.day as date) as date, "  # noqa: S608
                   f"0 as deployments from repos, {day_series} as d(day)")
            conn.execute(sql)
        conn.execute(f"""
            create table metrics_daily as
            select 'acme' as org, team, repo, cast(d.day as date) as date, 'repo' as scope_level,
                   null::integer as planning_blocked_issues, null::double as planning_blocked_age_p50_days,
                   null::double as planning_blocked_age_max_days
            from repos, {day_series} as d(day)
            union all
            select 'acme', team, '*', cast(date as timestamp), 'team', blocked_issues, blocked_age_p50_days,
                   blocked_age_max_days from mv_planning_by_team_day
            union all
            select 'acme', '*', '*', cast(date as timestamp), 'org', sum(blocked_issues), 2.0, max(blocked_age_max_days)
            from mv_planning_by_team_day group by date""")  # noqa: S608 - generator constants
        conn.execute("""
            create table sprint_health as
            select team, 'sprint' as period_kind, cast(max(sprint_id) as varchar) as period_id,
                   max(sprint_name) as period_name, max(start_at) as period_start, max(end_at) as period_end,
                   '{"committed_points": 40}' as metrics_json, 'h' as metrics_hash, 'v1' as prompt_version,
                   'bench-model' as model, 'model' as source,
                   '{"insights": ["a", "b", "c"], "risks": ["d", "e"], "recommendations": ["f", "g", "h"]}'
                       as card_json, 'card' as card_text, 900 as tokens_used, 'C1' as slack_channel,
                   '1.1' as slack_ts, '{}' as slack_message_json, max(completed_at) as generated_at,
                   max(completed_at) as posted_at
            from mv_planning_by_sprint where completed_at is not null group by team""")
        conn.execute("drop table repos")
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0]  # noqa: S608 - our table names
                for (t,) in conn.execute("select table_name from information_schema.tables order by 1").fetchall()}
    finally:
        conn.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def bench_tile_queries(repeat: int) -> None:
    """Tile and series questions through the metrics layer (emd.metrics, uncached: the dashboard's and
    the API's caches are off here), for three filter shapes; the time of each whole call, and of each
    SQL statement the layer runs."""
    from emd.metrics import filters, tiles
    from emd.metrics import source as layer_source
    from emd.metrics.catalogue import CATALOGUE

    source = layer_source.open_source()
    assert isinstance(source, layer_source.Source), source
    dims = filters.dimensions(source)
    end = dims.latest_day or ANCHOR
    team = dims.teams[0]
    shapes = {"all teams": filters.Filters(start=end - timedelta(days=29), end=end),
              f"team {team}": filters.Filters(team=team, start=end - timedelta(days=29), end=end),
              "one repo": filters.Filters(repo=dims.repos([team])[0], start=end - timedelta(days=29), end=end)}
    statements: dict[str, list[float]] = {}
    calls: dict[str, list[float]] = {"tiles()": [], "series() per day": [], "series() per week": []}
    original_rows = layer_source.rows

    def timed_rows(src, sql, params=()):
        began = time.perf_counter()
        result = original_rows(src, sql, params)
        statements.setdefault(" ".join(sql.split()), []).append((time.perf_counter() - began) * 1000)
        return result

    tiles.rows = timed_rows  # the name tiles.py calls
    try:
        for _ in range(repeat):
            for shape in shapes.values():
                began = time.perf_counter()
                tiles.tiles(source, shape)
                calls["tiles()"].append((time.perf_counter() - began) * 1000)
                for key, metric in CATALOGUE.items():
                    if not metric.series:
                        continue
                    for grain, label in (("day", "series() per day"), ("week", "series() per week")):
                        began = time.perf_counter()
                        tiles.series(source, key, filters.Filters(shape.org, shape.team, shape.repo, shape.start,
                                                                  shape.end, grain))
                        calls[label].append((time.perf_counter() - began) * 1000)
    finally:
        tiles.rows = original_rows
    every = [t for values in statements.values() for t in values]
    print(f"layer SQL: {len(statements)} distinct statements, {len(every)} executions (uncached)")
    for name, values in sorted(statements.items(), key=lambda kv: -percentile(kv[1], 0.95))[:8]:
        print(f"  p50 {percentile(values, 0.5):6.1f} ms  p95 {percentile(values, 0.95):6.1f} ms  {name[:90]}")
    p95 = percentile(every, 0.95)
    print(f"layer SQL statements overall: p50 {percentile(every, 0.5):.1f} ms, p95 {p95:.1f} ms, max {max(every):.1f} ms")
    for label, values in calls.items():
        verdict = f" (target p95 < 50 ms: {'OK' if percentile(values, 0.95) < 50 else 'MISSED'})"
        print(f"  {label:18s} n={len(values):4d}  p50 {percentile(values, 0.5):6.1f} ms  "
              f"p95 {percentile(values, 0.95):6.1f} ms{verdict}")
    print("  (tiles() answers all 15 tiles, the previous period and the DORA bands in one call: "
          f"{len(CATALOGUE)} tiles)")


def drill_ids() -> dict[str, str]:
    """One failed deployment, the deployed PR with the longest lead time, and a completed sprint."""
    from emd.metrics.source import Source, open_source, rows

    source = open_source()
    assert isinstance(source, Source), source
    one = rows(source, """
        select (select deployment_id from fct_deployments where is_failure order by deployed_at desc limit 1) as d,
               (select pr_id from fct_pull_requests where lead_time_hours is not null
                order by lead_time_hours desc limit 1) as p,
               (select sprint_id from mv_planning_by_sprint where completed_at is not null
                order by completed_at desc limit 1) as s""")[0]
    return {"deployment": str(one["d"]), "pr": str(one["p"]), "sprint": str(one["s"])}


def bench_pages(repeat: int) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    print("page renders (AppTest, wall clock of one run; cold = caches cleared first):")
    ids = drill_ids()
    measured: list[tuple[str, str, dict[str, str]]] = [(page, page, {}) for page in PAGES]
    for param, value in DRILLS:
        query = {param: value or ids[param]}
        measured.append((DRILLDOWN, f"drilldown ?{param}={query[param][:24]}", query))
    worst = 0.0
    for page, name, query in measured:
        cold, warm = [], []
        for _ in range(repeat):
            st.cache_data.clear()
            at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=120)
            at.run()
            if page != PAGES[0]:
                at.switch_page(page)
            for key, value in query.items():
                at.query_params[key] = value
            st.cache_data.clear()
            began = time.perf_counter()
            at.run()
            cold.append(time.perf_counter() - began)
            if at.exception:
                raise RuntimeError(f"{name}: {at.exception[0].value}")
            began = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - began)
        worst = max(worst, max(cold))
        print(f"  {name:44s} cold p50 {statistics.median(cold) * 1000:6.0f} ms  max {max(cold) * 1000:6.0f} ms"
              f"   warm p50 {statistics.median(warm) * 1000:6.0f} ms")
    print(f"slowest page render (cold): {worst * 1000:.0f} ms (target < 1500 ms: {'OK' if worst < 1.5 else 'MISSED'})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_app")
    parser.add_argument("--scale", choices=sorted(SCALES), default="large")
    parser.add_argument("--warehouse", help="an existing DuckDB warehouse built by the pipeline")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--queries-only", action="store_true", help="the layer's tile/series queries, no pages")
    args = parser.parse_args(argv or [])
    sys.path.insert(0, str(ROOT))
    from emd.settings import parse_database_url
    from emd.snapshot import publish_build
    from emd.warehouse import Warehouse

    with tempfile.TemporaryDirectory(prefix="bench_app_") as tmp:
        if args.warehouse:
            live = Path(args.warehouse).resolve()
            print(f"warehouse: {live} (built by the pipeline)")
        else:
            live = Path(tmp) / "warehouse.duckdb"
            began = time.perf_counter()
            rows = generate_warehouse(live, args.scale)
            print(f"generated a --scale {args.scale} warehouse in {time.perf_counter() - began:.1f}s: "
                  + ", ".join(f"{t} {n}" for t, n in rows.items()))
        began = time.perf_counter()
        result = publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")))
        print(f"publish_build: {time.perf_counter() - began:.2f}s for {result['rows']} rows "
              f"({len(result['tables'])} tables)")
        previous = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = f"duckdb:///{live}"
        try:
            bench_tile_queries(args.repeat)
            if not args.queries_only:
                bench_pages(args.repeat)
        finally:
            if previous is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = previous


if __name__ == "__main__":
    main(sys.argv[1:])
