-- Hotfix, revert and type of each pull request (docs/metrics.md Delivery "Hotfix", Flow "pr_type").
-- Type precedence: hotfix, then the config's `pr_types` rules in order, then bug, feature, other.
with pull_requests as (
    select * from {{ ref('stg_github__pull_requests') }}
),

labels as (
    select
        repo,
        number,
        max(case when label = 'hotfix' then 1 else 0 end) = 1 as has_hotfix_label,
        max(case when label in ('bug', 'fix') then 1 else 0 end) = 1 as has_bug_label,
        max(case when label in ('feature', 'enhancement') then 1 else 0 end) = 1 as has_feature_label
        {%- for rule in var('pr_type_rules') %},
        max(case when lower(label) in {{ sql_text_list(rule['labels']) }} then 1 else 0 end) = 1
            as has_rule_{{ loop.index }}_label
        {%- endfor %}
    from {{ ref('stg_github__pull_request_labels') }}
    group by repo, number
),

releases as (
    select repo, published_at
    from {{ ref('stg_github__releases') }}
    where not is_draft and published_at is not null
),

-- The repo's latest release at or before the merge.
latest_release_before_merge as (
    select pr.repo, pr.number, max(r.published_at) as latest_release_at
    from pull_requests as pr
    inner join releases as r on pr.repo = r.repo and r.published_at <= pr.merged_at
    where pr.merged_at is not null
    group by pr.repo, pr.number
),

flags as (
    select
        pr.repo,
        pr.number,
        pr.merged_at is not null
        and (
            coalesce(l.has_hotfix_label, false)
            or coalesce(pr.head_branch, '') like 'hotfix/%'
            or (
                ({% for pattern in var('release_branch_like') %}coalesce(pr.base_branch, '') like {{ sql_text(pattern) }}{% if not loop.last %} or {% endif %}{% else %}false{% endfor %})
                and lr.latest_release_at is not null
                and pr.merged_at <= lr.latest_release_at + {{ days_interval(var('hotfix_window_days')) }}
            )
        ) as is_hotfix,
        coalesce(pr.title, '') like 'Revert "%' or coalesce(pr.head_branch, '') like 'revert-%' as is_revert,
        coalesce(l.has_bug_label, false)
            or lower(coalesce(pr.title, '')) like 'fix%' or lower(coalesce(pr.head_branch, '')) like 'fix%' as looks_like_bug,
        coalesce(l.has_feature_label, false)
            or lower(coalesce(pr.title, '')) like 'feat%' or lower(coalesce(pr.head_branch, '')) like 'feat%' as looks_like_feature
        {%- for rule in var('pr_type_rules') %},
        coalesce(l.has_rule_{{ loop.index }}_label, false)
        {%- for prefix in rule['prefixes'] %}
            or substr(lower(coalesce(pr.title, '')), 1, {{ prefix | length }}) = {{ sql_text(prefix) }}
            or substr(lower(coalesce(pr.head_branch, '')), 1, {{ prefix | length }}) = {{ sql_text(prefix) }}
        {%- endfor %} as matches_rule_{{ loop.index }}
        {%- endfor %}
    from pull_requests as pr
    left join labels as l on pr.repo = l.repo and pr.number = l.number
    left join latest_release_before_merge as lr on pr.repo = lr.repo and pr.number = lr.number
),

final as (
    select
        repo,
        number,
        is_hotfix,
        is_revert,
        case
            when is_hotfix then 'hotfix'
            {%- for rule in var('pr_type_rules') %}
            when matches_rule_{{ loop.index }} then {{ sql_text(rule['type']) }}
            {%- endfor %}
            when looks_like_bug then 'bug'
            when looks_like_feature then 'feature'
            else 'other'
        end as pr_type
    from flags
)

select * from final
