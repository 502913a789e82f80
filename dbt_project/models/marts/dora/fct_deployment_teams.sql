-- One row per deployment and team it counts for (docs/metrics.md Conventions "Team"): its own team and, in a
-- repo whose CODEOWNERS decide PR teams, every team whose PRs it shipped. The one place that rule lives for
-- readers: the metrics layer filters deployments by team on this table, as the per-day marts group by it.
with deployment_teams as (
    select * from {{ ref('int_github__deployment_teams') }}
),

deployments as (
    select deployment_id, repo, deployed_at from {{ ref('fct_deployments') }}
),

final as (
    select dt.deployment_id, dt.team, d.repo, d.deployed_at, dt.is_own_team
    from deployment_teams as dt
    inner join deployments as d on dt.deployment_id = d.deployment_id
)

select * from final
