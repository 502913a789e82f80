-- Each deployment with how many of the PRs it shipped were AI-assisted, for the change failure rate of
-- deployments that shipped at least one AI-assisted PR versus those that shipped none (docs/metrics.md
-- "AI-assisted work"). Bot-authored PRs other than coding agents' do not count as shipped here.
with deployments as (
    select * from {{ ref('fct_deployments') }}
),

shipped as (
    select
        deployment_id,
        count(*) as shipped_prs,
        cast(sum(case when ai_assisted then 1 else 0 end) as bigint) as ai_assisted_prs
    from {{ ref('fct_pull_requests') }}
    where deployment_id is not null and (not is_bot_author or is_agent_author)
    group by deployment_id
),

final as (
    select
        d.deployment_id,
        d.repo,
        d.team,
        d.deployed_at,
        d.is_failure,
        coalesce(s.shipped_prs, 0) as shipped_prs,
        coalesce(s.ai_assisted_prs, 0) as ai_assisted_prs,
        coalesce(s.ai_assisted_prs, 0) > 0 as ships_ai_assisted
    from deployments as d
    left join shipped as s on d.deployment_id = s.deployment_id
)

select * from final
