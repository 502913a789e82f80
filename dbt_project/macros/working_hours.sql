{#- Working-hours arithmetic for the working agreements (docs/metrics.md "Working agreements").
    A team's working time is a set of UTC intervals (int_agreements__working_intervals), each carrying the
    working seconds before it; "H working hours after t" is then a lookup, the same SQL on DuckDB and Postgres. -#}

{# A local wall-clock timestamp in IANA zone `zone` as a naive UTC timestamp (how every timestamp is stored).
   A local time that does not exist (the hour skipped when clocks go forward) maps like the engine maps it. #}
{% macro local_to_utc(local_timestamp, zone) -%}
  {{ return(adapter.dispatch('local_to_utc', 'engineering_metrics')(local_timestamp, zone)) }}
{%- endmacro %}
{% macro default__local_to_utc(local_timestamp, zone) -%}
  (({{ local_timestamp }}) at time zone ({{ zone }}) at time zone 'UTC')
{%- endmacro %}
{% macro duckdb__local_to_utc(local_timestamp, zone) -%}
  timezone('UTC', timezone({{ zone }}, {{ local_timestamp }}))
{%- endmacro %}

{# `hours` (a number, may be fractional) as an interval. #}
{% macro hours_interval(hours) -%}
  (({{ hours }}) * interval '1 hour')
{%- endmacro %}

{# The moment `hours` working hours after `start_at` for each row of `starts` (columns team, start_at, hours),
   from `intervals` (team, work_from, work_to, worked_before_seconds, length_seconds).
   Working seconds credited at start_at = the seconds worked before the interval it is in (or the last one
   before it) plus the part of that interval already gone; the deadline is in the interval where
   credit + hours x 3600 is reached. NULL when the intervals end first. Columns: team, start_at, hours,
   deadline_at. #}
{% macro working_hours_deadlines(starts, intervals) -%}
    select
        credited.team,
        credited.start_at,
        credited.hours,
        i.work_from + ((credited.target_seconds - i.worked_before_seconds) * interval '1 second') as deadline_at
    from (
        select
            s.team,
            s.start_at,
            s.hours,
            coalesce(max(i.worked_before_seconds
                         + least(i.length_seconds, {{ hours_between('i.work_from', 's.start_at') }} * 3600.0)), 0)
                + s.hours * 3600.0 as target_seconds
        from {{ starts }} as s
        left join {{ intervals }} as i
            on s.team = i.team
           and i.work_from <= s.start_at
           -- every working week has an interval within 7 days before; this bounds the range join
           and i.work_from > s.start_at - {{ days_interval(8) }}
        group by s.team, s.start_at, s.hours
    ) as credited
    inner join {{ intervals }} as i
        on credited.team = i.team
       and i.worked_before_seconds < credited.target_seconds
       and credited.target_seconds <= i.worked_before_seconds + i.length_seconds
{%- endmacro %}
