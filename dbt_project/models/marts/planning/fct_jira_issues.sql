-- One row per Jira issue (issue id; a moved issue is one row under its current key): its current state, team, whether it is blocked now and since when, and its
-- cycle time (first entry into an In Progress status -> resolution).
with issues as (
    select * from {{ ref('stg_jira__issues') }}
),

teams as (
    select * from {{ ref('int_jira__issue_teams') }}
),

open_blocked as (
    select issue_id, max(blocked_from) as blocked_since
    from {{ ref('int_jira__blocked_spans') }}
    where blocked_to is null
    group by issue_id
),

first_in_progress as (
    select issue_id, min(valid_from) as started_at
    from {{ ref('int_jira__status_history') }}
    where status_category = 'indeterminate'
    group by issue_id
),

final as (
    select
        i.issue_key,
        i.project_key,
        t.team,
        i.issue_type,
        i.summary,
        i.status_name,
        i.status_category,
        i.story_points,
        i.created_at,
        i.resolved_at,
        ob.issue_id is not null as is_blocked,
        ob.blocked_since,
        case when i.resolved_at is not null and fip.started_at is not null and fip.started_at <= i.resolved_at
             then {{ hours_between('fip.started_at', 'i.resolved_at') }} end as cycle_time_hours,
        -- more columns
        fip.started_at,
        i.is_subtask,
        -- Which issues the planning metrics count (docs/metrics.md): sub-tasks only when the config
        -- includes them (jira.include_subtasks). Surfaces filter on this column, never on the config.
        {% if var('include_subtasks') %}true{% else %}not i.is_subtask{% endif %} as counts_for_planning,
        i.is_flagged,
        i.issue_type in {{ sql_text_list(var('incident_types')) }} as is_incident,
        t.team_sprint_id as sprint_id,
        i.assignee_account_id,
        i.updated_at,
        i.issue_id
    from issues as i
    inner join teams as t on i.issue_id = t.issue_id
    left join open_blocked as ob on i.issue_id = ob.issue_id
    left join first_in_progress as fip on i.issue_id = fip.issue_id
)

select * from final
