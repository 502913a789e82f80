-- GitHub Copilot adoption per day (docs/metrics.md "AI-assisted work"): the organization report's active
-- users and code-generation / acceptance counts (team '*'), and the same summed per team from the users
-- report through each user's configured team -- only for teams of 5 people or more, so no row ever shows
-- one small team's (nearly personal) figures.
with org_days as (
    select * from {{ ref('stg_github__copilot_org_days') }}
),

user_days as (
    select * from {{ ref('stg_github__copilot_user_days') }}
),

members as (
    select * from {{ ref('int_config__members') }}
),

team_sizes as (
    select team, count(distinct login) as team_members
    from members
    group by team
),

team_days as (
    select
        u.day,
        m.team,
        count(distinct u.user_login) as daily_active_users,
        cast(sum(u.code_generation_activity_count) as bigint) as code_generation_activity_count,
        cast(sum(u.code_acceptance_activity_count) as bigint) as code_acceptance_activity_count
    from user_days as u
    inner join members as m on u.user_login = m.login
    group by u.day, m.team
),

final as (
    select
        day as date,
        '*' as team,
        daily_active_users,
        code_generation_activity_count,
        code_acceptance_activity_count,
        cast(null as integer) as team_members
    from org_days
    union all
    select
        t.day as date,
        t.team,
        t.daily_active_users,
        t.code_generation_activity_count,
        t.code_acceptance_activity_count,
        cast(s.team_members as integer) as team_members
    from team_days as t
    inner join team_sizes as s on t.team = s.team
    where s.team_members >= 5
)

select * from final
