-- Every configured repository with its team and deployment source (from the project config via --vars).
{{ rows_from_var('repos', [
    ('repo', dbt.type_string()), ('team', dbt.type_string()), ('deployment_source', dbt.type_string()),
    ('deployment_environment', dbt.type_string()), ('include_prereleases', 'boolean')]) }}
