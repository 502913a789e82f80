{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['repo', 'number'],
          pre_hook="{{ delete_changed_keys('stg_github__pull_requests__changed', [['repo', 'repo'], ['number', 'number']]) }}") }}
-- depends_on: {{ ref('stg_github__pull_requests__changed') }}
-- One row per (pull request, label), label names lower-cased for matching. Incremental: the pull requests of
-- stg_github__pull_requests__changed.
with pull_requests as (
    select repo, number, labels from {{ ref('stg_github__pull_requests') }} as p
    where labels <> '[]'
    {%- if is_incremental() %}
      and {{ key_in('p', ref('stg_github__pull_requests__changed'), [['repo', 'repo'], ['number', 'number']]) }}
    {%- endif %}
),

exploded as (
    select repo, number, {{ json_text_array_to_rows('labels') }} as label
    from pull_requests
),

final as (
    select distinct repo, number, lower(trim(label)) as label
    from exploded
    where label is not null and trim(label) <> ''
)

select * from final
