-- The changed files of each pull request as its newest fetch saw them.
with fetches as (
    select
        f.*,
        dense_rank() over (partition by repo, pr_number order by fetched_at desc, partition_date desc) as fetch_rank
    from {{ source('github', 'raw_github_pull_request_files') }} as f
),

final as (
    select
        repo,
        cast(pr_number as integer) as pr_number,
        path,
        coalesce(additions, 0) as additions,
        coalesce(deletions, 0) as deletions,
        coalesce(additions, 0) + coalesce(deletions, 0) as changed_lines
    from fetches
    where fetch_rank = 1
)

select * from final
