-- Team members (GitHub logins, lower case) from the project config.
select lower(login) as login, team from (
{{ rows_from_var('members', [('login', dbt.type_string()), ('team', dbt.type_string())]) }}
) as members
