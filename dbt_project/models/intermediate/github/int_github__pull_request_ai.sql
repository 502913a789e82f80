-- Whether each pull request is AI-assisted, and by which rule (docs/metrics.md "AI-assisted work"): the first
-- that matches of a commit's Co-authored-by trailer naming a coding agent (config `ai.agents`), a
-- coding-agent author account, a configured label (`ai.labels`), and -- with `ai.copilot` -- the author's
-- Copilot code-generation activity on the UTC day the PR was opened or the day before.
with pull_requests as (
    select repo, number, author, created_at from {{ ref('stg_github__pull_requests') }}
),

commits as (
    select repo, pr_number, message from {{ ref('stg_github__commits') }}
),

labels as (
    select repo, number, label from {{ ref('stg_github__pull_request_labels') }}
),

trailer_prs as (
    select distinct repo, pr_number as number
    from commits
    where message is not null
      and {{ regex_matches('lower(message)', sql_text(var('ai_trailer_regex'))) }}
),

label_prs as (
    select distinct repo, number
    from labels
    where label in {{ sql_text_list(var('ai_labels')) }}
),

{%- set accounts = [] %}
{%- for login in var('ai_agent_accounts') %}
  {%- do accounts.append(login | lower) %}{%- do accounts.append((login | lower) ~ '[bot]') %}
{%- endfor %}

agent_prs as (
    select repo, number
    from pull_requests
    where lower(author) in {{ sql_text_list(accounts) }}
),

copilot_prs as (
    {%- if var('ai_copilot') %}
    select distinct pr.repo, pr.number
    from pull_requests as pr
    inner join {{ ref('stg_github__copilot_user_days') }} as copilot
        on lower(pr.author) = copilot.user_login
        and copilot.code_generation_activity_count > 0
        and copilot.day <= cast(pr.created_at as date)
        and copilot.day >= cast(pr.created_at as date) - 1
    {%- else %}
    select repo, number from pull_requests where 1 = 0
    {%- endif %}
),

final as (
    select
        pr.repo,
        pr.number,
        agent_prs.number is not null as is_agent_author,
        case
            when trailer_prs.number is not null then 'coauthor_trailer'
            when agent_prs.number is not null then 'agent_author'
            when label_prs.number is not null then 'label'
            when copilot_prs.number is not null then 'copilot_activity'
        end as ai_signal
    from pull_requests as pr
    left join trailer_prs on pr.repo = trailer_prs.repo and pr.number = trailer_prs.number
    left join agent_prs on pr.repo = agent_prs.repo and pr.number = agent_prs.number
    left join label_prs on pr.repo = label_prs.repo and pr.number = label_prs.number
    left join copilot_prs on pr.repo = copilot_prs.repo and pr.number = copilot_prs.number
)

select repo, number, is_agent_author, ai_signal, ai_signal is not null as ai_assisted from final
