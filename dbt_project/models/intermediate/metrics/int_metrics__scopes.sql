-- The scopes metrics are cached for: each repo (with its team), each team (repo '*'), the org
-- (team '*', repo '*'). Teams: configured teams plus any team a row maps to (e.g. `unassigned`).
with repos as (
    select repo, coalesce(repo_team, 'unassigned') as team from {{ ref('int_github__repos') }}
),

teams as (
    select team from {{ ref('int_config__teams') }}
    union select team from repos
    union select distinct team from {{ ref('fct_pull_requests') }}
    union select distinct team from {{ ref('fct_deployments') }}
    union select distinct team from {{ ref('int_jira__issue_teams') }}
),

final as (
    select 'repo' as scope_level, team, repo from repos
    union all
    select 'team', team, '*' from teams
    union all
    select 'org', '*', '*'
)

select * from final
