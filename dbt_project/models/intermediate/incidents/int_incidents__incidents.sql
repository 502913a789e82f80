-- Incidents from every configured source (docs/metrics.md "Change failure rate"), each with its team:
-- jira: issues of a configured incident type (team: the issue's team), resolved at resolved_at;
-- github: issues carrying a label of incidents.github_labels (team: the repo's), resolved at closed_at;
-- pagerduty: incidents of the mapped services (team: the service's), of the configured urgency if one is set,
-- resolved at resolved_at.
with jira as (
    select
        'jira:' || i.issue_id as incident_id,
        'jira' as source,
        i.issue_key as incident_key,
        t.team,
        cast(null as {{ dbt.type_string() }}) as repo,
        i.summary as title,
        i.created_at,
        i.resolved_at
    from {{ ref('stg_jira__issues') }} as i
    inner join {{ ref('int_jira__issue_teams') }} as t on i.issue_key = t.issue_key
    where i.issue_type in {{ sql_text_list(var('incident_types')) }}
),

github_labels as (
    select distinct i.repo, i.number
    from (
        select repo, number, {{ json_text_array_to_rows('labels') }} as label
        from {{ ref('stg_github__issues') }}
        where labels <> '[]'
    ) as i
    where lower(trim(i.label)) in {{ sql_text_list(var('incident_labels')) }}
),

github as (
    select
        'github:' || i.issue_id as incident_id,
        'github' as source,
        i.repo || '#' || cast(i.number as {{ dbt.type_string() }}) as incident_key,
        coalesce(repos.repo_team, 'unassigned') as team,
        i.repo,
        i.title,
        i.created_at,
        i.closed_at as resolved_at
    from {{ ref('stg_github__issues') }} as i
    inner join github_labels as l on i.repo = l.repo and i.number = l.number
    left join {{ ref('int_github__repos') }} as repos on i.repo = repos.repo
),

pagerduty as (
    select
        'pagerduty:' || p.incident_id as incident_id,
        'pagerduty' as source,
        cast(p.incident_number as {{ dbt.type_string() }}) as incident_key,
        coalesce(s.team, 'unassigned') as team,
        cast(null as {{ dbt.type_string() }}) as repo,
        p.title,
        p.created_at,
        p.resolved_at
    from {{ ref('stg_pagerduty__incidents') }} as p
    inner join {{ ref('int_config__pagerduty_services') }} as s on p.service_id = s.service_id
    {%- if var('pagerduty_urgency') %}
    where p.urgency = {{ sql_text(var('pagerduty_urgency')) }}
    {%- endif %}
),

final as (
    select * from jira
    union all
    select * from github
    union all
    select * from pagerduty
)

select * from final
