-- Per Prometheus SLO and ingested UTC day: the day's events (NULL without data), newest fetch of each day.
with newest as (
    {{ newest_per(source('slo', 'raw_slo_events'), ['slo_name', 'partition_date']) }}
),

final as (
    select
        slo_name,
        partition_date as date,
        cast(good as double precision) as good,
        cast(bad as double precision) as bad,
        cast(total as double precision) as total,
        evaluated_at,
        fetched_at
    from newest
)

select * from final
