-- Per deployment and Prometheus SLO of its team: the bad and total events of the 24 hours after deployed_at
-- (the newest fetch).
with newest as (
    {{ newest_per(source('slo', 'raw_slo_deployment_events'), ['deployment_id', 'slo_name']) }}
),

final as (
    select
        deployment_id,
        slo_name,
        deployed_at,
        window_end,
        cast(bad as double precision) as bad,
        cast(total as double precision) as total,
        fetched_at
    from newest
)

select * from final
