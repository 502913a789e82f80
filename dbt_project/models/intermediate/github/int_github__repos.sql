-- Every repository (configured, or seen in the data) with its team and how its deployments are counted.
with configured as (
    select * from {{ ref('int_config__repos') }}
),

seen as (
    select distinct repo from {{ ref('stg_github__pull_requests') }}
    union select distinct repo from {{ ref('stg_github__releases') }}
    union select distinct repo from {{ ref('stg_github__deployments') }}
),

all_repos as (
    select repo from configured
    union select repo from seen
),

final as (
    select
        a.repo,
        c.team as repo_team,
        coalesce(c.deployment_source, {{ sql_text(var('default_deployment_source')) }}) as deployment_source,
        coalesce(c.deployment_environment, {{ sql_text(var('default_deployment_environment')) }}) as deployment_environment,
        coalesce(c.include_prereleases, {{ 'true' if var('default_include_prereleases') else 'false' }}) as include_prereleases
    from all_repos as a
    left join configured as c on a.repo = c.repo
)

select * from final
