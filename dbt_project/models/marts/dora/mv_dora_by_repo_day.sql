-- DORA per repo and day (dense: every repo x every ingested day; a day never ingested has no row).
select
    repo, team, date, deployments, lead_time_p50_hours, lead_time_p90_hours, hotfixes, failed_deployments,
    lead_time_prs, negative_lead_time_prs, rework_deployments, recovery_time_p50_hours, recovered_deployments,
    change_failure_rate, hotfix_rate, deployment_rework_rate
from {{ ref('int_metrics__dora_by_scope_day') }}
where scope_level = 'repo'
