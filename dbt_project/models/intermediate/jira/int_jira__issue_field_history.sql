-- Field history rebuilt from the changelog (docs/metrics.md Planning): start from each issue's current
-- value and roll back change by change, newest to oldest. One row per (issue id, field, interval):
-- the field held `value` from valid_from (inclusive) to valid_to (exclusive; NULL = still now).
-- Fields: sprint (comma-separated sprint ids), story_points (number as text; text that is not a number,
-- e.g. 'XL' from a select field, is no estimate), status (status id, name in value_name), flagged
-- ('true'/'false'). Keyed by issue_id (a moved issue keeps it); issue_key is the current key.
with issues as (
    select * from {{ ref('stg_jira__issues') }}
),

current_values as (
    select issue_id, 'sprint' as field, sprint_ids_csv as value, cast(null as {{ dbt.type_string() }}) as value_name from issues
    union all
    select issue_id, 'story_points', cast(story_points as {{ dbt.type_string() }}), cast(null as {{ dbt.type_string() }}) from issues
    union all
    select issue_id, 'status', status_id, status_name from issues
    union all
    select issue_id, 'flagged', case when is_flagged then 'true' else 'false' end, cast(null as {{ dbt.type_string() }}) from issues
),

changes as (
    select
        c.issue_id,
        c.field,
        c.changed_at,
        c.history_id,
        c.item_index,
        case c.field
            when 'sprint' then coalesce(replace(c.from_value, ' ', ''), '')
            -- the number as text: Jira's fromString, or the machine value the ingestion normalized
            when 'story_points' then {{ number_text_or_null('coalesce(c.from_string, c.from_value)') }}
            when 'status' then c.from_value
            -- 'true'/'false' machine values, else Jira's shape: fromString 'Impediment' (set) or empty
            when 'flagged' then case
                when lower(c.from_value) in ('true', 'false') then lower(c.from_value)
                when c.from_string is not null then 'true'
                else 'false' end
        end as from_value,
        case when c.field = 'status' then c.from_string end as from_name
    from {{ ref('stg_jira__changelog') }} as c
    inner join issues as i on c.issue_id = i.issue_id
    where c.field in ('sprint', 'story_points', 'status', 'flagged')
      and c.changed_at is not null
),

ordered as (
    select
        *,
        row_number() over w as change_seq,
        count(*) over (partition by issue_id, field) as change_count,
        lead(changed_at) over w as next_changed_at,
        lead(from_value) over w as next_from_value,
        lead(from_name) over w as next_from_name
    from changes
    window w as (partition by issue_id, field order by changed_at, history_id, item_index)
),

intervals as (
    -- Before the first change: the first change's "from" value, since the issue was created.
    select o.issue_id, o.field, 0 as interval_seq,
           least(i.created_at, o.changed_at) as valid_from, o.changed_at as valid_to,
           o.from_value as value, o.from_name as value_name
    from ordered as o
    inner join issues as i on o.issue_id = i.issue_id
    where o.change_seq = 1
    union all
    -- After each change: the next change's "from" value, or the current value after the last change.
    select o.issue_id, o.field, o.change_seq,
           o.changed_at, o.next_changed_at,
           case when o.change_seq = o.change_count then cv.value else o.next_from_value end,
           case when o.change_seq = o.change_count then cv.value_name else o.next_from_name end
    from ordered as o
    inner join current_values as cv on o.issue_id = cv.issue_id and o.field = cv.field
    union all
    -- Never changed: the current value for the issue's whole life.
    select cv.issue_id, cv.field, 0, i.created_at, cast(null as timestamp), cv.value, cv.value_name
    from current_values as cv
    inner join issues as i on cv.issue_id = i.issue_id
    where not exists (
        select 1 from changes as c where c.issue_id = cv.issue_id and c.field = cv.field
    )
),

final as (
    select iv.issue_id, i.issue_key, iv.field, iv.interval_seq, iv.valid_from, iv.valid_to,
           nullif(iv.value, '') as value, iv.value_name
    from intervals as iv
    inner join issues as i on iv.issue_id = i.issue_id
)

select * from final
