-- Newest state of each GitHub Actions run of a configured deploy workflow (a re-run keeps its run id and
-- shows its latest attempt).
with newest as (
    {{ newest_per(source('github', 'raw_github_workflow_runs'), ['repo', 'run_id']) }}
),

final as (
    select
        repo,
        cast(run_id as bigint) as run_id,
        workflow,
        workflow_path,
        name,
        head_branch,
        head_sha,
        default_branch,
        event,
        lower(status) as status,
        lower(conclusion) as conclusion,
        run_number,
        coalesce(run_attempt, 1) as run_attempt,
        created_at,
        updated_at,
        run_started_at
    from newest
)

select * from final
