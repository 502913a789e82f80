-- The pull requests this build recomputes (docs/incremental.md): with a watermark (dbt var emd_changed_since)
-- and a built stg_github__pull_requests, those with a raw row fetched since the watermark (in any of the four
-- tables one PR partition writes) and those whose newest row came from a partition rewritten since then;
-- else every pull request. Read by stg_github__pull_requests and its child models, never by a mart.
-- depends_on: {{ source('github', 'raw_github_reviews') }} {{ source('github', 'raw_github_commits') }}
-- depends_on: {{ source('github', 'raw_github_timeline_events') }} {{ source('ingestion', 'raw_ingested_partitions') }}
{%- set built = built_relation('stg_github__pull_requests') %}
{%- if changed_since() is none or built is none or flags.FULL_REFRESH %}
select distinct repo, cast(number as integer) as number
from {{ source('github', 'raw_github_pull_requests') }}
{%- else %}
select repo, cast(number as integer) as number
from {{ source('github', 'raw_github_pull_requests') }}
where fetched_at >= {{ changed_since() }}
{%- for child in ['raw_github_reviews', 'raw_github_commits', 'raw_github_timeline_events'] %}
union
select repo, cast(pr_number as integer)
from {{ source('github', child) }}
where fetched_at >= {{ changed_since() }}
{%- endfor %}
union
select repo, number
from {{ built }}
where source_partition_date in ({{ rewritten_partitions('raw_github_pull_requests') }})
{%- endif %}
