{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['repo', 'pr_number'],
          pre_hook="{{ delete_changed_keys('stg_github__pull_requests__changed', [['repo', 'repo'], ['pr_number', 'number']]) }}") }}
-- depends_on: {{ ref('stg_github__pull_requests__changed') }}
-- Timeline events from the same raw partition as their pull request's newest row. Incremental: the pull
-- requests of stg_github__pull_requests__changed.
with pull_requests as (
    select repo, number, source_partition_date from {{ ref('stg_github__pull_requests') }} as p
    {%- if is_incremental() %}
    where {{ key_in('p', ref('stg_github__pull_requests__changed'), [['repo', 'repo'], ['number', 'number']]) }}
    {%- endif %}
),

events as (
    select e.*, row_number() over (partition by e.repo, e.pr_number, e.event_id order by e.fetched_at desc) as rank_in_pr
    from {{ source('github', 'raw_github_timeline_events') }} as e
    inner join pull_requests as pr
        on e.repo = pr.repo and e.pr_number = pr.number and e.partition_date = pr.source_partition_date
),

final as (
    select repo, cast(pr_number as integer) as pr_number, event_id, event_type, actor_login, created_at
    from events
    where rank_in_pr = 1
)

select * from final
