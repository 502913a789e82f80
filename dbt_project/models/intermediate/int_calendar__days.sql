-- The ingested calendar: every UTC day whose partition was ingested (docs/metrics.md Conventions), not the
-- range between the first and the last. raw_ingested_partitions records every partition written, also one
-- in which no source reported anything (a quiet day is still an ingested day); the raw tables' own
-- partitions count too (warehouses written before that record). A day between two backfilled ranges that
-- was never ingested is absent: unknown, not a day without activity.
with partitions as (
    select partition_date from {{ source('ingestion', 'raw_ingested_partitions') }}
    {% set raw = [('github', 'raw_github_pull_requests'), ('github', 'raw_github_releases'),
                  ('github', 'raw_github_deployments'), ('jira', 'raw_jira_issues'), ('jira', 'raw_jira_sprints')] %}
    {% for source_name, table in raw %}
    union all
    select partition_date from {{ source(source_name, table) }}
    {% endfor %}
),

final as (
    select distinct cast(partition_date as date) as date
    from partitions
    where partition_date is not null
)

select * from final
