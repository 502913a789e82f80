{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['repo', 'pr_number'],
          pre_hook="{{ delete_changed_keys('stg_github__pull_requests__changed', [['repo', 'repo'], ['pr_number', 'number']]) }}") }}
-- depends_on: {{ ref('stg_github__pull_requests__changed') }}
-- Commits from the same raw partition as their pull request's newest row. Incremental: the pull
-- requests of stg_github__pull_requests__changed.
with pull_requests as (
    select repo, number, source_partition_date from {{ ref('stg_github__pull_requests') }} as p
    {%- if is_incremental() %}
    where {{ key_in('p', ref('stg_github__pull_requests__changed'), [['repo', 'repo'], ['number', 'number']]) }}
    {%- endif %}
),

commits as (
    select c.*, row_number() over (partition by c.repo, c.pr_number, c.oid order by c.fetched_at desc) as rank_in_pr
    from {{ source('github', 'raw_github_commits') }} as c
    inner join pull_requests as pr
        on c.repo = pr.repo and c.pr_number = pr.number and c.partition_date = pr.source_partition_date
),

final as (
    select repo, cast(pr_number as integer) as pr_number, oid, authored_at, committed_at, author_login,
        {{ json_text('payload', ['commit', 'message']) }} as message
    from commits
    where rank_in_pr = 1
)

select * from final
