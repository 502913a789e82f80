-- Adherence per team, rule and ISO week (Monday 00:00 UTC, half-open) over the whole ingested history, whether
-- or not the rule was agreed then (proposed rules too), so a team sees how often a rule would have held.
-- adherence = items the rule applied to in the week that had no breach overlapping the week / items the rule
-- applied to in the week; wip_max_issues: evaluations within the limit / evaluations (docs/metrics.md).
with agreements as (
    select team, rule, threshold, is_proposed from {{ ref('int_config__working_agreements') }}
),

weeks as (
    select distinct cast({{ dbt.date_trunc('week', 'date') }} as date) as week_start
    from {{ ref('int_calendar__days') }}
),

windows as (
    select week_start, cast(week_start as timestamp) as window_from,
           cast(week_start as timestamp) + {{ days_interval(7) }} as window_to
    from weeks
),

working_teams as (
    select distinct team from {{ ref('int_config__working_hours') }}
),

subjects as (
    select * from {{ ref('fct_agreement_subjects') }}
),

breaches as (
    select team, rule, subject_type, subject_key, opened_at, closed_at from {{ ref('fct_agreement_breaches') }}
),

-- An item applies in a week when its span [applies_from, applies_to] meets the week.
applied as (
    select s.team, s.rule, w.week_start, w.window_from, w.window_to, s.subject_type, s.subject_key,
           s.applies_from, s.is_breached_evaluation
    from subjects as s
    inner join windows as w
        on s.applies_from < w.window_to and coalesce(s.applies_to, cast('9999-12-31' as timestamp)) >= w.window_from
),

judged as (
    select
        a.team, a.rule, a.week_start, a.subject_type, a.subject_key,
        case when a.rule = 'wip_max_issues' then a.is_breached_evaluation
             else count(b.opened_at) > 0 end as is_breached
    from applied as a
    left join breaches as b
        on a.rule <> 'wip_max_issues'
       and a.team = b.team and a.rule = b.rule and a.subject_type = b.subject_type and a.subject_key = b.subject_key
       and b.opened_at < a.window_to and coalesce(b.closed_at, cast('9999-12-31' as timestamp)) > a.window_from
    -- applies_from tells the hourly WIP evaluations (one subject, many rows) apart
    group by a.team, a.rule, a.week_start, a.subject_type, a.subject_key, a.applies_from, a.is_breached_evaluation
),

counts as (
    select team, rule, week_start,
           count(*) as applied_items,
           sum(case when is_breached then 1 else 0 end) as breached_items
    from judged
    group by team, rule, week_start
),

final as (
    select
        a.team,
        a.rule,
        w.week_start,
        a.threshold,
        a.is_proposed,
        cast(coalesce(c.applied_items, 0) as bigint) as applied_items,
        cast(coalesce(c.breached_items, 0) as bigint) as breached_items,
        cast(coalesce(c.applied_items, 0) - coalesce(c.breached_items, 0) as bigint) as held_items,
        case when coalesce(c.applied_items, 0) > 0
             then cast(c.applied_items - c.breached_items as double precision) / c.applied_items end as adherence_rate,
        case when coalesce(c.applied_items, 0) > 0
             then cast(100.0 * (c.applied_items - c.breached_items) as double precision) / c.applied_items end as adherence_pct,
        a.rule = 'first_review_within_hours' and wt.team is not null as counts_working_hours
    from agreements as a
    left join working_teams as wt on a.team = wt.team
    cross join weeks as w
    left join counts as c on a.team = c.team and a.rule = c.rule and w.week_start = c.week_start
)

select * from final
