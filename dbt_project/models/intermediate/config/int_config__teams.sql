-- Every team named in the project config.
select distinct team from (
    select team from {{ ref('int_config__repos') }}
    union all select team from {{ ref('int_config__members') }}
    union all select team from {{ ref('int_config__jira_projects') }}
    union all select team from {{ ref('int_config__jira_boards') }}
) as teams
where team is not null
