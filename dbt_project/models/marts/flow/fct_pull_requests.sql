-- One row per pull request, with every flow and delivery fact docs/metrics.md defines for it.
with pull_requests as (
    select * from {{ ref('stg_github__pull_requests') }}
),

repos as (
    select * from {{ ref('int_github__repos') }}
),

members as (
    select * from {{ ref('int_config__members') }}
),

reviews as (
    select * from {{ ref('int_github__pull_request_reviews') }}
),

timeline as (
    select * from {{ ref('int_github__pull_request_timeline') }}
),

classification as (
    select * from {{ ref('int_github__pull_request_classification') }}
),

deployments as (
    select * from {{ ref('int_github__pull_request_deployments') }}
),

pull_request_teams as (
    select * from {{ ref('int_github__pull_request_teams') }}
),

ai as (
    select * from {{ ref('int_github__pull_request_ai') }}
),

joined as (
    select
        pr.pr_id,
        pr.repo,
        pr.number,
        coalesce(pull_request_teams.team, repos.repo_team, members.team, 'unassigned') as team,
        pull_request_teams.team_source,
        pr.author,
        pr.is_bot_author,
        pr.title,
        pr.state,
        pr.is_draft,
        pr.base_branch,
        pr.head_branch,
        pr.default_branch,
        pr.created_at,
        timeline.ready_at,
        timeline.first_commit_at,
        reviews.first_review_at,
        pr.merged_at,
        pr.closed_at,
        deployments.deployed_at,
        deployments.deployment_id,
        reviews.review_count,
        reviews.review_comment_count,
        reviews.reviewers,
        timeline.reopened_count,
        classification.is_hotfix,
        classification.is_revert,
        classification.pr_type,
        pr.additions,
        pr.deletions,
        coalesce(ai.ai_assisted, false) as ai_assisted,
        ai.ai_signal,
        coalesce(ai.is_agent_author, false) as is_agent_author,
        case when deployments.deployed_at is not null and timeline.first_commit_at is not null
             then {{ hours_between('timeline.first_commit_at', 'deployments.deployed_at') }} end as lead_time_raw_hours
    from pull_requests as pr
    left join repos on pr.repo = repos.repo
    left join members on lower(pr.author) = members.login
    left join reviews on pr.repo = reviews.repo and pr.number = reviews.pr_number
    left join timeline on pr.repo = timeline.repo and pr.number = timeline.pr_number
    left join classification on pr.repo = classification.repo and pr.number = classification.number
    left join deployments on pr.repo = deployments.repo and pr.number = deployments.number
    left join pull_request_teams on pr.repo = pull_request_teams.repo and pr.number = pull_request_teams.number
    left join ai on pr.repo = ai.repo and pr.number = ai.number
),

final as (
    select
        pr_id,
        repo,
        number,
        team,
        author,
        title,
        state,
        base_branch,
        head_branch,
        created_at,
        ready_at,
        first_commit_at,
        first_review_at,
        merged_at,
        closed_at,
        deployed_at,
        case when merged_at is not null then {{ hours_between('created_at', 'merged_at') }} end as cycle_time_hours,
        -- A negative lead time (author clock skew) is excluded: NULL here, flagged below.
        case when lead_time_raw_hours >= 0 then lead_time_raw_hours end as lead_time_hours,
        case when first_review_at is not null then {{ hours_between('ready_at', 'first_review_at') }} end
            as time_to_first_review_hours,
        case when first_commit_at is not null
             then greatest({{ hours_between('first_commit_at', 'ready_at') }}, 0) end as coding_hours,
        case when merged_at is not null and first_review_at is not null
             then {{ hours_between('first_review_at', 'merged_at') }} end as review_hours,
        review_count,
        review_comment_count,
        review_count + review_comment_count as review_depth,
        reviewers,
        reopened_count,
        is_hotfix,
        is_revert,
        pr_type,
        additions,
        deletions,
        -- more columns
        additions + deletions as pr_size,
        is_bot_author,
        is_draft,
        default_branch,
        merged_at is not null and base_branch = default_branch as is_merged_to_default_branch,
        merged_at is not null and first_review_at is null as is_merged_without_review,
        coalesce(lead_time_raw_hours < 0, false) as has_negative_lead_time,
        lead_time_raw_hours,
        deployment_id,
        team_source,
        ai_assisted,
        ai_signal,
        is_agent_author
    from joined
)

select * from final
