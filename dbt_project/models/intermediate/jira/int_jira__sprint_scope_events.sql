-- What each issue contributed to each started sprint (docs/metrics.md Planning), one row per
-- (sprint, issue id, role; issue_key is the current key) with the points that role is measured at:
--   committed     in the sprint at start_at; points at start_at
--   added         entered after start_at and before completion; points when it entered
--   removed       left after start_at and before completion, not Done when it left; points when it left
--   removed_done  left after start_at and before completion while Done (not scope change; kept so
--                 committed + added - removed - removed_done = completed + carryover holds)
--   completed     in the sprint at completion with status category Done; points at completion
--   carryover     in the sprint at completion, not Done; points at completion
-- Completion = completed_at, or end_at while the sprint is open; "at completion" = just before it.
-- An issue entering (or leaving) twice contributes two added (removed) rows: counts are events.
with sprints as (
    select sprint_id, start_at, coalesce(completed_at, end_at) as completion_at
    from {{ ref('stg_jira__sprints') }}
    where start_at is not null
),

issues as (
    select issue_id from {{ ref('stg_jira__issues') }}
    {% if not var('include_subtasks') %}where not is_subtask{% endif %}
),

membership as (
    select m.*
    from {{ ref('int_jira__sprint_membership') }} as m
    inner join issues as i on m.issue_id = i.issue_id
),

points as (
    select * from {{ ref('int_jira__story_points_history') }}
),

statuses as (
    select * from {{ ref('int_jira__status_history') }}
),

spans as (
    select m.*, s.start_at, s.completion_at
    from membership as m
    inner join sprints as s on m.sprint_id = s.sprint_id
),

roles as (
    select sprint_id, issue_id, issue_key, 'committed' as role, start_at as measured_at, false as just_before, entered_at,
           left_at
    from spans
    where entered_effective_at <= start_at and (left_effective_at is null or left_effective_at > start_at)
    union all
    select sprint_id, issue_id, issue_key, 'added', entered_at, false, entered_at, left_at
    from spans
    where entered_effective_at > start_at and (completion_at is null or entered_effective_at < completion_at)
    union all
    select sprint_id, issue_id, issue_key, 'left', left_at, false, entered_at, left_at
    from spans
    where left_effective_at > start_at and (completion_at is null or left_effective_at < completion_at)
    union all
    select sprint_id, issue_id, issue_key, 'at_completion', completion_at, true, entered_at, left_at
    from spans
    where completion_at is not null
      and entered_effective_at < completion_at
      and (left_effective_at is null or left_effective_at >= completion_at)
),

-- Value at t: the interval with valid_from <= t < valid_to (NULL valid_to = open; compared through a
-- far-future sentinel because an OR in a range join makes DuckDB fall back to a nested loop). "Just before t" is the value at
-- t minus one microsecond (timestamps have microsecond precision).
lookups as (
    select r.*,
           case when just_before then measured_at - interval '1 microsecond' else measured_at end as lookup_at
    from roles as r
),

measured as (
    select
        r.*,
        p.story_points,
        st.status_category
    from lookups as r
    left join points as p
        on r.issue_id = p.issue_id and p.valid_from <= r.lookup_at and r.lookup_at < coalesce(p.valid_to, cast('9999-12-31' as timestamp))
    left join statuses as st
        on r.issue_id = st.issue_id and st.valid_from <= r.lookup_at and r.lookup_at < coalesce(st.valid_to, cast('9999-12-31' as timestamp))
),

committed_issues as (
    select distinct sprint_id, issue_id from roles where role = 'committed'
),

final as (
    select
        m.sprint_id,
        m.issue_id,
        m.issue_key,
        case
            when m.role = 'left' and m.status_category = 'done' then 'removed_done'
            when m.role = 'left' then 'removed'
            when m.role = 'at_completion' and m.status_category = 'done' then 'completed'
            when m.role = 'at_completion' then 'carryover'
            else m.role
        end as role,
        m.measured_at,
        m.story_points,
        m.story_points is null as is_unestimated,
        m.status_category,
        c.issue_id is not null as is_committed_issue,
        -- the membership span the row comes from (fct_sprint_issues finds the changelog entries by them)
        m.entered_at,
        m.left_at
    from measured as m
    left join committed_issues as c on m.sprint_id = c.sprint_id and m.issue_id = c.issue_id
)

select * from final
