-- The team of each pull request (docs/metrics.md Conventions "Team"): its repo's team (the author's team when
-- the repo has none) -- unless the repo has CODEOWNERS rules: then the team owning most of the PR's changed
-- lines (additions + deletions per file). A file's owner is the last rule whose pattern matches its path (as on
-- GitHub); that rule's first owner that is a configured `github_teams` entry gives the team. Files matched
-- by no rule, or by a rule with no configured team, count for the repo's team; a tie for most lines goes to
-- the repo's team.
with pull_requests as (
    select pr_id, repo, number, author from {{ ref('stg_github__pull_requests') }}
),

default_teams as (
    select pr.pr_id, pr.repo, pr.number, coalesce(repos.repo_team, members.team, 'unassigned') as default_team
    from pull_requests as pr
    left join {{ ref('int_github__repos') }} as repos on pr.repo = repos.repo
    left join {{ ref('int_config__members') }} as members on lower(pr.author) = members.login
),

owner_teams as (
    select
        c.repo,
        c.rule_index,
        c.path_regex,
        gt.team,
        row_number() over (
            partition by c.repo, c.rule_index
            order by case when gt.team is null then 1 else 0 end, c.owner_index
        ) as owner_rank
    from {{ ref('stg_github__codeowners') }} as c
    left join {{ ref('int_config__github_teams') }} as gt on c.owner = gt.github_team
),

rules as (
    select repo, rule_index, path_regex, team from owner_teams where owner_rank = 1
),

codeowners_repos as (
    select distinct repo from rules
),

files as (
    select f.*
    from {{ ref('stg_github__pull_request_files') }} as f
    inner join codeowners_repos as c on f.repo = c.repo
),

matches as (
    select
        f.repo,
        f.pr_number,
        f.path,
        r.team,
        row_number() over (partition by f.repo, f.pr_number, f.path order by r.rule_index desc) as match_rank
    from files as f
    inner join rules as r on f.repo = r.repo and {{ regex_matches('f.path', 'r.path_regex') }}
),

file_teams as (
    select
        f.repo,
        f.pr_number,
        f.changed_lines,
        coalesce(m.team, d.default_team) as team
    from files as f
    inner join default_teams as d on f.repo = d.repo and f.pr_number = d.number
    left join matches as m on f.repo = m.repo and f.pr_number = m.pr_number and f.path = m.path and m.match_rank = 1
),

team_lines as (
    select repo, pr_number, team, sum(changed_lines) as changed_lines
    from file_teams
    group by repo, pr_number, team
),

ranked as (
    select
        t.*,
        max(changed_lines) over (partition by repo, pr_number) as most_lines
    from team_lines as t
),

leaders as (
    select repo, pr_number, min(team) as team, count(*) as leading_teams, max(most_lines) as most_lines
    from ranked
    where changed_lines = most_lines
    group by repo, pr_number
),

final as (
    select
        d.pr_id,
        d.repo,
        d.number,
        case when l.leading_teams = 1 then l.team else d.default_team end as team,
        d.default_team,
        case when l.pr_number is not null then 'codeowners' else 'repo' end as team_source,
        l.most_lines as team_changed_lines
    from default_teams as d
    left join leaders as l on d.repo = l.repo and d.number = l.pr_number
)

select * from final
