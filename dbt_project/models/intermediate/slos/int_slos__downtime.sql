-- Per incident SLO, the union of its incidents' intervals as disjoint downtime spans (docs/metrics.md "SLOs and
-- error budgets"): the team's incidents from every source, or only those of the SLO's pagerduty_services when
-- it lists some; an unresolved incident lasts to the end of the last ingested day.
with slos as (
    select * from {{ ref('int_config__slos') }} where kind = 'incidents'
),

services as (
    select * from {{ ref('int_config__slo_pagerduty_services') }}
),

calendar_end as (
    select max(date) as last_day from {{ ref('int_calendar__days') }}
),

incidents as (
    select
        s.slo_name,
        i.created_at as started_at,
        coalesce(i.resolved_at,
                 cast((select last_day from calendar_end) as timestamp) + {{ days_interval(1) }}) as ended_at
    from slos as s
    inner join {{ ref('fct_incidents') }} as i on i.team = s.team
    left join {{ ref('stg_pagerduty__incidents') }} as p on i.incident_id = 'pagerduty:' || p.incident_id
    where not exists (select 1 from services as v where v.slo_name = s.slo_name)
       or exists (select 1 from services as v where v.slo_name = s.slo_name and v.service_id = p.service_id)
),

ordered as (
    select
        slo_name,
        started_at,
        ended_at,
        max(ended_at) over (partition by slo_name order by started_at, ended_at
                            rows between unbounded preceding and 1 preceding) as previous_end
    from incidents
    where ended_at > started_at
),

islands as (
    select
        *,
        sum(case when previous_end is null or started_at > previous_end then 1 else 0 end)
            over (partition by slo_name order by started_at, ended_at rows unbounded preceding) as downtime_number
    from ordered
),

final as (
    select slo_name, downtime_number, min(started_at) as started_at, max(ended_at) as ended_at
    from islands
    group by slo_name, downtime_number
)

select * from final
