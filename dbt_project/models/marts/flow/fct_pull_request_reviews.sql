-- The rows behind a PR's review facts (docs/metrics.md Flow): one row per submitted review (never
-- PENDING), with whether it counts - by someone other than the author and not a bot. The dashboard's
-- PR drilldown draws each review on the PR's timeline.
with reviews as (
    select * from {{ ref('stg_github__reviews') }}
    where submitted_at is not null
),

pull_requests as (
    select pr_id, repo, number from {{ ref('stg_github__pull_requests') }}
),

final as (
    select
        pr.pr_id,
        r.repo,
        r.pr_number,
        r.review_id,
        r.reviewer,
        r.state,
        r.submitted_at,
        r.comment_count,
        r.is_bot_reviewer,
        r.is_self_review,
        r.state in ('APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED')
            and not r.is_self_review and not r.is_bot_reviewer as is_counted
    from reviews as r
    inner join pull_requests as pr on r.repo = pr.repo and r.pr_number = pr.number
)

select * from final
