-- One row per SLO and ingested UTC day (docs/metrics.md "SLOs and error budgets"): the day's events, the window
-- SLI over the window_days days ending that day (ingested days only: days before the first ingested day are
-- unknown, not good), the error budget remaining, the day's burn rate and the status.
with slos as (
    select * from {{ ref('int_config__slos') }}
),

daily as (
    select * from {{ ref('int_slos__daily_events') }}
),

windowed as (
    select
        d.slo_name,
        d.date,
        sum(w.good) as window_good,
        sum(w.total) as window_total
    from daily as d
    inner join slos as s on d.slo_name = s.slo_name
    inner join daily as w
        on w.slo_name = d.slo_name
        and w.date <= d.date
        and cast(w.date as timestamp) > cast(d.date as timestamp) - s.window_days * interval '1 day'
    group by d.slo_name, d.date
),

measured as (
    select
        s.slo_name,
        s.service,
        s.team,
        s.kind,
        s.target,
        s.window_days,
        d.date,
        d.good,
        d.bad,
        d.total,
        w.window_good,
        w.window_total,
        w.window_total - w.window_good as window_bad,
        case when d.total > 0 then d.good / d.total end as sli,
        case when w.window_total > 0 then w.window_good / w.window_total end as window_sli
    from daily as d
    inner join slos as s on d.slo_name = s.slo_name
    inner join windowed as w on d.slo_name = w.slo_name and d.date = w.date
),

final as (
    select
        *,
        (1.0 - target) * window_total as error_budget_events,
        (1.0 - (1.0 - window_sli) / (1.0 - target)) * 100.0 as error_budget_remaining_pct,
        (1.0 - sli) / (1.0 - target) as burn_rate,
        case
            when window_sli is null then null
            when (1.0 - (1.0 - window_sli) / (1.0 - target)) * 100.0 <= 0 then 'exhausted'
            when (1.0 - (1.0 - window_sli) / (1.0 - target)) * 100.0 < 25
                 or (1.0 - sli) / (1.0 - target) >= 6 then 'at_risk'
            else 'healthy'
        end as status
    from measured
)

select * from final
