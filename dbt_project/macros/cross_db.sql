{#- Engine-specific SQL lives here, behind adapter.dispatch, so every model builds on DuckDB and Postgres. -#}

{# Continuous (linearly interpolated) percentile, docs/metrics.md "Percentiles". #}
{% macro percentile_cont(expression, fraction) -%}
  {{ return(adapter.dispatch('percentile_cont', 'engineering_metrics')(expression, fraction)) }}
{%- endmacro %}
{% macro default__percentile_cont(expression, fraction) -%}
  percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}
{% macro duckdb__percentile_cont(expression, fraction) -%}
  quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{# Hours from `start` to `finish` (timestamps), as a double; negative when finish is earlier. #}
{% macro hours_between(start, finish) -%}
  {{ return(adapter.dispatch('hours_between', 'engineering_metrics')(start, finish)) }}
{%- endmacro %}
{% macro default__hours_between(start, finish) -%}
  (cast(extract(epoch from ({{ finish }} - {{ start }})) as double precision) / 3600.0)
{%- endmacro %}
{% macro duckdb__hours_between(start, finish) -%}
  (epoch({{ finish }} - {{ start }}) / 3600.0)
{%- endmacro %}

{# One row per element of a comma-separated text list (Jira's Sprint changelog values). #}
{% macro split_to_rows(text_expression) -%}
  {{ return(adapter.dispatch('split_to_rows', 'engineering_metrics')(text_expression)) }}
{%- endmacro %}
{% macro default__split_to_rows(text_expression) -%}
  unnest(string_to_array({{ text_expression }}, ','))
{%- endmacro %}
{% macro duckdb__split_to_rows(text_expression) -%}
  unnest(string_split({{ text_expression }}, ','))
{%- endmacro %}

{# One row per element of a JSON array of strings (GitHub label names). #}
{% macro json_text_array_to_rows(json_expression) -%}
  {{ return(adapter.dispatch('json_text_array_to_rows', 'engineering_metrics')(json_expression)) }}
{%- endmacro %}
{% macro default__json_text_array_to_rows(json_expression) -%}
  jsonb_array_elements_text(cast({{ json_expression }} as jsonb))
{%- endmacro %}
{% macro duckdb__json_text_array_to_rows(json_expression) -%}
  unnest(from_json({{ json_expression }}, '["VARCHAR"]'))
{%- endmacro %}

{# Every UTC day from `first_day` to `last_day` inclusive, as a relation with one column `day`. #}
{% macro day_series(first_day, last_day) -%}
  {{ return(adapter.dispatch('day_series', 'engineering_metrics')(first_day, last_day)) }}
{%- endmacro %}
{% macro default__day_series(first_day, last_day) -%}
  (select cast(d as date) as day
   from generate_series(cast({{ first_day }} as timestamp), cast({{ last_day }} as timestamp), interval '1 day') as g(d))
{%- endmacro %}
{% macro duckdb__day_series(first_day, last_day) -%}
  (select cast(generate_series as date) as day
   from generate_series(cast({{ first_day }} as timestamp), cast({{ last_day }} as timestamp), interval '1 day'))
{%- endmacro %}

{# `n` whole days as an interval (n is a number from vars). #}
{% macro days_interval(n) -%}
  ({{ n | int }} * interval '1 day')
{%- endmacro %}

{% macro seconds_interval(n) -%}
  ({{ n | int }} * interval '1 second')
{%- endmacro %}

{# Whether `text_expression` matches the (anchored) regex `pattern_expression`: DuckDB RE2, Postgres ARE. #}
{% macro regex_matches(text_expression, pattern_expression) -%}
  {{ return(adapter.dispatch('regex_matches', 'engineering_metrics')(text_expression, pattern_expression)) }}
{%- endmacro %}
{% macro default__regex_matches(text_expression, pattern_expression) -%}
  ({{ text_expression }} ~ {{ pattern_expression }})
{%- endmacro %}
{% macro duckdb__regex_matches(text_expression, pattern_expression) -%}
  regexp_matches({{ text_expression }}, {{ pattern_expression }})
{%- endmacro %}

{# `text_expression` when it is a number written as text ('3', '0.5', '-1', '8.0'), else NULL: story
   points from a select or text field ('XL') count as no estimate instead of failing the cast. #}
{% macro number_text_or_null(text_expression) -%}
  {{ return(adapter.dispatch('number_text_or_null', 'engineering_metrics')(text_expression)) }}
{%- endmacro %}
{% macro default__number_text_or_null(text_expression) -%}
  (case when trim({{ text_expression }}) ~ '^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$' then trim({{ text_expression }}) end)
{%- endmacro %}
{% macro duckdb__number_text_or_null(text_expression) -%}
  (case when regexp_full_match(trim({{ text_expression }}), '[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?') then trim({{ text_expression }}) end)
{%- endmacro %}

{# The text at `path` (a list of keys) inside the JSON text `json_expression`, or NULL. #}
{% macro json_text(json_expression, path) -%}
  {{ return(adapter.dispatch('json_text', 'engineering_metrics')(json_expression, path)) }}
{%- endmacro %}
{% macro default__json_text(json_expression, path) -%}
  (cast({{ json_expression }} as json) #>> '{ {{- path | join(',') -}} }')
{%- endmacro %}
{% macro duckdb__json_text(json_expression, path) -%}
  json_extract_string({{ json_expression }}, '$.{{ path | join('.') }}')
{%- endmacro %}
