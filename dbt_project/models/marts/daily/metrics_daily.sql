-- The denormalized daily cache the dashboard's tiles read: one row per (org, team, repo, date) at
-- three levels: a repo (team = its team), a team (repo = '*'), the whole org (team = '*', repo = '*').
-- dora_* and flow_* exist at every level; planning_* at team and org level (NULL on repo rows).
-- Each source's columns follow its own ingested calendar (int_calendar__source_days): a team or org row
-- exists on every day GitHub or Jira was ingested; on a day only one of them was, the other's columns are
-- NULL (unknown, not zero). Repo rows exist on GitHub's days only.
with dora as (
    select * from {{ ref('int_metrics__dora_by_scope_day') }}
),

flow as (
    select * from {{ ref('int_metrics__flow_by_scope_day') }}
),

planning as (
    select * from {{ ref('int_metrics__planning_by_scope_day') }}
),

final as (
    select
        {{ sql_text(var('org')) }} as org,
        coalesce(d.team, p.team) as team,
        coalesce(d.repo, p.repo) as repo,
        coalesce(d.date, p.date) as date,
        coalesce(d.scope_level, p.scope_level) as scope_level,
        d.deployments as dora_deployments,
        d.lead_time_p50_hours as dora_lead_time_p50_hours,
        d.lead_time_p90_hours as dora_lead_time_p90_hours,
        d.lead_time_prs as dora_lead_time_prs,
        d.negative_lead_time_prs as dora_negative_lead_time_prs,
        d.hotfixes as dora_hotfixes,
        d.failed_deployments as dora_failed_deployments,
        d.rework_deployments as dora_rework_deployments,
        d.recovery_time_p50_hours as dora_recovery_time_p50_hours,
        d.recovered_deployments as dora_recovered_deployments,
        d.change_failure_rate as dora_change_failure_rate,
        d.hotfix_rate as dora_hotfix_rate,
        d.deployment_rework_rate as dora_deployment_rework_rate,
        f.opened_prs as flow_opened_prs,
        f.merged_prs as flow_merged_prs,
        f.cycle_time_p50_hours as flow_cycle_time_p50_hours,
        f.cycle_time_p90_hours as flow_cycle_time_p90_hours,
        f.time_to_first_review_p50_hours as flow_time_to_first_review_p50_hours,
        f.reviewed_prs as flow_reviewed_prs,
        f.review_depth_avg as flow_review_depth_avg,
        f.reopened_prs as flow_reopened_prs,
        f.closed_or_merged_prs as flow_closed_or_merged_prs,
        f.rework_rate as flow_rework_rate,
        f.merged_without_review as flow_merged_without_review,
        p.blocked_issues as planning_blocked_issues,
        p.blocked_age_p50_days as planning_blocked_age_p50_days,
        p.blocked_age_max_days as planning_blocked_age_max_days,
        p.wip_issues as planning_wip_issues,
        p.resolved_issues as planning_resolved_issues,
        p.issue_cycle_time_p50_hours as planning_issue_cycle_time_p50_hours,
        p.issue_cycle_time_issues as planning_issue_cycle_time_issues
    from dora as d
    inner join flow as f
        on d.scope_level = f.scope_level and d.team = f.team and d.repo = f.repo and d.date = f.date
    full outer join planning as p
        on d.scope_level = p.scope_level and d.team = p.team and d.repo = p.repo and d.date = p.date
)

select * from final
