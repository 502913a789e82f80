-- One row per incident from any source (docs/metrics.md Marts "fct_incidents"), with the deployment it was
-- attributed to: an incident is a failure signal for each repo of its team, attributed to that repo's
-- latest deployment strictly before it within failure_window_days; deployment_id is the latest of those.
with incidents as (
    select * from {{ ref('int_incidents__incidents') }}
),

attributions as (
    select
        a.incident_id,
        a.attributed_deployment_id as deployment_id,
        d.deployed_at,
        row_number() over (partition by a.incident_id order by d.deployed_at desc, a.attributed_deployment_id desc)
            as recency_rank,
        count(*) over (partition by a.incident_id) as attributed_deployments
    from {{ ref('int_github__failure_attribution') }} as a
    inner join {{ ref('int_github__deployments') }} as d on a.attributed_deployment_id = d.deployment_id
    where a.incident_id is not null
),

final as (
    select
        i.incident_id,
        i.source,
        i.incident_key as {{ adapter.quote('key') }},
        i.team,
        i.created_at,
        i.resolved_at,
        a.deployment_id,
        -- more columns
        i.repo,
        i.title,
        case when i.resolved_at is not null then {{ hours_between('i.created_at', 'i.resolved_at') }} end
            as resolution_hours,
        coalesce(a.attributed_deployments, 0) as attributed_deployments
    from incidents as i
    left join attributions as a on i.incident_id = a.incident_id and a.recency_rank = 1
)

select * from final
