-- GitHub teams (org/team-slug, lower case) -> configured team (teams.<name>.github_teams): CODEOWNERS owners.
{{ rows_from_var('github_teams', [('github_team', dbt.type_string()), ('team', dbt.type_string())]) }}
