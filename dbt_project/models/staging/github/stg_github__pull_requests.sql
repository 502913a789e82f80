{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['repo', 'number'],
          pre_hook="{{ delete_changed_keys('stg_github__pull_requests__changed', [['repo', 'repo'], ['number', 'number']]) }}") }}
-- depends_on: {{ ref('stg_github__pull_requests__changed') }}
-- Newest state of each pull request (latest fetched_at, then latest partition_date). Incremental: the pull
-- requests of stg_github__pull_requests__changed, from all their raw rows.
with raw_rows as (
    select * from {{ source('github', 'raw_github_pull_requests') }} as r
    {%- if is_incremental() %}
    where {{ key_in('r', ref('stg_github__pull_requests__changed'), [['repo', 'repo'], ['number', 'number']]) }}
    {%- endif %}
),

newest as (
    {{ newest_per('raw_rows', ['repo', 'number']) }}
),

final as (
    select
        coalesce(pr_id, repo || '#' || cast(number as {{ dbt.type_string() }})) as pr_id,
        repo,
        cast(number as integer) as number,
        title,
        author_login as author,
        author_type,
        {{ is_bot('author_login', 'author_type') }} as is_bot_author,
        upper(state) as state,
        coalesce(is_draft, false) as is_draft,
        base_branch,
        head_branch,
        default_branch,
        coalesce(nullif(labels, ''), '[]') as labels,
        coalesce(additions, 0) as additions,
        coalesce(deletions, 0) as deletions,
        changed_files,
        created_at,
        updated_at,
        closed_at,
        merged_at,
        partition_date as source_partition_date,
        fetched_at
    from newest
)

select * from final
