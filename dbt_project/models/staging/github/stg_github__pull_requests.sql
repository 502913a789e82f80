-- Newest state of each pull request (latest fetched_at, then latest partition_date).
with newest as (
    {{ newest_per(source('github', 'raw_github_pull_requests'), ['repo', 'number']) }}
),

final as (
    select
        coalesce(pr_id, repo || '#' || cast(number as {{ dbt.type_string() }})) as pr_id,
        repo,
        cast(number as integer) as number,
        title,
        author_login as author,
        author_type,
        {{ is_bot('author_login', 'author_type') }} as is_bot_author,
        upper(state) as state,
        coalesce(is_draft, false) as is_draft,
        base_branch,
        head_branch,
        default_branch,
        coalesce(nullif(labels, ''), '[]') as labels,
        coalesce(additions, 0) as additions,
        coalesce(deletions, 0) as deletions,
        changed_files,
        created_at,
        updated_at,
        closed_at,
        merged_at,
        partition_date as source_partition_date,
        fetched_at
    from newest
)

select * from final
