-- Incident-based SLO -> the PagerDuty services whose incidents alone count (slos.incidents.<name>.pagerduty_services).
{{ rows_from_var('slo_pagerduty_services', [('slo_name', dbt.type_string()), ('service_id', dbt.type_string())]) }}
