-- When each merged PR reached production (docs/metrics.md "Lead time for changes"): with `merge`, its own
-- merge into the default branch; otherwise the first deployment of the repo at or after merged_at.
with pull_requests as (
    select pr.pr_id, pr.repo, pr.number, pr.merged_at, repos.deployment_source
    from {{ ref('stg_github__pull_requests') }} as pr
    inner join {{ ref('int_github__repos') }} as repos on pr.repo = repos.repo
    where pr.merged_at is not null
),

deployments as (
    select * from {{ ref('int_github__deployments') }}
),

own_merge as (
    select pr.repo, pr.number, d.deployment_id, d.deployed_at
    from pull_requests as pr
    inner join deployments as d on d.deployment_id = 'merge:' || pr.pr_id
    where pr.deployment_source = 'merge'
),

candidates as (
    select
        pr.repo,
        pr.number,
        d.deployment_id,
        d.deployed_at,
        row_number() over (partition by pr.repo, pr.number order by d.deployed_at, d.deployment_id) as deployment_rank
    from pull_requests as pr
    inner join deployments as d on pr.repo = d.repo and d.deployed_at >= pr.merged_at
    where pr.deployment_source <> 'merge'
),

final as (
    select repo, number, deployment_id, deployed_at from own_merge
    union all
    select repo, number, deployment_id, deployed_at from candidates where deployment_rank = 1
)

select * from final
