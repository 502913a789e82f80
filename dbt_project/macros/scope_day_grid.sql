{# The per-day metric marts' grid: every scope (int_metrics__scopes rows, or a subset CTE `scopes`) on every
   day of the source's ingested calendar (`days`: int_calendar__source_days of that source), with each fact CTE
   left-joined on (scope_level, team, repo, date). Renders the whole select:
   - `facts`: [cte, alias] pairs;
   - `counts`: 'alias.column' counts, 0 on a day without facts;
   - `values`: 'alias.column' measures (percentiles, averages), NULL on a day without facts;
   - `derived`: further SQL expressions with their alias (rates over the facts).
   Columns: scope_level, team, repo, date, then counts, values and derived in the order given. #}
{% macro scope_day_grid(scopes, days, facts, counts, values, derived=[]) -%}
    select
        s.scope_level,
        s.team,
        s.repo,
        days.date
        {%- for column in counts %},
        coalesce({{ column }}, 0) as {{ column.split('.')[-1] }}
        {%- endfor %}
        {%- for column in values %},
        {{ column }}
        {%- endfor %}
        {%- for expression in derived %},
        {{ expression }}
        {%- endfor %}
    from {{ scopes }} as s
    cross join {{ days }} as days
    {%- for cte, alias in facts %}
    left join {{ cte }} as {{ alias }}
        on s.scope_level = {{ alias }}.scope_level and s.team = {{ alias }}.team and s.repo = {{ alias }}.repo
        and days.date = {{ alias }}.date
    {%- endfor %}
{%- endmacro %}
