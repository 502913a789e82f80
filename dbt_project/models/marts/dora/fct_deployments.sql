-- One row per deployment (docs/metrics.md Delivery): failure (a failure signal attributed to it), rework
-- (it carries a hotfix or revert PR), and recovery (the earliest recovery of its attributed signals).
with deployments as (
    select * from {{ ref('int_github__deployments') }}
),

repos as (
    select * from {{ ref('int_github__repos') }}
),

members as (
    select * from {{ ref('int_config__members') }}
),

attributed as (
    select
        attributed_deployment_id as deployment_id,
        count(*) as failure_signals,
        min(recovery_at) as recovered_at
    from {{ ref('int_github__failure_attribution') }}
    where attributed_deployment_id is not null
    group by attributed_deployment_id
),

carried as (
    select
        d.deployment_id,
        count(*) as deployed_prs,
        max(case when c.is_hotfix or c.is_revert then 1 else 0 end) = 1 as carries_fix,
        max(case when c.is_hotfix then 1 else 0 end) = 1 as carries_hotfix
    from {{ ref('int_github__pull_request_deployments') }} as d
    inner join {{ ref('int_github__pull_request_classification') }} as c on d.repo = c.repo and d.number = c.number
    group by d.deployment_id
),

final as (
    select
        d.deployment_id,
        d.repo,
        coalesce(repos.repo_team, members.team, 'unassigned') as team,
        d.deployed_at,
        d.source,
        coalesce(a.failure_signals, 0) > 0 as is_failure,
        coalesce(carried.carries_fix, false) as is_rework,
        a.recovered_at,
        -- more columns
        case when a.recovered_at is not null then {{ hours_between('d.deployed_at', 'a.recovered_at') }} end
            as recovery_hours,
        coalesce(a.failure_signals, 0) as failure_signals,
        coalesce(carried.deployed_prs, 0) as deployed_prs,
        coalesce(carried.carries_hotfix, false) as carries_hotfix,
        d.source_ref,
        -- data quality: a release or GitHub deployment that shipped no merged PR has no lead time to give
        coalesce(carried.deployed_prs, 0) = 0 as has_no_pull_request
    from deployments as d
    left join repos on d.repo = repos.repo
    left join members on lower(d.merged_pr_author) = members.login
    left join attributed as a on d.deployment_id = a.deployment_id
    left join carried on d.deployment_id = carried.deployment_id
)

select * from final
