{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['repo', 'pr_number'],
          pre_hook="{{ delete_changed_keys('stg_github__pull_requests__changed', [['repo', 'repo'], ['pr_number', 'number']]) }}") }}
-- depends_on: {{ ref('stg_github__pull_requests__changed') }}
-- Reviews from the same raw partition as their pull request's newest row. Incremental: the pull
-- requests of stg_github__pull_requests__changed.
with pull_requests as (
    select repo, number, author, source_partition_date from {{ ref('stg_github__pull_requests') }} as p
    {%- if is_incremental() %}
    where {{ key_in('p', ref('stg_github__pull_requests__changed'), [['repo', 'repo'], ['number', 'number']]) }}
    {%- endif %}
),

reviews as (
    select r.*
    from {{ source('github', 'raw_github_reviews') }} as r
    inner join pull_requests as pr
        on r.repo = pr.repo and r.pr_number = pr.number and r.partition_date = pr.source_partition_date
),

deduplicated as (
    select *, row_number() over (partition by repo, pr_number, review_id order by fetched_at desc) as rank_in_pr
    from reviews
),

final as (
    select
        d.repo,
        cast(d.pr_number as integer) as pr_number,
        d.review_id,
        d.author_login as reviewer,
        d.author_type as reviewer_type,
        {{ is_bot('d.author_login', 'd.author_type') }} as is_bot_reviewer,
        lower(coalesce(d.author_login, '')) = lower(coalesce(pr.author, '')) as is_self_review,
        upper(d.state) as state,
        -- A PENDING review has no submitted time and is never counted as a review.
        case when upper(d.state) = 'PENDING' then null else d.submitted_at end as submitted_at,
        d.created_at,
        coalesce(d.comment_count, 0) as comment_count
    from deduplicated as d
    inner join pull_requests as pr on d.repo = pr.repo and d.pr_number = pr.number
    where d.rank_in_pr = 1
)

select * from final
