-- The rows behind change failure rate and recovery time (docs/metrics.md "Change failure rate"): one row
-- per failure signal (hotfix PR, revert PR, incident - one row per repo of the incident's team), with the
-- deployment it was attributed to and why: the latest deployment of the same repo strictly before the
-- signal, if at most failure_window_days earlier. An unattributed signal keeps the latest earlier
-- deployment it missed (outside_window) or none (no_earlier_deployment), so the page can say why.
with signals as (
    select * from {{ ref('int_github__failure_attribution') }}
),

deployments as (
    select deployment_id, repo, deployed_at, source from {{ ref('int_github__deployments') }}
),

repos as (
    select repo, coalesce(repo_team, 'unassigned') as team from {{ ref('int_github__repos') }}
),

-- The latest deployment of the repo strictly before the signal, however long before.
previous_deployments as (
    select s.signal_id, d.deployment_id, d.deployed_at,
           row_number() over (partition by s.signal_id order by d.deployed_at desc, d.deployment_id desc) as recency_rank
    from signals as s
    inner join deployments as d on s.repo = d.repo and d.deployed_at < s.signal_at
),

final as (
    select
        s.signal_id,
        s.signal_kind,
        -- where the signal comes from: PRs from GitHub; incidents from Jira (issues of jira.incident_types)
        case when s.signal_kind in ('hotfix', 'revert') then 'github' else 'jira' end as signal_source,
        s.signal_ref,
        s.repo,
        coalesce(r.team, 'unassigned') as team,
        s.signal_at,
        s.recovery_at,
        s.attributed_deployment_id as deployment_id,
        attributed.deployed_at as deployment_deployed_at,
        attributed.source as deployment_source,
        case
            when s.attributed_deployment_id is not null then 'attributed'
            when p.deployment_id is not null then 'outside_window'
            else 'no_earlier_deployment'
        end as attribution,
        p.deployment_id as previous_deployment_id,
        p.deployed_at as previous_deployed_at,
        case when p.deployed_at is not null then {{ hours_between('p.deployed_at', 's.signal_at') }} end
            as hours_after_previous_deployment,
        cast({{ var('failure_window_days') | int }} as integer) as failure_window_days,
        case when s.attributed_deployment_id is not null and s.recovery_at is not null
             then {{ hours_between('attributed.deployed_at', 's.recovery_at') }} end as recovery_hours
    from signals as s
    left join repos as r on s.repo = r.repo
    left join previous_deployments as p on s.signal_id = p.signal_id and p.recency_rank = 1
    left join deployments as attributed on s.attributed_deployment_id = attributed.deployment_id
)

select * from final
