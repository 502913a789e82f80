-- For closed sprints, by issues: committed + added - removed - removed_done = completed + carryover
-- (an issue's entries and exits are counted as events; see DECISIONS.md).
select sprint_id, committed_issues, added_issues, removed_issues, removed_done_issues, completed_issues,
       carryover_issues
from {{ ref('mv_planning_by_sprint') }}
where state = 'closed'
  and committed_issues + added_issues - removed_issues - removed_done_issues <> completed_issues + carryover_issues
