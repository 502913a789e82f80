-- Story points of each issue over time: points from valid_from (inclusive) to valid_to (exclusive).
-- NULL points = unestimated.
select
    issue_id,
    issue_key,
    interval_seq,
    valid_from,
    valid_to,
    cast(value as double precision) as story_points
from {{ ref('int_jira__issue_field_history') }}
where field = 'story_points'
