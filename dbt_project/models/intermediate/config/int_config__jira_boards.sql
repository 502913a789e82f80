-- Jira board id -> team from the project config.
{{ rows_from_var('jira_boards', [('board_id', 'bigint'), ('team', dbt.type_string())]) }}
