-- Newest state of each sprint.
with newest as (
    {{ newest_per(source('jira', 'raw_jira_sprints'), ['sprint_id']) }}
),

final as (
    select
        cast(sprint_id as bigint) as sprint_id,
        cast(board_id as bigint) as board_id,
        name as sprint_name,
        lower(state) as state,
        start_at,
        end_at,
        completed_at,
        goal
    from newest
)

select * from final
