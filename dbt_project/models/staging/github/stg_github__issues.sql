-- Newest state of each GitHub issue that carried a configured incident label when it was fetched.
with newest as (
    {{ newest_per(source('github', 'raw_github_issues'), ['repo', 'number']) }}
),

final as (
    select
        issue_id,
        repo,
        cast(number as integer) as number,
        title,
        upper(state) as state,
        coalesce(nullif(labels, ''), '[]') as labels,
        created_at,
        updated_at,
        closed_at
    from newest
)

select * from final
