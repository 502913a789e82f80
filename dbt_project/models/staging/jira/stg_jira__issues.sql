{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['issue_id'],
          pre_hook="{{ delete_changed_keys('stg_jira__issues__changed', [['issue_id', 'issue_id']]) }}") }}
-- depends_on: {{ ref('stg_jira__issues__changed') }}
-- Newest state of each Jira issue, with its current field values. An issue is its issue id: moved to
-- another project it keeps its id and gets a new key, so the newest row per id wins and its key is the
-- current one (an issue fetched as API-12, later as WEB-3, is one issue WEB-3).
-- Incremental: the issues of stg_jira__issues__changed, from all their raw rows (under every key they had).
with raw_rows as (
    select * from {{ source('jira', 'raw_jira_issues') }} as r
    {%- if is_incremental() %}
    where {{ key_in('r', ref('stg_jira__issues__changed'), [['issue_id', 'issue_id']]) }}
    {%- endif %}
),

newest as (
    {{ newest_per('raw_rows', ['issue_id']) }}
),

final as (
    select
        issue_id,
        key as issue_key,
        project_key,
        issue_type,
        coalesce(is_subtask, false) as is_subtask,
        summary,
        status_id,
        status_name,
        lower(status_category) as status_category,
        created_at,
        updated_at,
        resolved_at,
        cast(story_points as double precision) as story_points,
        -- '[76, 80]' or '["76","80"]' -> '76,80' (the shape of the Sprint changelog values)
        replace(replace(replace(replace(coalesce(sprint_ids, ''), '[', ''), ']', ''), '"', ''), ' ', '') as sprint_ids_csv,
        coalesce(flagged, false) as is_flagged,
        assignee_account_id,
        partition_date as source_partition_date,
        fetched_at
    from newest
)

select * from final
