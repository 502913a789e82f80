-- Jira flow per team and day (dense: every team x every ingested day; a day never ingested has no row).
select
    team, date, blocked_issues, blocked_age_p50_days, blocked_age_max_days, wip_issues, resolved_issues,
    issue_cycle_time_p50_hours, issue_cycle_time_issues
from {{ ref('int_metrics__planning_by_scope_day') }}
where scope_level = 'team'
