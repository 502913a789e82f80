-- Deployments per the repo's configured source (docs/metrics.md Delivery "Deployment"):
-- merge: each PR merged into the default branch, at merged_at;
-- release: each published release (no drafts; prereleases only if configured), at published_at;
-- deployment: each GitHub deployment to the configured environment whose latest status is success;
-- workflow: each successful run of a configured workflow on the default branch, at its completion
-- (updated_at); a re-run (run_attempt > 1) of a head commit that already had a successful run is not
-- another deployment.
with repos as (
    select * from {{ ref('int_github__repos') }}
),

merges as (
    select
        'merge:' || pr.pr_id as deployment_id,
        pr.repo,
        pr.merged_at as deployed_at,
        'merge' as source,
        pr.repo || '#' || cast(pr.number as {{ dbt.type_string() }}) as source_ref,
        pr.author as merged_pr_author
    from {{ ref('stg_github__pull_requests') }} as pr
    inner join repos on pr.repo = repos.repo and repos.deployment_source = 'merge'
    where pr.merged_at is not null
      and pr.base_branch = pr.default_branch
),

releases as (
    select
        'release:' || r.repo || ':' || r.release_id as deployment_id,
        r.repo,
        r.published_at as deployed_at,
        'release' as source,
        r.tag_name as source_ref,
        cast(null as {{ dbt.type_string() }}) as merged_pr_author
    from {{ ref('stg_github__releases') }} as r
    inner join repos on r.repo = repos.repo and repos.deployment_source = 'release'
    where not r.is_draft
      and r.published_at is not null
      and (not r.is_prerelease or repos.include_prereleases)
),

github_deployments as (
    select
        'deployment:' || d.repo || ':' || d.deployment_id as deployment_id,
        d.repo,
        d.latest_status_at as deployed_at,
        'deployment' as source,
        d.environment as source_ref,
        cast(null as {{ dbt.type_string() }}) as merged_pr_author
    from {{ ref('stg_github__deployments') }} as d
    inner join repos on d.repo = repos.repo and repos.deployment_source = 'deployment'
    where d.latest_status = 'success'
      and d.latest_status_at is not null
      and d.environment = repos.deployment_environment
),

successful_runs as (
    select
        r.*,
        row_number() over (partition by r.repo, r.head_sha order by r.updated_at, r.run_id) as commit_success_rank
    from {{ ref('stg_github__workflow_runs') }} as r
    inner join repos on r.repo = repos.repo and repos.deployment_source = 'workflow'
    inner join {{ ref('int_config__workflows') }} as w on r.repo = w.repo and r.workflow = w.workflow
    where r.conclusion = 'success'
      and r.updated_at is not null
      and (r.default_branch is null or r.head_branch = r.default_branch)
),

workflow_runs as (
    select
        'workflow:' || repo || ':' || cast(run_id as {{ dbt.type_string() }}) as deployment_id,
        repo,
        updated_at as deployed_at,
        'workflow' as source,
        workflow || '#' || cast(run_number as {{ dbt.type_string() }}) as source_ref,
        cast(null as {{ dbt.type_string() }}) as merged_pr_author
    from successful_runs
    where run_attempt <= 1 or commit_success_rank = 1
),

final as (
    select * from merges
    union all
    select * from releases
    union all
    select * from github_deployments
    union all
    select * from workflow_runs
)

select * from final
