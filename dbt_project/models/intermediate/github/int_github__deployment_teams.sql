-- Every team a deployment counts for (docs/metrics.md Conventions "Team"): its own team (the repo's team, or
-- with `merge` and no repo team the merged PR author's), and in a repo whose CODEOWNERS decide PR teams
-- also every team whose PRs it shipped (a monorepo deployment counts once for each of those teams).
with deployments as (
    select * from {{ ref('int_github__deployments') }}
),

own as (
    select d.deployment_id, coalesce(repos.repo_team, members.team, 'unassigned') as team, true as is_own_team
    from deployments as d
    left join {{ ref('int_github__repos') }} as repos on d.repo = repos.repo
    left join {{ ref('int_config__members') }} as members on lower(d.merged_pr_author) = members.login
),

shipped as (
    select distinct pd.deployment_id, pt.team
    from {{ ref('int_github__pull_request_deployments') }} as pd
    inner join {{ ref('int_github__pull_request_teams') }} as pt on pd.repo = pt.repo and pd.number = pt.number
    where pt.team_source = 'codeowners'
),

final as (
    select deployment_id, team, is_own_team from own
    union all
    select s.deployment_id, s.team, false
    from shipped as s
    where not exists (select 1 from own as o where o.deployment_id = s.deployment_id and o.team = s.team)
)

select * from final
