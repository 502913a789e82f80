-- With `merge`, deployments are exactly the PRs merged into the default branch: every merge
-- deployment has its PR, and that PR was merged into the default branch.
select d.deployment_id
from {{ ref('fct_deployments') }} as d
left join {{ ref('fct_pull_requests') }} as p on d.deployment_id = 'merge:' || p.pr_id
where d.source = 'merge' and (p.pr_id is null or not p.is_merged_to_default_branch)
