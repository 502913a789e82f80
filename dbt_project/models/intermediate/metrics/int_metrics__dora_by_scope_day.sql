-- DORA per scope and day, dense over GitHub's ingested calendar (every day GitHub was ingested, none in a gap). Percentiles are computed from the
-- underlying PRs of the scope and day, never from other percentiles.
with scopes as (
    select * from {{ ref('int_metrics__scopes') }}
),

-- GitHub's ingested days: a day on which GitHub was not ingested has no row (whatever other sources did).
days as (
    select date from {{ ref('int_calendar__source_days') }} where source = 'github'
),

repo_teams as (
    select repo, coalesce(repo_team, 'unassigned') as repo_team from {{ ref('int_github__repos') }}
),

deployments as (
    select d.*, rt.repo_team, cast(d.deployed_at as date) as date
    from {{ ref('fct_deployments') }} as d
    left join repo_teams as rt on d.repo = rt.repo
),

prs as (
    select p.*, rt.repo_team
    from {{ ref('fct_pull_requests') }} as p
    left join repo_teams as rt on p.repo = rt.repo
),

deployed_prs as (
    select cast(deployed_at as date) as date, lead_time_hours, has_negative_lead_time, repo, team, repo_team
    from prs where deployed_at is not null
),

hotfix_prs as (
    select cast(merged_at as date) as date, repo, team, repo_team from prs where is_hotfix
),

-- A deployment counts once per repo and for the org, and once for every team it counts for: its own and,
-- in a CODEOWNERS repo, each team whose PRs it shipped (fct_deployment_teams, the rows the metrics layer filters on).
scoped_deployments as (
    select 'repo' as scope_level, repo_team as team, repo, date, is_failure, is_rework, recovery_hours
    from deployments
    union all
    select 'team', dt.team, '*', d.date, d.is_failure, d.is_rework, d.recovery_hours
    from deployments as d
    inner join {{ ref('fct_deployment_teams') }} as dt on d.deployment_id = dt.deployment_id
    union all
    select 'org', '*', '*', date, is_failure, is_rework, recovery_hours
    from deployments
),
scoped_deployed_prs as ({{ scoped_union('deployed_prs', 'date, lead_time_hours, has_negative_lead_time') }}),
scoped_hotfixes as ({{ scoped_union('hotfix_prs', 'date') }}),

deployment_facts as (
    select
        scope_level, team, repo, date,
        count(*) as deployments,
        cast(sum(case when is_failure then 1 else 0 end) as bigint) as failed_deployments,
        cast(sum(case when is_rework then 1 else 0 end) as bigint) as rework_deployments,
        {{ percentile_cont('recovery_hours', 0.5) }} as recovery_time_p50_hours,
        count(recovery_hours) as recovered_deployments
    from scoped_deployments
    group by scope_level, team, repo, date
),

lead_time_facts as (
    select
        scope_level, team, repo, date,
        {{ percentile_cont('lead_time_hours', 0.5) }} as lead_time_p50_hours,
        {{ percentile_cont('lead_time_hours', 0.9) }} as lead_time_p90_hours,
        count(lead_time_hours) as lead_time_prs,
        cast(sum(case when has_negative_lead_time then 1 else 0 end) as bigint) as negative_lead_time_prs
    from scoped_deployed_prs
    group by scope_level, team, repo, date
),

hotfix_facts as (
    select scope_level, team, repo, date, count(*) as hotfixes
    from scoped_hotfixes
    group by scope_level, team, repo, date
),

final as (
    {{ scope_day_grid('scopes', 'days', [['deployment_facts', 'd'], ['lead_time_facts', 'l'], ['hotfix_facts', 'h']],
        counts=['d.deployments', 'h.hotfixes', 'd.failed_deployments', 'l.lead_time_prs', 'l.negative_lead_time_prs',
                'd.rework_deployments', 'd.recovered_deployments'],
        values=['l.lead_time_p50_hours', 'l.lead_time_p90_hours', 'd.recovery_time_p50_hours'],
        derived=['cast(d.failed_deployments as double precision) / nullif(d.deployments, 0) as change_failure_rate',
                 'cast(coalesce(h.hotfixes, 0) as double precision) / nullif(d.deployments, 0) as hotfix_rate',
                 'cast(d.rework_deployments as double precision) / nullif(d.deployments, 0) as deployment_rework_rate']) }}
)

select * from final
