-- The ingested calendar per source (docs/metrics.md Conventions): every UTC day on which a source's partition
-- was ingested, rows or not. raw_ingested_partitions records every partition written with its source (github,
-- jira, pagerduty, ...; Copilot's usage reports are a source of their own, `copilot`, as they are ingested apart
-- from pull requests and deployments); the raw tables' own partitions count too (warehouses written before that
-- record). A day on which GitHub was ingested and Jira failed is a GitHub day only: the Jira metrics have no row
-- for it (unknown, not a day without activity).
with partitions as (
    select
        case when table_name like 'raw_github_copilot%' then 'copilot' else source end as source,
        partition_date
    from {{ source('ingestion', 'raw_ingested_partitions') }}
    {% set raw = [('github', 'raw_github_pull_requests'), ('github', 'raw_github_releases'),
                  ('github', 'raw_github_deployments'), ('jira', 'raw_jira_issues'), ('jira', 'raw_jira_sprints')] %}
    {% for source_name, table in raw %}
    union all
    select '{{ source_name }}', partition_date from {{ source(source_name, table) }}
    {% endfor %}
),

final as (
    select distinct source, cast(partition_date as date) as date
    from partitions
    where partition_date is not null and source is not null
)

select * from final
