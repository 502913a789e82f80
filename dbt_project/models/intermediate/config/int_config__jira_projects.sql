-- Jira project key -> team from the project config.
{{ rows_from_var('jira_projects', [('project_key', dbt.type_string()), ('team', dbt.type_string())]) }}
