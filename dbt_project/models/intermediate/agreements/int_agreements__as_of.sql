-- The moment the facts describe: the newest fetch of any pull request or Jira issue. Working agreements are
-- evaluated up to this moment, never beyond it (a deadline after it has not passed yet).
with fetches as (
    select max(fetched_at) as fetched_at from {{ source('github', 'raw_github_pull_requests') }}
    union all
    select max(fetched_at) from {{ source('jira', 'raw_jira_issues') }}
),

final as (
    select max(fetched_at) as as_of from fetches
)

select * from final
