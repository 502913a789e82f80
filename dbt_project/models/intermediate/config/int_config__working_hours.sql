-- Working hours per team and ISO weekday (Monday = 1) from `working_agreements.<team>.working_hours`:
-- local minutes after midnight [start_minute, end_minute) in the team's IANA time zone.
{{ rows_from_var('working_hours', [('team', dbt.type_string()), ('timezone', dbt.type_string()),
                                   ('iso_weekday', 'integer'), ('start_minute', 'integer'), ('end_minute', 'integer')]) }}
