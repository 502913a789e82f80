-- Failure signals (docs/metrics.md "Change failure rate"): hotfix PRs and revert PRs at merged_at, and
-- incidents (Jira, labelled GitHub issues, PagerDuty: int_incidents__incidents) at created_at, one signal per
-- repo of the incident's team. recovery_at is what would end the failure: the signal PR's deployment time, or
-- the incident's resolved_at.
with pull_requests as (
    select pr.pr_id, pr.repo, pr.number, pr.merged_at, c.is_hotfix, c.is_revert, d.deployed_at
    from {{ ref('stg_github__pull_requests') }} as pr
    inner join {{ ref('int_github__pull_request_classification') }} as c on pr.repo = c.repo and pr.number = c.number
    left join {{ ref('int_github__pull_request_deployments') }} as d on pr.repo = d.repo and pr.number = d.number
    where pr.merged_at is not null
),

repos as (
    select repo, coalesce(repo_team, 'unassigned') as team from {{ ref('int_github__repos') }}
),

incidents as (
    select incident_id, incident_key, created_at, resolved_at, team from {{ ref('int_incidents__incidents') }}
),

final as (
    select 'hotfix:' || pr_id as signal_id, 'hotfix' as signal_kind, repo, merged_at as signal_at,
           deployed_at as recovery_at, repo || '#' || cast(number as {{ dbt.type_string() }}) as signal_ref,
           cast(null as {{ dbt.type_string() }}) as incident_id
    from pull_requests where is_hotfix
    union all
    select 'revert:' || pr_id, 'revert', repo, merged_at, deployed_at,
           repo || '#' || cast(number as {{ dbt.type_string() }}), cast(null as {{ dbt.type_string() }})
    from pull_requests where is_revert
    union all
    select 'incident:' || i.incident_id || ':' || r.repo, 'incident', r.repo, i.created_at, i.resolved_at,
           i.incident_key, i.incident_id
    from incidents as i
    inner join repos as r on i.team = r.team
    where i.team <> 'unassigned'
)

select * from final
