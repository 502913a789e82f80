-- Each failure signal -> the latest deployment of the same repo strictly before it, if that
-- deployment is at most failure_window_days earlier (unattributed signals are kept with NULL).
with signals as (
    select * from {{ ref('int_github__failure_signals') }}
),

deployments as (
    select deployment_id, repo, deployed_at from {{ ref('int_github__deployments') }}
),

candidates as (
    select
        s.signal_id,
        d.deployment_id,
        row_number() over (partition by s.signal_id order by d.deployed_at desc, d.deployment_id desc) as recency_rank
    from signals as s
    inner join deployments as d
        on s.repo = d.repo
       and d.deployed_at < s.signal_at
       and d.deployed_at >= s.signal_at - {{ days_interval(var('failure_window_days')) }}
),

final as (
    select s.*, c.deployment_id as attributed_deployment_id
    from signals as s
    left join candidates as c on s.signal_id = c.signal_id and c.recency_rank = 1
)

select * from final
