-- Status id -> name and category (newest fetch).
with newest as (
    {{ newest_per(source('jira', 'raw_jira_statuses'), ['status_id']) }}
),

final as (
    select status_id, name as status_name, lower(category) as status_category
    from newest
)

select * from final
