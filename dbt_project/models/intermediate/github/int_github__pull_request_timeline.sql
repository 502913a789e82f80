-- Timeline facts per pull request: when it became ready for review, how often it was reopened,
-- and its first commit.
with pull_requests as (
    select repo, number, created_at from {{ ref('stg_github__pull_requests') }}
),

reviews as (
    select repo, pr_number, first_review_at from {{ ref('int_github__pull_request_reviews') }}
),

events as (
    select * from {{ ref('stg_github__timeline_events') }}
),

-- The last ReadyForReview before the first review (any, when there is no review yet).
ready as (
    select e.repo, e.pr_number, max(e.created_at) as last_ready_for_review_at
    from events as e
    inner join reviews as r on e.repo = r.repo and e.pr_number = r.pr_number
    where e.event_type = 'ReadyForReviewEvent'
      and (r.first_review_at is null or e.created_at <= r.first_review_at)
    group by e.repo, e.pr_number
),

reopened as (
    select repo, pr_number, count(*) as reopened_count
    from events
    where event_type = 'ReopenedEvent'
    group by repo, pr_number
),

commits as (
    select repo, pr_number, min(authored_at) as first_commit_at
    from {{ ref('stg_github__commits') }}
    group by repo, pr_number
),

final as (
    select
        pr.repo,
        pr.number as pr_number,
        coalesce(ready.last_ready_for_review_at, pr.created_at) as ready_at,
        coalesce(reopened.reopened_count, 0) as reopened_count,
        commits.first_commit_at
    from pull_requests as pr
    left join ready on pr.repo = ready.repo and pr.number = ready.pr_number
    left join reopened on pr.repo = reopened.repo and pr.number = reopened.pr_number
    left join commits on pr.repo = commits.repo and pr.number = commits.pr_number
)

select * from final
