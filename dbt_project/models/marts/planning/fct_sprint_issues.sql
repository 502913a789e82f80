-- Keyed by issue_id (a moved issue keeps it; issue_key is its current key).
-- The rows behind each sprint's planning numbers (docs/metrics.md Planning): one row per (sprint, issue,
-- role) as int_jira__sprint_scope_events counts them, with the points at the moment that role is
-- measured at, and the changelog entry that placed the issue in that role:
--   committed, added, carryover  the Sprint-field change that brought it into the sprint (NULL: it was in
--                                the sprint since it was created, or before the changelog begins)
--   removed, removed_done        the Sprint-field change that took it out
--   completed                    the status change that made it Done, the last one before completion
with events as (
    select * from {{ ref('int_jira__sprint_scope_events') }}
),

sprints as (
    select * from {{ ref('mv_planning_by_sprint') }}
),

issues as (
    select issue_id, issue_key, summary, issue_type from {{ ref('stg_jira__issues') }}
),

changelog as (
    select * from {{ ref('stg_jira__changelog') }} where field in ('sprint', 'status')
),

-- A Sprint change logged at the span's entry (or exit) time is the one that made it; several items of
-- one change at the same instant: the first by (history_id, item_index).
sprint_changes as (
    select issue_id, changed_at, history_id, item_index, author_account_id, from_value, to_value,
           from_string, to_string,
           row_number() over (partition by issue_id, changed_at order by history_id, item_index) as rank_at_instant
    from changelog
    where field = 'sprint'
),

status_changes as (
    select issue_id, changed_at, history_id, item_index, author_account_id, from_string, to_string
    from changelog
    where field = 'status'
),

completed_by as (
    select e.sprint_id, e.issue_id, e.measured_at, s.changed_at, s.history_id, s.item_index,
           s.author_account_id, s.from_string, s.to_string,
           row_number() over (partition by e.sprint_id, e.issue_id, e.measured_at
                              order by s.changed_at desc, s.history_id desc, s.item_index desc) as recency_rank
    from events as e
    inner join status_changes as s on e.issue_id = s.issue_id and s.changed_at < e.measured_at
    where e.role = 'completed'
),

placed as (
    select
        e.*,
        case
            when e.role = 'completed' then 'status'
            when coalesce(enter.history_id, leave.history_id) is not null then 'sprint'
        end as placed_by_field,
        case when e.role = 'completed' then done.changed_at
             when e.role in ('removed', 'removed_done') then leave.changed_at
             else enter.changed_at end as placed_by_changed_at,
        case when e.role = 'completed' then done.history_id
             when e.role in ('removed', 'removed_done') then leave.history_id
             else enter.history_id end as placed_by_history_id,
        case when e.role = 'completed' then done.author_account_id
             when e.role in ('removed', 'removed_done') then leave.author_account_id
             else enter.author_account_id end as placed_by_author_account_id,
        case when e.role = 'completed' then done.from_string
             when e.role in ('removed', 'removed_done') then coalesce(leave.from_string, leave.from_value)
             else coalesce(enter.from_string, enter.from_value) end as placed_by_from,
        case when e.role = 'completed' then done.to_string
             when e.role in ('removed', 'removed_done') then coalesce(leave.to_string, leave.to_value)
             else coalesce(enter.to_string, enter.to_value) end as placed_by_to
    from events as e
    left join sprint_changes as enter
        on e.issue_id = enter.issue_id and e.entered_at = enter.changed_at and enter.rank_at_instant = 1
       and e.role in ('committed', 'added', 'carryover')
    left join sprint_changes as leave
        on e.issue_id = leave.issue_id and e.left_at = leave.changed_at and leave.rank_at_instant = 1
       and e.role in ('removed', 'removed_done')
    left join completed_by as done
        on e.sprint_id = done.sprint_id and e.issue_id = done.issue_id and e.measured_at = done.measured_at
       and done.recency_rank = 1 and e.role = 'completed'
),

final as (
    select
        p.sprint_id,
        p.issue_key,
        p.role,
        s.sprint_name,
        s.team,
        s.board_id,
        p.issue_id,
        i.summary,
        i.issue_type,
        p.measured_at,
        p.story_points,
        p.is_unestimated,
        p.status_category,
        p.is_committed_issue,
        p.role = 'completed' and p.is_committed_issue as is_completed_committed,
        p.entered_at,
        p.left_at,
        p.placed_by_field,
        p.placed_by_changed_at,
        p.placed_by_history_id,
        p.placed_by_author_account_id,
        p.placed_by_from,
        p.placed_by_to,
        not coalesce(s.history_complete, false) as is_sprint_history_incomplete
    from placed as p
    inner join sprints as s on p.sprint_id = s.sprint_id
    left join issues as i on p.issue_id = i.issue_id
)

select * from final
