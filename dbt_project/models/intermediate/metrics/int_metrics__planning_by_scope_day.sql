-- Jira flow per team (repo '*') and for the org (team '*', repo '*') per day, dense over Jira's
-- ingested calendar (every day Jira was ingested, none in a gap). "At the end of day D" = just before midnight after D (UTC).
-- Sub-tasks are left out unless the config includes them.
with teams as (
    select scope_level, team, repo from {{ ref('int_metrics__scopes') }} where scope_level in ('team', 'org')
),

-- Jira's ingested days: a day on which Jira was not ingested has no row, even if GitHub was.
days as (
    select date, cast(date as timestamp) + interval '1 day' as day_end
    from {{ ref('int_calendar__source_days') }} where source = 'jira'
),

issues as (
    select * from {{ ref('fct_jira_issues') }}
    {% if not var('include_subtasks') %}where not is_subtask{% endif %}
),

blocked_at_day_end as (
    select days.date, i.team, i.team as repo_team, '*' as repo, i.issue_id,
           {{ hours_between('b.blocked_from', 'days.day_end') }} / 24.0 as blocked_age_days
    from {{ ref('int_jira__blocked_spans') }} as b
    inner join issues as i on b.issue_id = i.issue_id
    inner join days on b.blocked_from < days.day_end and coalesce(b.blocked_to, cast('9999-12-31' as timestamp)) >= days.day_end
),

wip_at_day_end as (
    select days.date, i.team, i.team as repo_team, '*' as repo, i.issue_id
    from {{ ref('int_jira__status_history') }} as s
    inner join issues as i on s.issue_id = i.issue_id
    inner join days on s.valid_from < days.day_end and coalesce(s.valid_to, cast('9999-12-31' as timestamp)) >= days.day_end
    where s.status_category = 'indeterminate'
),

resolved as (
    select cast(resolved_at as date) as date, team, team as repo_team, '*' as repo, cycle_time_hours
    from issues where resolved_at is not null
),

-- Team and org rows only (Jira issues belong to teams, not repos).
scoped_blocked as (
    select 'team' as scope_level, team, repo, date, issue_id, blocked_age_days from blocked_at_day_end
    union all
    select 'org', '*', '*', date, issue_id, blocked_age_days from blocked_at_day_end
),
scoped_wip as (
    select 'team' as scope_level, team, repo, date, issue_id from wip_at_day_end
    union all
    select 'org', '*', '*', date, issue_id from wip_at_day_end
),
scoped_resolved as (
    select 'team' as scope_level, team, repo, date, cycle_time_hours from resolved
    union all
    select 'org', '*', '*', date, cycle_time_hours from resolved
),

blocked_facts as (
    select scope_level, team, repo, date,
           count(distinct issue_id) as blocked_issues,
           {{ percentile_cont('blocked_age_days', 0.5) }} as blocked_age_p50_days,
           max(blocked_age_days) as blocked_age_max_days
    from scoped_blocked group by scope_level, team, repo, date
),

wip_facts as (
    select scope_level, team, repo, date, count(distinct issue_id) as wip_issues
    from scoped_wip group by scope_level, team, repo, date
),

resolved_facts as (
    select scope_level, team, repo, date,
           count(*) as resolved_issues,
           {{ percentile_cont('cycle_time_hours', 0.5) }} as issue_cycle_time_p50_hours,
           count(cycle_time_hours) as issue_cycle_time_issues
    from scoped_resolved group by scope_level, team, repo, date
),

final as (
    {{ scope_day_grid('teams', 'days', [['blocked_facts', 'b'], ['wip_facts', 'w'], ['resolved_facts', 'r']],
        counts=['b.blocked_issues', 'w.wip_issues', 'r.resolved_issues', 'r.issue_cycle_time_issues'],
        values=['b.blocked_age_p50_days', 'b.blocked_age_max_days', 'r.issue_cycle_time_p50_hours']) }}
)

select * from final
