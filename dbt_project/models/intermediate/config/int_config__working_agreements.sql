-- Working-agreement rules per team from the project config (`working_agreements`): agreed rules, and rules a
-- team only proposes (is_proposed: evaluated over history, never nudged).
{{ rows_from_var('working_agreements', [('team', dbt.type_string()), ('rule', dbt.type_string()),
                                        ('threshold', 'double precision'), ('is_proposed', 'boolean')]) }}
