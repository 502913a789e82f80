-- Every UTC day of the ingested range: the first to the last ingested partition. raw_ingested_partitions
-- records every partition written, also one in which no source reported anything (a quiet day is still
-- an ingested day); the raw tables' own partitions count too (warehouses written before that record).
with bounds as (
    select min(partition_date) as first_day, max(partition_date) as last_day
    from {{ source('ingestion', 'raw_ingested_partitions') }}
    union all
    {% set raw = [('github', 'raw_github_pull_requests'), ('github', 'raw_github_releases'),
                  ('github', 'raw_github_deployments'), ('jira', 'raw_jira_issues'), ('jira', 'raw_jira_sprints')] %}
    {% for source_name, table in raw %}
    select min(partition_date) as first_day, max(partition_date) as last_day from {{ source(source_name, table) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select days.day as date
    from {{ day_series('(select min(first_day) from bounds)', '(select max(last_day) from bounds)') }} as days
    where days.day is not null
)

select * from final
