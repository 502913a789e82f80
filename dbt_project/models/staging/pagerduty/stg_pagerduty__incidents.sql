-- Newest state of each PagerDuty incident (status and resolved_at change after creation).
with newest as (
    {{ newest_per(source('pagerduty', 'raw_pagerduty_incidents'), ['incident_id']) }}
),

final as (
    select
        incident_id,
        cast(incident_number as bigint) as incident_number,
        title,
        lower(status) as status,
        lower(urgency) as urgency,
        service_id,
        service_name,
        created_at,
        updated_at,
        resolved_at
    from newest
)

select * from final
