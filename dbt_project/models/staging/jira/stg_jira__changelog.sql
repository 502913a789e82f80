{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['issue_id'],
          pre_hook="{{ delete_changed_keys('stg_jira__issues__changed', [['issue_id', 'issue_id']]) }}") }}
-- depends_on: {{ ref('stg_jira__issues__changed') }}
-- Changelog items from the same raw partition as their issue's newest row, keyed by issue id.
-- raw_jira_changelog names its issue by the key it had at that fetch; within one partition that key is
-- the key of the issue row fetched with it, so joining on (key, partition) of the newest issue row picks
-- exactly the changelog fetched with the newest state, and gives each item its issue id and current key.
-- Incremental: the issues of stg_jira__issues__changed.
with issues as (
    select issue_id, issue_key, source_partition_date from {{ ref('stg_jira__issues') }} as i
    {%- if is_incremental() %}
    where {{ key_in('i', ref('stg_jira__issues__changed'), [['issue_id', 'issue_id']]) }}
    {%- endif %}
),

items as (
    select c.*, i.issue_id,
           row_number() over (partition by i.issue_id, c.history_id, c.item_index order by c.fetched_at desc) as rank_in_issue
    from {{ source('jira', 'raw_jira_changelog') }} as c
    inner join issues as i on c.issue_key = i.issue_key and c.partition_date = i.source_partition_date
),

final as (
    select
        issue_id,
        issue_key,
        history_id,
        cast(item_index as integer) as item_index,
        created_at as changed_at,
        author_account_id,
        lower(field) as field,
        field_id,
        nullif(trim(from_value), '') as from_value,
        nullif(trim(from_string), '') as from_string,
        nullif(trim(to_value), '') as to_value,
        nullif(trim(to_string), '') as to_string
    from items
    where rank_in_issue = 1
)

select * from final
