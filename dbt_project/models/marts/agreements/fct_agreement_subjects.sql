-- What each working-agreement rule applied to (the denominator of adherence, docs/metrics.md): one row per rule
-- and item, with the span during which the rule applied to it; for wip_max_issues one row per hourly
-- evaluation. Breaches of the item are in fct_agreement_breaches (same team, rule, subject_type, subject_key).
with agreements as (
    select team, rule, threshold, is_proposed from {{ ref('int_config__working_agreements') }}
),

breached_subjects as (
    select distinct team, rule, subject_key from {{ ref('fct_agreement_breaches') }}
),

pull_requests as (
    select
        repo || '#' || cast(number as {{ dbt.type_string() }}) as subject_key,
        team, is_draft, created_at, ready_at, first_review_at,
        case when state <> 'OPEN' then coalesce(merged_at, closed_at) end as ended_at
    from {{ ref('fct_pull_requests') }}
    where not is_bot_author
),

-- A PR that has only ever been a draft was never waiting for a review.
pr_subjects as (
    select
        pr.team, a.rule, a.threshold, a.is_proposed, 'pr' as subject_type, pr.subject_key,
        case when a.rule = 'first_review_within_hours' then pr.ready_at else pr.created_at end as applies_from,
        case when a.rule = 'first_review_within_hours' then coalesce(pr.first_review_at, pr.ended_at)
             else pr.ended_at end as applies_to,
        cast(null as integer) as wip_issues,
        cast(null as boolean) as is_breached_evaluation
    from pull_requests as pr
    inner join agreements as a
        on pr.team = a.team and a.rule in ('first_review_within_hours', 'pr_open_max_days', 'pr_size_max_lines')
    left join breached_subjects as b on pr.team = b.team and a.rule = b.rule and pr.subject_key = b.subject_key
    where a.rule <> 'first_review_within_hours' or not pr.is_draft or pr.first_review_at is not null
       or b.subject_key is not null
),

issues as (
    select issue_id, issue_key, team from {{ ref('fct_jira_issues') }}
    {% if not var('include_subtasks') %}where not is_subtask{% endif %}
),

-- blocked_max_days applies to an issue from its first block to the end of its last one.
issue_subjects as (
    select
        i.team, a.rule, a.threshold, a.is_proposed, 'issue' as subject_type, i.issue_key as subject_key,
        min(b.blocked_from) as applies_from,
        case when count(b.blocked_to) = count(*) then max(b.blocked_to) end as applies_to,
        cast(null as integer) as wip_issues,
        cast(null as boolean) as is_breached_evaluation
    from {{ ref('int_jira__blocked_spans') }} as b
    inner join issues as i on b.issue_id = i.issue_id
    inner join agreements as a on i.team = a.team and a.rule = 'blocked_max_days'
    group by i.team, a.rule, a.threshold, a.is_proposed, i.issue_id, i.issue_key
),

sprint_subjects as (
    select
        s.team, a.rule, a.threshold, a.is_proposed, 'sprint' as subject_type,
        cast(s.sprint_id as {{ dbt.type_string() }}) as subject_key,
        s.start_at as applies_from, s.completed_at as applies_to,
        cast(null as integer) as wip_issues,
        cast(null as boolean) as is_breached_evaluation
    from {{ ref('mv_planning_by_sprint') }} as s
    inner join agreements as a on s.team = a.team and a.rule = 'sprint_scope_change_max_pct'
    where s.start_at is not null and s.committed_points > 0
),

wip_subjects as (
    select
        w.team, a.rule, a.threshold, a.is_proposed, 'team' as subject_type, w.team as subject_key,
        w.evaluated_at as applies_from, w.evaluated_at as applies_to,
        w.wip_issues,
        w.wip_issues > a.threshold as is_breached_evaluation
    from {{ ref('int_agreements__wip_hourly') }} as w
    inner join agreements as a on w.team = a.team and a.rule = 'wip_max_issues'
),

final as (
    select * from pr_subjects
    union all
    select * from issue_subjects
    union all
    select * from sprint_subjects
    union all
    select * from wip_subjects
)

select * from final
