-- Pull-request flow per scope and day, dense over GitHub's ingested calendar (every day GitHub was ingested, none in a gap). Bot-authored PRs are left out
-- (flow measures people). Cohorts: opened_prs by created_at day; merged-PR metrics (cycle time,
-- time to first review, review depth, merged without review) by merged_at day; reopened_prs and
-- closed_or_merged_prs by the day the PR was closed or merged.
with scopes as (
    select * from {{ ref('int_metrics__scopes') }}
),

days as (
    select date from {{ ref('int_calendar__source_days') }} where source = 'github'
),

prs as (
    select p.*, coalesce(r.repo_team, 'unassigned') as repo_team
    from {{ ref('fct_pull_requests') }} as p
    left join {{ ref('int_github__repos') }} as r on p.repo = r.repo
    where not p.is_bot_author
),

opened as (select cast(created_at as date) as date, repo, team, repo_team from prs),
merged as (
    select cast(merged_at as date) as date, repo, team, repo_team, cycle_time_hours,
           time_to_first_review_hours, review_depth, is_merged_without_review
    from prs where merged_at is not null
),
finished as (
    select cast(coalesce(merged_at, closed_at) as date) as date, repo, team, repo_team, reopened_count
    from prs where merged_at is not null or closed_at is not null
),

scoped_opened as ({{ scoped_union('opened', 'date') }}),
scoped_merged as ({{ scoped_union('merged', 'date, cycle_time_hours, time_to_first_review_hours, review_depth, is_merged_without_review') }}),
scoped_finished as ({{ scoped_union('finished', 'date, reopened_count') }}),

opened_facts as (
    select scope_level, team, repo, date, count(*) as opened_prs
    from scoped_opened group by scope_level, team, repo, date
),

merged_facts as (
    select
        scope_level, team, repo, date,
        count(*) as merged_prs,
        {{ percentile_cont('cycle_time_hours', 0.5) }} as cycle_time_p50_hours,
        {{ percentile_cont('cycle_time_hours', 0.9) }} as cycle_time_p90_hours,
        {{ percentile_cont('time_to_first_review_hours', 0.5) }} as time_to_first_review_p50_hours,
        count(time_to_first_review_hours) as reviewed_prs,
        avg(cast(review_depth as double precision)) as review_depth_avg,
        cast(sum(case when is_merged_without_review then 1 else 0 end) as bigint) as merged_without_review
    from scoped_merged group by scope_level, team, repo, date
),

finished_facts as (
    select
        scope_level, team, repo, date,
        count(*) as closed_or_merged_prs,
        cast(sum(case when reopened_count > 0 then 1 else 0 end) as bigint) as reopened_prs
    from scoped_finished group by scope_level, team, repo, date
),

final as (
    {{ scope_day_grid('scopes', 'days', [['opened_facts', 'o'], ['merged_facts', 'm'], ['finished_facts', 'f']],
        counts=['o.opened_prs', 'm.merged_prs', 'f.reopened_prs', 'm.merged_without_review', 'm.reviewed_prs',
                'f.closed_or_merged_prs'],
        values=['m.cycle_time_p50_hours', 'm.cycle_time_p90_hours', 'm.time_to_first_review_p50_hours',
                'm.review_depth_avg'],
        derived=['cast(f.reopened_prs as double precision) / nullif(f.closed_or_merged_prs, 0) as rework_rate']) }}
)

select * from final
