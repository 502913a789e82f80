-- Whether each issue was flagged (Impediment) over time.
select issue_id, issue_key, interval_seq, valid_from, valid_to, value = 'true' as is_flagged
from {{ ref('int_jira__issue_field_history') }}
where field = 'flagged'
