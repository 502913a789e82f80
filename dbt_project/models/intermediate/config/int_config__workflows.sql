-- Deploy workflows of the repos configured with deployments.source workflow (file name or id).
{{ rows_from_var('workflows', [('repo', dbt.type_string()), ('workflow', dbt.type_string())]) }}
