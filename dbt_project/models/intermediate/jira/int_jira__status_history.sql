-- Status of each issue over time, with its category and whether it counts as blocked
-- (configured blocked statuses, default: a name containing "blocked").
with history as (
    select * from {{ ref('int_jira__issue_field_history') }} where field = 'status'
),

issues as (
    select issue_id, status_id, status_category from {{ ref('stg_jira__issues') }}
),

statuses as (
    select * from {{ ref('stg_jira__statuses') }}
),

final as (
    select
        h.issue_id,
        h.issue_key,
        h.interval_seq,
        h.valid_from,
        h.valid_to,
        h.value as status_id,
        coalesce(h.value_name, s.status_name) as status_name,
        coalesce(s.status_category, case when h.valid_to is null then i.status_category end) as status_category,
        {% if var('blocked_statuses') | length > 0 -%}
        lower(coalesce(h.value_name, s.status_name, '')) in {{ sql_text_list(var('blocked_statuses') | map('lower') | list) }}
        {%- else -%}
        lower(coalesce(h.value_name, s.status_name, '')) like '%blocked%'
        {%- endif %} as is_blocked_status
    from history as h
    left join statuses as s on h.value = s.status_id
    left join issues as i on h.issue_id = i.issue_id
)

select * from final
