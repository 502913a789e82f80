-- Per SLO and ingested UTC day, the day's good, bad and total events (docs/metrics.md "SLOs and error budgets"):
-- ratio SLOs from Prometheus (NULLs on a day without data); incident SLOs in minutes - total 1,440, bad the
-- minutes of the day covered by the union of the SLO's incident intervals, over every ingested day.
with slos as (
    select * from {{ ref('int_config__slos') }}
),

ratio as (
    select s.slo_name, e.date, e.good, e.bad, e.total
    from slos as s
    inner join {{ ref('stg_slo__events') }} as e on s.slo_name = e.slo_name
    where s.kind = 'ratio'
),

incident_days as (
    select s.slo_name, c.date, cast(c.date as timestamp) as day_start,
           cast(c.date as timestamp) + {{ days_interval(1) }} as day_end
    from slos as s
    cross join {{ ref('int_calendar__days') }} as c
    where s.kind = 'incidents'
),

incident_minutes as (
    select
        d.slo_name,
        d.date,
        coalesce(sum(
            case when w.started_at < d.day_end and w.ended_at > d.day_start
                 then {{ hours_between(
                        'case when w.started_at > d.day_start then w.started_at else d.day_start end',
                        'case when w.ended_at < d.day_end then w.ended_at else d.day_end end') }} * 60.0
            end), 0) as bad
    from incident_days as d
    left join {{ ref('int_slos__downtime') }} as w on d.slo_name = w.slo_name
    group by d.slo_name, d.date
),

incidents as (
    select slo_name, date, cast(1440.0 - bad as double precision) as good, cast(bad as double precision) as bad,
           cast(1440.0 as double precision) as total
    from incident_minutes
),

final as (
    select * from ratio
    union all
    select * from incidents
)

select * from final
