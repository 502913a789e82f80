-- Review facts per pull request (docs/metrics.md Flow): only submitted reviews (never PENDING) by someone
-- other than the author and not a bot count.
with pull_requests as (
    select repo, number from {{ ref('stg_github__pull_requests') }}
),

counted_reviews as (
    select *
    from {{ ref('stg_github__reviews') }}
    where submitted_at is not null
      and state in ('APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED')
      and not is_self_review
      and not is_bot_reviewer
),

per_pr as (
    select
        repo,
        pr_number,
        min(submitted_at) as first_review_at,
        count(*) as review_count,
        cast(sum(comment_count) as bigint) as review_comment_count,
        count(distinct lower(reviewer)) as reviewers
    from counted_reviews
    group by repo, pr_number
),

final as (
    select
        pr.repo,
        pr.number as pr_number,
        r.first_review_at,
        coalesce(r.review_count, 0) as review_count,
        coalesce(r.review_comment_count, 0) as review_comment_count,
        coalesce(r.reviewers, 0) as reviewers
    from pull_requests as pr
    left join per_pr as r on pr.repo = r.repo and pr.number = r.pr_number
)

select * from final
