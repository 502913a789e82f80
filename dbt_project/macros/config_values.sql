{#- The project config reaches dbt as --vars (orchestration/defs/dbt/project.py: dbt_vars). These macros turn
    those values into SQL: literals are escaped here, never formatted by hand in a model. -#}

{% macro sql_text(value) -%}
  {%- if value is none -%}cast(null as {{ dbt.type_string() }})
  {%- else -%}'{{ (value | string) | replace("'", "''") }}'{%- endif -%}
{%- endmacro %}

{% macro sql_text_list(values) -%}
  {%- if values | length == 0 -%}(select cast(null as {{ dbt.type_string() }}) where 1 = 0)
  {%- else -%}({% for v in values %}{{ sql_text(v) }}{% if not loop.last %}, {% endif %}{% endfor %}){%- endif -%}
{%- endmacro %}

{# A relation from a list of mappings: columns = [(name, sql type)]. Empty list -> empty relation. #}
{% macro rows_from_var(var_name, columns) -%}
  {%- set rows = var(var_name) -%}
  {%- if rows | length == 0 -%}
    select {% for name, type in columns %}cast(null as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %}
    where 1 = 0
  {%- else -%}
    {%- for row in rows %}
    select {% for name, type in columns -%}
      {%- set value = row.get(name) -%}
      {%- if value is none -%}cast(null as {{ type }})
      {%- elif value is sameas true or value is sameas false -%}{{ 'true' if value else 'false' }}
      {%- elif value is number -%}cast({{ value }} as {{ type }})
      {%- else -%}cast({{ sql_text(value) }} as {{ type }}){%- endif %} as {{ name }}{% if not loop.last %}, {% endif %}
    {%- endfor %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
  {%- endif -%}
{%- endmacro %}

{# A login is a bot when GitHub says so (__typename Bot), it ends in [bot], or config `bots:` lists it. #}
{% macro is_bot(login, actor_type) -%}
  (coalesce({{ actor_type }}, '') = 'Bot'
   or lower(coalesce({{ login }}, '')) like '%[bot]'
   {%- if var('bots') | length > 0 %}
   or lower(coalesce({{ login }}, '')) in {{ sql_text_list(var('bots') | map('lower') | list) }}
   {%- endif %})
{%- endmacro %}

{# Newest state per entity: latest fetched_at, then latest partition_date. #}
{% macro newest_per(relation, key_columns) -%}
  select *
  from (
    select r.*,
           row_number() over (
             partition by {{ key_columns | join(', ') }}
             order by fetched_at desc, partition_date desc
           ) as newest_rank
    from {{ relation }} as r
  ) ranked
  where newest_rank = 1
{%- endmacro %}

{# The rows of `relation` once per scope level: per repo (team = the repo's team), per team
   (repo '*') and for the whole org (team '*', repo '*'). The relation has repo, team, repo_team. #}
{% macro scoped_union(relation, columns) -%}
    select 'repo' as scope_level, repo_team as team, repo, {{ columns }} from {{ relation }}
    union all
    select 'team', team, '*', {{ columns }} from {{ relation }}
    union all
    select 'org', '*', '*', {{ columns }} from {{ relation }}
{%- endmacro %}
