-- Every observed state of a pull request's size: one row per raw partition row (a partition holds the PRs
-- updated that day, in their state when fetched), at the PR's updated_at (a change of size is an update, so
-- it happened at or before it). The PR-size agreement replays these; the first one stands for creation.
with raw_rows as (
    select
        repo,
        cast(number as integer) as number,
        url,
        coalesce(additions, 0) + coalesce(deletions, 0) as pr_size,
        coalesce(updated_at, fetched_at) as observed_at,
        row_number() over (
            partition by repo, number, coalesce(updated_at, fetched_at) order by fetched_at desc
        ) as rank_at_time
    from {{ source('github', 'raw_github_pull_requests') }}
),

final as (
    select repo, number, observed_at, pr_size, url
    from raw_rows
    where rank_at_time = 1
)

select * from final
