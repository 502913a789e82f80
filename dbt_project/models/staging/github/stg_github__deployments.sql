-- Newest state of each GitHub deployment (its newest status).
with newest as (
    {{ newest_per(source('github', 'raw_github_deployments'), ['repo', 'deployment_id']) }}
),

final as (
    select
        repo,
        deployment_id,
        environment,
        sha,
        ref,
        created_at,
        lower(latest_status) as latest_status,
        latest_status_at
    from newest
)

select * from final
