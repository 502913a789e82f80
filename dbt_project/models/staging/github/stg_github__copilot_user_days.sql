-- Newest row of each (day, user) of GitHub Copilot's users 1-day report. Per-person figures stay in the
-- warehouse: marts and surfaces only ever show them summed per team (of 5 people or more) or org.
with newest as (
    {{ newest_per(source('github', 'raw_github_copilot_user_days'), ['day', 'user_login']) }}
),

final as (
    select
        cast(day as date) as day,
        lower(user_login) as user_login,
        coalesce(code_generation_activity_count, 0) as code_generation_activity_count,
        coalesce(code_acceptance_activity_count, 0) as code_acceptance_activity_count,
        coalesce(user_initiated_interaction_count, 0) as user_initiated_interaction_count
    from newest
)

select * from final
