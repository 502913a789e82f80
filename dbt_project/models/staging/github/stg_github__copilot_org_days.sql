-- Newest row of each day of GitHub Copilot's organization 1-day report.
with newest as (
    {{ newest_per(source('github', 'raw_github_copilot_org_days'), ['day']) }}
),

final as (
    select
        cast(day as date) as day,
        daily_active_users,
        weekly_active_users,
        monthly_active_users,
        coalesce(code_generation_activity_count, 0) as code_generation_activity_count,
        coalesce(code_acceptance_activity_count, 0) as code_acceptance_activity_count,
        coalesce(user_initiated_interaction_count, 0) as user_initiated_interaction_count
    from newest
)

select * from final
