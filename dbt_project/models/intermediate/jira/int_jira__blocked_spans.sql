-- Spans during which an issue was blocked (docs/metrics.md "Blocked ticket age"): its status was a
-- blocked status or its Flagged field was set. One row per contiguous blocked span:
-- blocked_from (inclusive) to blocked_to (exclusive; NULL = still blocked). Keyed by issue_id.
with statuses as (
    select issue_id, issue_key, valid_from, valid_to, is_blocked_status from {{ ref('int_jira__status_history') }}
),

flags as (
    select issue_id, valid_from, valid_to, is_flagged from {{ ref('int_jira__flagged_history') }}
),

keys as (
    select distinct issue_id, issue_key from statuses
),

boundaries as (
    select issue_id, valid_from as at_ from statuses
    union
    select issue_id, valid_from from flags
),

elementary as (
    select issue_id, at_ as valid_from,
           lead(at_) over (partition by issue_id order by at_) as valid_to,
           row_number() over (partition by issue_id order by at_) as piece_seq
    from boundaries
),

evaluated as (
    select
        e.issue_id,
        e.piece_seq,
        e.valid_from,
        e.valid_to,
        coalesce(s.is_blocked_status, false) or coalesce(f.is_flagged, false) as is_blocked
    from elementary as e
    left join statuses as s
        on e.issue_id = s.issue_id and s.valid_from <= e.valid_from
       and e.valid_from < coalesce(s.valid_to, cast('9999-12-31' as timestamp))
    left join flags as f
        on e.issue_id = f.issue_id and f.valid_from <= e.valid_from
       and e.valid_from < coalesce(f.valid_to, cast('9999-12-31' as timestamp))
),

blocked_pieces as (
    select *, piece_seq - row_number() over (partition by issue_id order by piece_seq) as island
    from evaluated
    where is_blocked
),

spans as (
    select
        issue_id,
        min(valid_from) as blocked_from,
        case when count(*) = count(valid_to) then max(valid_to) end as blocked_to
    from blocked_pieces
    group by issue_id, island
),

final as (
    select s.issue_id, k.issue_key, s.blocked_from, s.blocked_to
    from spans as s
    left join keys as k on s.issue_id = k.issue_id
)

select * from final
