-- Sprint planning metrics (docs/metrics.md Planning), one row per sprint of the ingested boards.
with sprints as (
    select * from {{ ref('stg_jira__sprints') }}
),

events as (
    select * from {{ ref('int_jira__sprint_scope_events') }}
),

board_teams as (
    select * from {{ ref('int_config__jira_boards') }}
),

-- Issues land in the partition of the day they were last updated, so a sprint that started before the
-- first ingested day can miss issues that were not touched since: its numbers are not the whole story.
ingested as (
    select cast(min(date) as timestamp) as first_day from {{ ref('int_calendar__days') }}
),

totals as (
    select
        sprint_id,
        {% for role in ['committed', 'added', 'removed', 'completed', 'carryover'] %}
        sum(case when role = '{{ role }}' then coalesce(story_points, 0) else 0 end) as {{ role }}_points,
        cast(sum(case when role = '{{ role }}' then 1 else 0 end) as bigint) as {{ role }}_issues,
        {% endfor %}
        sum(case when role = 'completed' and is_committed_issue then coalesce(story_points, 0) else 0 end)
            as completed_committed_points,
        cast(sum(case when role = 'completed' and is_committed_issue then 1 else 0 end) as bigint) as completed_committed_issues,
        cast(sum(case when role = 'removed_done' then 1 else 0 end) as bigint) as removed_done_issues,
        count(distinct case when is_unestimated then issue_id end) as unestimated_issues
    from events
    group by sprint_id
),

final as (
    select
        s.sprint_id,
        s.sprint_name,
        s.board_id,
        coalesce(b.team, 'unassigned') as team,
        s.state,
        s.start_at,
        s.end_at,
        s.completed_at,
        coalesce(t.committed_points, 0) as committed_points,
        coalesce(t.added_points, 0) as added_points,
        coalesce(t.removed_points, 0) as removed_points,
        coalesce(t.completed_points, 0) as completed_points,
        coalesce(t.completed_committed_points, 0) as completed_committed_points,
        coalesce(t.carryover_points, 0) as carryover_points,
        coalesce(t.committed_issues, 0) as committed_issues,
        coalesce(t.added_issues, 0) as added_issues,
        coalesce(t.removed_issues, 0) as removed_issues,
        coalesce(t.completed_issues, 0) as completed_issues,
        coalesce(t.completed_committed_issues, 0) as completed_committed_issues,
        coalesce(t.carryover_issues, 0) as carryover_issues,
        coalesce(t.unestimated_issues, 0) as unestimated_issues,
        cast(100.0 as double precision) * t.completed_committed_points / nullif(t.committed_points, 0) as planned_vs_done_pct,
        cast(100.0 as double precision) * (t.added_points + t.removed_points) / nullif(t.committed_points, 0) as scope_change_pct,
        cast(100.0 as double precision) * t.carryover_points / nullif(t.completed_points + t.carryover_points, 0) as carryover_pct,
        -- the same three by issue count, for teams that do not estimate
        cast(100.0 as double precision) * t.completed_committed_issues / nullif(t.committed_issues, 0) as planned_vs_done_issues_pct,
        cast(100.0 as double precision) * (t.added_issues + t.removed_issues) / nullif(t.committed_issues, 0) as scope_change_issues_pct,
        cast(100.0 as double precision) * t.carryover_issues / nullif(t.completed_issues + t.carryover_issues, 0) as carryover_issues_pct,
        case when coalesce(t.committed_points, 0) > 0 then 'points' else 'issues' end as planning_basis,
        coalesce(t.removed_done_issues, 0) as removed_done_issues,
        s.goal,
        coalesce(s.start_at >= i.first_day, false) as history_complete
    from sprints as s
    cross join ingested as i
    left join board_teams as b on s.board_id = b.board_id
    left join totals as t on s.sprint_id = t.sprint_id
)

select * from final
