-- Per deployment and SLO of its team, the bad events in the 24 hours after deployed_at (docs/metrics.md "SLOs and
-- error budgets"). Incident SLOs: the minutes of downtime in [deployed_at, deployed_at + 24 h). Ratio SLOs: the bad
-- events of one Prometheus query over exactly that range (stg_slo__deployment_events; NULL until it was fetched).
-- The budget_burned_pct of a window divides these by that window's error budget (emd/metrics/slos.py), as the
-- window is the reader's.
with slos as (
    select * from {{ ref('int_config__slos') }}
),

deployments as (
    select deployment_id, repo, team, deployed_at,
           deployed_at + {{ days_interval(1) }} as burn_until
    from {{ ref('fct_deployments') }}
),

pairs as (
    select d.deployment_id, d.repo, d.team, d.deployed_at, d.burn_until, s.slo_name, s.kind
    from deployments as d
    inner join slos as s on d.team = s.team
),

incident_burn as (
    select
        p.deployment_id,
        p.slo_name,
        coalesce(sum(
            case when w.started_at < p.burn_until and w.ended_at > p.deployed_at
                 then {{ hours_between(
                        'case when w.started_at > p.deployed_at then w.started_at else p.deployed_at end',
                        'case when w.ended_at < p.burn_until then w.ended_at else p.burn_until end') }} * 60.0
            end), 0) as bad_events
    from pairs as p
    left join {{ ref('int_slos__downtime') }} as w on p.slo_name = w.slo_name
    where p.kind = 'incidents'
    group by p.deployment_id, p.slo_name
),

ratio_burn as (
    select e.deployment_id, e.slo_name, e.bad as bad_events
    from {{ ref('stg_slo__deployment_events') }} as e
),

final as (
    select
        p.deployment_id,
        p.repo,
        p.team,
        p.deployed_at,
        p.slo_name,
        p.kind,
        cast(coalesce(b.bad_events, r.bad_events) as double precision) as bad_events
    from pairs as p
    left join incident_burn as b on p.deployment_id = b.deployment_id and p.slo_name = b.slo_name
    left join ratio_burn as r on p.deployment_id = r.deployment_id and p.slo_name = r.slo_name
)

select * from final
