{# Rows that share the same values of `columns` (a composite key must be unique). #}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{# Rows where `expression` is false (an invariant that must hold on every row). #}
{% test expression_is_true(model, expression, where_clause='1 = 1') %}
select *
from {{ model }}
where {{ where_clause }} and not ({{ expression }})
{% endtest %}

{# A dense day mart: every key has a row for every day `source` (github, jira) was ingested. #}
{% test dense_over_days(model, key_column, source) %}
with keys as (select distinct {{ key_column }} as k from {{ model }}),
days as (select date from {{ ref('int_calendar__source_days') }} where source = '{{ source }}'),
expected as (select k, date from keys cross join days)
select e.k, e.date
from expected as e
left join {{ model }} as m on m.{{ key_column }} = e.k and m.date = e.date
where m.date is null
{% endtest %}
