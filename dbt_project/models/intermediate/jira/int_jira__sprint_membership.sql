-- Sprint membership spans: issue I was in sprint S from entered_at (inclusive) to left_at (exclusive;
-- NULL = still in it). Keyed by issue_id (a moved issue keeps it); issue_key is the current key. Contiguous intervals whose sprint lists both contain S are merged, so moving
-- an issue from "76" to "76,80" is not a new entry into 76.
-- Jira completes a sprint by moving its unfinished issues in changes logged a moment after
-- completed_at: an entry or exit logged up to sprint_completion_grace_seconds after the completion
-- of a sprint on the same board counts as happening at that completion (the *_effective_at columns).
with sprint_history as (
    select * from {{ ref('int_jira__issue_field_history') }} where field = 'sprint' and value is not null
),

exploded as (
    select issue_id, issue_key, interval_seq, valid_from, valid_to, trim(sprint_text) as sprint_text
    from (
        select issue_id, issue_key, interval_seq, valid_from, valid_to, {{ split_to_rows('value') }} as sprint_text
        from sprint_history
    ) as rows_
),

memberships as (
    select
        issue_id,
        issue_key,
        cast(sprint_text as bigint) as sprint_id,
        interval_seq,
        valid_from,
        coalesce(valid_to, cast('9999-12-31' as timestamp)) as valid_to,
        interval_seq - row_number() over (partition by issue_id, cast(sprint_text as bigint) order by interval_seq) as island
    from exploded
    where sprint_text <> ''
),

spans as (
    select issue_id, issue_key, sprint_id, min(valid_from) as entered_at, max(valid_to) as left_at_or_open
    from memberships
    group by issue_id, issue_key, sprint_id, island
),

sprints as (
    select sprint_id, board_id, completed_at from {{ ref('stg_jira__sprints') }}
),

-- Completions of sprints on the same board as the span's sprint within the grace period before t.
snapped as (
    select
        sp.issue_id,
        sp.issue_key,
        sp.sprint_id,
        sp.entered_at,
        case when sp.left_at_or_open = cast('9999-12-31' as timestamp) then null else sp.left_at_or_open end as left_at,
        (select max(c.completed_at) from sprints as c
          where c.board_id = s.board_id and c.completed_at < sp.entered_at
            and sp.entered_at <= c.completed_at + {{ seconds_interval(var('sprint_completion_grace_seconds')) }}) as entry_completion_at,
        (select max(c.completed_at) from sprints as c
          where c.board_id = s.board_id and c.completed_at < sp.left_at_or_open
            and sp.left_at_or_open <= c.completed_at + {{ seconds_interval(var('sprint_completion_grace_seconds')) }}) as exit_completion_at
    from spans as sp
    left join sprints as s on sp.sprint_id = s.sprint_id
),

final as (
    select
        issue_id,
        issue_key,
        sprint_id,
        entered_at,
        left_at,
        coalesce(entry_completion_at, entered_at) as entered_effective_at,
        case when left_at is null then null else coalesce(exit_completion_at, left_at) end as left_effective_at
    from snapped
)

select * from final
