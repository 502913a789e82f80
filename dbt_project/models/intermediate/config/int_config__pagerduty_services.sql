-- PagerDuty service id -> team (incidents.pagerduty.services).
{{ rows_from_var('pagerduty_services', [('service_id', dbt.type_string()), ('team', dbt.type_string())]) }}
