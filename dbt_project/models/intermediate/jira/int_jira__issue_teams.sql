-- The team of each Jira issue (docs/metrics.md Conventions): the team of the board of its current sprint
-- (the most recently started of its current sprints whose board maps to a team), else the team that
-- lists its (current) project, else `unassigned`. One row per issue id, with its current key.
with issues as (
    select issue_id, issue_key, project_key, sprint_ids_csv from {{ ref('stg_jira__issues') }}
),

current_sprints as (
    select issue_id, cast(trim(sprint_text) as bigint) as sprint_id
    from (select issue_id, {{ split_to_rows('sprint_ids_csv') }} as sprint_text from issues where sprint_ids_csv <> '') as exploded
    where trim(sprint_text) <> ''
),

board_teams as (
    select
        cs.issue_id,
        b.team,
        cs.sprint_id,
        row_number() over (
            partition by cs.issue_id
            order by coalesce(s.start_at, cast('9999-12-31' as timestamp)) desc, cs.sprint_id desc
        ) as sprint_rank
    from current_sprints as cs
    inner join {{ ref('stg_jira__sprints') }} as s on cs.sprint_id = s.sprint_id
    inner join {{ ref('int_config__jira_boards') }} as b on s.board_id = b.board_id
),

final as (
    select
        i.issue_id,
        i.issue_key,
        coalesce(bt.team, p.team, 'unassigned') as team,
        bt.sprint_id as team_sprint_id
    from issues as i
    left join board_teams as bt on i.issue_id = bt.issue_id and bt.sprint_rank = 1
    left join {{ ref('int_config__jira_projects') }} as p on i.project_key = p.project_key
)

select * from final
