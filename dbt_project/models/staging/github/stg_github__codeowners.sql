-- The CODEOWNERS rules of each repo as its newest fetch saw them (one row per rule and owner; a repo whose
-- newest fetch found no CODEOWNERS file has no rows).
with fetches as (
    select
        r.*,
        dense_rank() over (partition by repo order by fetched_at desc, partition_date desc) as fetch_rank
    from {{ source('github', 'raw_github_codeowners') }} as r
),

final as (
    select
        repo,
        file_path,
        cast(rule_index as integer) as rule_index,
        cast(owner_index as integer) as owner_index,
        pattern,
        path_regex,
        lower(owner) as owner
    from fetches
    where fetch_rank = 1
      and rule_index > 0
)

select * from final
