-- Spans during which an issue was blocked (docs/metrics.md "Blocked ticket age"): its status was a
-- blocked status or its Flagged field was set. One row per contiguous blocked span:
-- blocked_from (inclusive) to blocked_to (exclusive; NULL = still blocked).
with statuses as (
    select issue_key, valid_from, valid_to, is_blocked_status from {{ ref('int_jira__status_history') }}
),

flags as (
    select issue_key, valid_from, valid_to, is_flagged from {{ ref('int_jira__flagged_history') }}
),

boundaries as (
    select issue_key, valid_from as at_ from statuses
    union
    select issue_key, valid_from from flags
),

elementary as (
    select issue_key, at_ as valid_from,
           lead(at_) over (partition by issue_key order by at_) as valid_to,
           row_number() over (partition by issue_key order by at_) as piece_seq
    from boundaries
),

evaluated as (
    select
        e.issue_key,
        e.piece_seq,
        e.valid_from,
        e.valid_to,
        coalesce(s.is_blocked_status, false) or coalesce(f.is_flagged, false) as is_blocked
    from elementary as e
    left join statuses as s
        on e.issue_key = s.issue_key and s.valid_from <= e.valid_from
       and e.valid_from < coalesce(s.valid_to, cast('9999-12-31' as timestamp))
    left join flags as f
        on e.issue_key = f.issue_key and f.valid_from <= e.valid_from
       and e.valid_from < coalesce(f.valid_to, cast('9999-12-31' as timestamp))
),

blocked_pieces as (
    select *, piece_seq - row_number() over (partition by issue_key order by piece_seq) as island
    from evaluated
    where is_blocked
),

final as (
    select
        issue_key,
        min(valid_from) as blocked_from,
        case when count(*) = count(valid_to) then max(valid_to) end as blocked_to
    from blocked_pieces
    group by issue_key, island
)

select * from final
