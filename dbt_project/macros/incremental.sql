{#- Incremental builds (docs/incremental.md). Dagster hands dbt `emd_changed_since` (orchestration/defs/dbt/
    project.py: build_plan): the newest raw fetch time the previous complete build had seen. A model keyed on an
    entity recomputes, from ALL raw rows of the entity, every entity that has a raw row fetched since then or
    whose newest row came from a partition rewritten since then (a re-run partition), so newest-state dedup and
    a moved Jira issue give the same rows as a full build. Without the variable every key is recomputed. -#}

{# The watermark as a SQL timestamp, or none (recompute every key). #}
{% macro changed_since() -%}
  {%- set since = var('emd_changed_since', none) -%}
  {%- if since is none or since == '' -%}{{ return(none) }}{%- endif -%}
  {{ return("cast(" ~ sql_text(since) ~ " as timestamp)") }}
{%- endmacro %}

{# The relation of an already built model of this project (none when it does not exist yet). Read by the
   `__changed` key models before the model itself is rebuilt, so it is not a ref (that would be a cycle). #}
{% macro built_relation(model_name) -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {{ return(adapter.get_relation(database=this.database, schema=this.schema, identifier=model_name)) }}
{%- endmacro %}

{# Partitions of raw table `table_name` written since the watermark (a re-run partition among them). #}
{% macro rewritten_partitions(table_name) -%}
    select partition_date from {{ source('ingestion', 'raw_ingested_partitions') }}
    where table_name = {{ sql_text(table_name) }} and fetched_at >= {{ changed_since() }}
{%- endmacro %}

{# `where exists` a row of `keys_relation` with the same key: `pairs` is [[column here, column there], ...]. #}
{% macro key_in(alias, keys_relation, pairs) -%}
    exists (select 1 from {{ keys_relation }} as changed_keys
            where {% for here, there in pairs %}changed_keys.{{ there }} = {{ alias }}.{{ here }}{% if not loop.last %} and {% endif %}{% endfor %})
{%- endmacro %}

{# pre_hook of an incremental model: delete the rows of every key this build recomputes, so a key whose
   rows are all gone (its newest fetch now has none) is gone, as in a full build. delete+insert then only
   inserts. Nothing on a first or full build. #}
{% macro delete_changed_keys(keys_model, pairs) -%}
  {%- if is_incremental() -%}
    delete from {{ this }}
    where {{ key_in(adapter.quote(this.identifier), ref(keys_model), pairs) }}
  {%- else -%}
    select 1
  {%- endif -%}
{%- endmacro %}
