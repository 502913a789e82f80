-- docs/metrics.md: a negative lead time (author clock skew) is excluded from the metric and counted by a
-- data-quality check. This is that check: it warns with the number of such PRs, it does not fail.
{{ config(severity='warn') }}
select pr_id, repo, number, first_commit_at, deployed_at, lead_time_raw_hours
from {{ ref('fct_pull_requests') }}
where has_negative_lead_time
