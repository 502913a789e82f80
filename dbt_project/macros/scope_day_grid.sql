{# The per-day metric marts' grid: every scope (int_metrics__scopes rows, or a subset CTE `scopes`) on every
   day of the ingested calendar (`days`), with each fact CTE left-joined on (scope_level, team, repo, date).
   `facts` is a list of [cte, alias] pairs; the caller selects the columns (coalescing counts to 0). #}
{% macro scope_day_grid(scopes, days, facts) -%}
    from {{ scopes }} as s
    cross join {{ days }} as days
    {%- for cte, alias in facts %}
    left join {{ cte }} as {{ alias }}
        on s.scope_level = {{ alias }}.scope_level and s.team = {{ alias }}.team and s.repo = {{ alias }}.repo
        and days.date = {{ alias }}.date
    {%- endfor %}
{%- endmacro %}
