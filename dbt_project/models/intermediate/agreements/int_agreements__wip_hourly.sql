-- The team WIP (docs/metrics.md Jira flow: issues in a status of category In Progress) at every hourly
-- evaluation, for the teams with a `wip_max_issues` rule (agreed or proposed). Evaluations are the whole hours
-- after midnight of the first ingested day up to the facts' as-of time; WIP at t counts the issues in progress
-- just before t, so the evaluation at midnight equals the mart's end-of-day WIP of the day before.
-- Sub-tasks are left out unless the config includes them.
with teams as (
    select distinct team from {{ ref('int_config__working_agreements') }} where rule = 'wip_max_issues'
),

as_of as (
    select as_of from {{ ref('int_agreements__as_of') }}
),

hours_of_day as (
    {% for hour in range(1, 25) %}
    select {{ hour }} as hour_of_day{% if not loop.last %} union all{% endif %}
    {% endfor %}
),

evaluations as (
    select cast(d.date as timestamp) + h.hour_of_day * interval '1 hour' as evaluated_at
    from {{ ref('int_calendar__days') }} as d
    cross join hours_of_day as h
    where cast(d.date as timestamp) + h.hour_of_day * interval '1 hour' <= (select max(as_of) from as_of)
),

issues as (
    select issue_id, team from {{ ref('fct_jira_issues') }}
    {% if not var('include_subtasks') %}where not is_subtask{% endif %}
),

in_progress as (
    select s.issue_id, i.team, s.valid_from, s.valid_to
    from {{ ref('int_jira__status_history') }} as s
    inner join issues as i on s.issue_id = i.issue_id
    inner join teams as t on i.team = t.team
    where s.status_category = 'indeterminate'
),

counted as (
    select p.team, e.evaluated_at, count(distinct p.issue_id) as wip_issues
    from in_progress as p
    inner join evaluations as e
        on p.valid_from < e.evaluated_at and coalesce(p.valid_to, cast('9999-12-31' as timestamp)) >= e.evaluated_at
    group by p.team, e.evaluated_at
),

final as (
    select t.team, e.evaluated_at, coalesce(c.wip_issues, 0) as wip_issues
    from teams as t
    cross join evaluations as e
    left join counted as c on t.team = c.team and e.evaluated_at = c.evaluated_at
)

select * from final
