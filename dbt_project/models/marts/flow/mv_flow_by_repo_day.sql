-- Pull-request flow per repo and day (dense: every repo x every ingested day; a day never ingested has no row).
select
    repo, team, date, opened_prs, merged_prs, cycle_time_p50_hours, cycle_time_p90_hours,
    time_to_first_review_p50_hours, review_depth_avg, reopened_prs, merged_without_review,
    reviewed_prs, closed_or_merged_prs, rework_rate
from {{ ref('int_metrics__flow_by_scope_day') }}
where scope_level = 'repo'
