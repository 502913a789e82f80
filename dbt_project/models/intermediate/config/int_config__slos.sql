-- Every usable SLO of the config (emd/slos.py: OpenSLO documents of slos.files, and slos.incidents).
{{ rows_from_var('slos', [('slo_name', dbt.type_string()), ('service', dbt.type_string()), ('team', dbt.type_string()),
                          ('kind', dbt.type_string()), ('target', 'double precision'), ('window_days', 'integer')]) }}
