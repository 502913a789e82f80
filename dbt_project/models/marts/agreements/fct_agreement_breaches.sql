-- One row per breach of a working agreement (docs/metrics.md "Working agreements"; how each rule is evaluated
-- is in this model's YAML and DECISIONS.md). Rules are evaluated by replaying the facts: a breach opens at the
-- moment its condition starts to hold and closes at the moment it stops holding (NULL while it still holds at
-- the facts' as-of time), so a re-run over the same facts gives the same rows.
with agreements as (
    select team, rule, threshold, is_proposed from {{ ref('int_config__working_agreements') }}
),

as_of as (
    select max(as_of) as as_of from {{ ref('int_agreements__as_of') }}
),

working_teams as (
    select distinct team from {{ ref('int_config__working_hours') }}
),

intervals as (
    select * from {{ ref('int_agreements__working_intervals') }}
),

-- Bot-authored PRs (dependency bumps) are not held to the team's agreements.
pull_requests as (
    select pr_id, repo, number, team, author, title, state, is_draft, created_at, first_review_at, merged_at, closed_at,
           additions + deletions as pr_size
    from {{ ref('fct_pull_requests') }}
    where not is_bot_author
),

observations as (
    select * from {{ ref('int_agreements__pr_observations') }}
),

events as (
    select e.repo, e.pr_number as number, e.event_type, e.created_at
    from {{ ref('stg_github__timeline_events') }} as e
    where e.event_type in ('ReadyForReviewEvent', 'ConvertToDraftEvent', 'ReopenedEvent', 'ClosedEvent', 'MergedEvent')
),

-- ---------------------------------------------------------------- pull requests: state over time
-- A PR was a draft at creation if its first draft event is ReadyForReview; with no draft events, it has been
-- what it is now.
first_draft_events as (
    select repo, number, event_type,
           row_number() over (partition by repo, number order by created_at, event_type) as event_rank
    from events
    where event_type in ('ReadyForReviewEvent', 'ConvertToDraftEvent')
),

first_observations as (
    select repo, number, pr_size, url,
           row_number() over (partition by repo, number order by observed_at) as observation_rank
    from observations
),

newest_urls as (
    select repo, number, url,
           row_number() over (partition by repo, number order by observed_at desc) as observation_rank
    from observations
),

initial_states as (
    select
        pr.repo,
        pr.number,
        pr.created_at,
        case
            when fde.event_type = 'ReadyForReviewEvent' then 1
            when fde.event_type = 'ConvertToDraftEvent' then 0
            when pr.is_draft then 1
            else 0
        end as initial_draft,
        coalesce(fo.pr_size, pr.pr_size) as initial_size
    from pull_requests as pr
    left join first_draft_events as fde on pr.repo = fde.repo and pr.number = fde.number and fde.event_rank = 1
    left join first_observations as fo on pr.repo = fo.repo and pr.number = fo.number and fo.observation_rank = 1
),

-- Every change of a PR's state; NULL = this change leaves that part of the state as it was.
-- priority orders changes at the same instant: creation, timeline events, the PR's own close, review, size.
state_changes as (
    select repo, number, created_at as changed_at, 0 as priority, '' as tiebreak,
           1 as open_value, initial_draft as draft_value, created_at as ready_value,
           0 as reviewed_value, initial_size as size_value
    from initial_states
    union all
    select e.repo, e.number, e.created_at, 1, e.event_type,
           case when e.event_type = 'ReopenedEvent' then 1
                when e.event_type in ('ClosedEvent', 'MergedEvent') then 0 end,
           case when e.event_type = 'ConvertToDraftEvent' then 1
                when e.event_type = 'ReadyForReviewEvent' then 0 end,
           case when e.event_type = 'ReadyForReviewEvent' then e.created_at end,
           cast(null as integer), cast(null as integer)
    from events as e
    inner join pull_requests as pr on e.repo = pr.repo and e.number = pr.number
    where e.created_at >= pr.created_at
    union all
    -- the final merge or close from the PR itself, in case its timeline lacks the event
    select repo, number, coalesce(merged_at, closed_at), 2, '', 0, null, null, null, null
    from pull_requests
    where state <> 'OPEN' and coalesce(merged_at, closed_at) is not null
    union all
    select repo, number, first_review_at, 3, '', null, null, null, 1, null
    from pull_requests
    where first_review_at is not null
    union all
    select o.repo, o.number, o.observed_at, 4, '', null, null, null, null, o.pr_size
    from observations as o
    inner join pull_requests as pr on o.repo = pr.repo and o.number = pr.number
    where o.observed_at > pr.created_at
),

-- Forward fill: each part's value is the one set by the latest change that set it (count() numbers the
-- runs of rows sharing one setting change; portable where IGNORE NULLS is not).
runs as (
    select
        c.*,
        {% for part in ['open', 'draft', 'ready', 'reviewed', 'size'] %}
        count({{ part }}_value) over (partition by repo, number order by changed_at, priority, tiebreak
                                      rows between unbounded preceding and current row) as {{ part }}_run,
        {% endfor %}
        row_number() over (partition by repo, number, changed_at order by priority desc, tiebreak desc) as last_at_instant
    from state_changes as c
),

filled as (
    select
        repo, number, changed_at, last_at_instant,
        max(open_value) over (partition by repo, number, open_run) as is_open,
        max(draft_value) over (partition by repo, number, draft_run) as is_draft,
        max(ready_value) over (partition by repo, number, ready_run) as clock_start_at,
        max(reviewed_value) over (partition by repo, number, reviewed_run) as is_reviewed,
        max(size_value) over (partition by repo, number, size_run) as pr_size
    from runs
),

-- Piecewise-constant state: [valid_from, valid_to), valid_to NULL = still so.
pr_segments as (
    select
        f.repo,
        f.number,
        pr.team,
        pr.created_at,
        f.changed_at as valid_from,
        lead(f.changed_at) over (partition by f.repo, f.number order by f.changed_at) as valid_to,
        f.is_open,
        f.is_draft,
        f.clock_start_at,
        f.is_reviewed,
        f.pr_size
    from filled as f
    inner join pull_requests as pr on f.repo = pr.repo and f.number = pr.number
    where f.last_at_instant = 1
),

-- ---------------------------------------------------------------- pull requests: the three rules
-- first_review_within_hours: open, not a draft, not reviewed yet, and more than H (working) hours since the
-- review clock started (ready_at: the latest ready-for-review, else creation).
waiting_segments as (
    select s.*, a.rule, a.threshold, a.is_proposed
    from pr_segments as s
    inner join agreements as a on s.team = a.team and a.rule = 'first_review_within_hours'
    where s.is_open = 1 and s.is_draft = 0 and s.is_reviewed = 0
),

clock_starts as (
    select distinct w.team, w.clock_start_at as start_at, w.threshold as hours
    from waiting_segments as w
    inner join working_teams as wt on w.team = wt.team
),

working_deadlines as (
    {{ working_hours_deadlines('clock_starts', 'intervals') }}
),

waiting_pieces as (
    select
        w.team, w.rule, w.threshold, w.is_proposed, w.repo, w.number,
        w.valid_from, w.valid_to,
        case when wt.team is not null then d.deadline_at
             else w.clock_start_at + {{ hours_interval('w.threshold') }} end as onset_at
    from waiting_segments as w
    left join working_teams as wt on w.team = wt.team
    left join working_deadlines as d
        on w.team = d.team and w.clock_start_at = d.start_at and w.threshold = d.hours
),

-- pr_open_max_days: open more than D days (calendar days) after creation.
open_pieces as (
    select s.team, a.rule, a.threshold, a.is_proposed, s.repo, s.number, s.valid_from, s.valid_to,
           s.created_at + a.threshold * interval '1 day' as onset_at
    from pr_segments as s
    inner join agreements as a on s.team = a.team and a.rule = 'pr_open_max_days'
    where s.is_open = 1
),

-- pr_size_max_lines: open with additions + deletions above L.
size_pieces as (
    select s.team, a.rule, a.threshold, a.is_proposed, s.repo, s.number, s.valid_from, s.valid_to,
           s.valid_from as onset_at
    from pr_segments as s
    inner join agreements as a on s.team = a.team and a.rule = 'pr_size_max_lines'
    where s.is_open = 1 and s.pr_size > a.threshold
),

pr_pieces as (
    select team, rule, threshold, is_proposed, repo, number,
           greatest(valid_from, onset_at) as piece_from, valid_to as piece_to
    from (
        select * from waiting_pieces
        union all
        select * from open_pieces
        union all
        select * from size_pieces
    ) as pieces
    where onset_at is not null
      and (valid_to is null or greatest(valid_from, onset_at) < valid_to)
      and greatest(valid_from, onset_at) <= (select as_of from as_of)
),

-- Pieces that touch (one ends where the next begins) are one breach.
pr_piece_runs as (
    select p.*,
           case when lag(piece_to) over (partition by team, rule, repo, number order by piece_from) = piece_from
                then 0 else 1 end as starts_breach
    from pr_pieces as p
),

pr_breach_numbers as (
    select p.*,
           sum(starts_breach) over (partition by team, rule, repo, number order by piece_from
                                    rows between unbounded preceding and current row) as breach_seq
    from pr_piece_runs as p
),

pr_breaches as (
    select
        b.team, b.rule, 'pr' as subject_type,
        b.repo || '#' || cast(b.number as {{ dbt.type_string() }}) as subject_key,
        b.threshold, b.is_proposed,
        min(b.piece_from) as opened_at,
        case when count(b.piece_to) = count(*) then max(b.piece_to) end as closed_at,
        max(pr.title) as subject_title,
        max(u.url) as subject_url,
        max(pr.author) as author
    from pr_breach_numbers as b
    inner join pull_requests as pr on b.repo = pr.repo and b.number = pr.number
    left join newest_urls as u on b.repo = u.repo and b.number = u.number and u.observation_rank = 1
    group by b.team, b.rule, b.repo, b.number, b.threshold, b.is_proposed, b.breach_seq
),

-- ---------------------------------------------------------------- Jira issues: blocked_max_days
issues as (
    select issue_id, issue_key, team, summary from {{ ref('fct_jira_issues') }}
    {% if not var('include_subtasks') %}where not is_subtask{% endif %}
),

blocked_breaches as (
    select
        i.team, a.rule, 'issue' as subject_type, i.issue_key as subject_key, a.threshold, a.is_proposed,
        b.blocked_from + a.threshold * interval '1 day' as opened_at,
        b.blocked_to as closed_at,
        i.summary as subject_title,
        cast(null as {{ dbt.type_string() }}) as subject_url,
        cast(null as {{ dbt.type_string() }}) as author
    from {{ ref('int_jira__blocked_spans') }} as b
    inner join issues as i on b.issue_id = i.issue_id  -- an issue is its id; subject_key is its current key
    inner join agreements as a on i.team = a.team and a.rule = 'blocked_max_days'
    where (b.blocked_to is null or b.blocked_from + a.threshold * interval '1 day' < b.blocked_to)
      and b.blocked_from + a.threshold * interval '1 day' <= (select as_of from as_of)
),

-- ---------------------------------------------------------------- team: wip_max_issues (hourly evaluations)
wip_evaluations as (
    select
        w.team, a.rule, a.threshold, a.is_proposed, w.evaluated_at,
        w.wip_issues > a.threshold as is_breached,
        lead(w.evaluated_at) over (partition by w.team order by w.evaluated_at) as next_evaluated_at,
        row_number() over (partition by w.team order by w.evaluated_at) as evaluation_seq
    from {{ ref('int_agreements__wip_hourly') }} as w
    inner join agreements as a on w.team = a.team and a.rule = 'wip_max_issues'
),

wip_runs as (
    select e.*,
           evaluation_seq - row_number() over (partition by team order by evaluated_at) as run_id
    from wip_evaluations as e
    where is_breached
),

-- Opens at the first evaluation above the limit; closes at the next evaluation back within it.
wip_breaches as (
    select
        team, rule, 'team' as subject_type, team as subject_key, threshold, is_proposed,
        min(evaluated_at) as opened_at,
        case when count(next_evaluated_at) = count(*) then max(next_evaluated_at) end as closed_at,
        cast(null as {{ dbt.type_string() }}) as subject_title,
        cast(null as {{ dbt.type_string() }}) as subject_url,
        cast(null as {{ dbt.type_string() }}) as author
    from wip_runs
    group by team, rule, threshold, is_proposed, run_id
),

-- ---------------------------------------------------------------- sprints: sprint_scope_change_max_pct
sprints as (
    select sprint_id, sprint_name, team, start_at, completed_at, committed_points
    from {{ ref('mv_planning_by_sprint') }}
    where start_at is not null and committed_points > 0
),

-- Scope change so far = (added + removed points up to t) / committed points x 100; it only grows.
scope_so_far as (
    select
        s.sprint_id, s.sprint_name, s.team, s.completed_at, a.rule, a.threshold, a.is_proposed, e.measured_at,
        sum(coalesce(e.story_points, 0)) over (partition by s.sprint_id order by e.measured_at, e.issue_id
                                               rows between unbounded preceding and current row)
            * 100.0 / s.committed_points as scope_change_pct
    from sprints as s
    inner join agreements as a on s.team = a.team and a.rule = 'sprint_scope_change_max_pct'
    inner join {{ ref('int_jira__sprint_scope_events') }} as e
        on s.sprint_id = e.sprint_id and e.role in ('added', 'removed')
),

sprint_breaches as (
    select
        team, rule, 'sprint' as subject_type, cast(sprint_id as {{ dbt.type_string() }}) as subject_key,
        threshold, is_proposed,
        min(measured_at) as opened_at,
        max(completed_at) as closed_at,
        max(sprint_name) as subject_title,
        cast(null as {{ dbt.type_string() }}) as subject_url,
        cast(null as {{ dbt.type_string() }}) as author
    from scope_so_far
    where scope_change_pct > threshold and measured_at <= (select as_of from as_of)
    group by team, rule, sprint_id, threshold, is_proposed
),

all_breaches as (
    select * from pr_breaches
    union all
    select * from blocked_breaches
    union all
    select * from wip_breaches
    union all
    select * from sprint_breaches
),

final as (
    select
        team,
        rule,
        subject_type,
        subject_key,
        threshold,
        opened_at,
        closed_at,
        -- more columns
        md5(team || '|' || rule || '|' || subject_type || '|' || subject_key || '|'
            || cast(opened_at as {{ dbt.type_string() }})) as breach_id,
        is_proposed,
        closed_at is null as is_open,
        subject_title,
        subject_url,
        author
    from all_breaches
)

select * from final
