-- The Jira issues (by issue id) this build recomputes (docs/incremental.md): with a watermark (dbt var
-- emd_changed_since) and a built stg_jira__issues, those with a raw row fetched since the watermark (a moved
-- issue's row under its new key among them) and those whose newest row came from a partition rewritten since
-- then; else every issue. Read by stg_jira__issues and stg_jira__changelog, never by a mart.
-- depends_on: {{ source('jira', 'raw_jira_changelog') }} {{ source('ingestion', 'raw_ingested_partitions') }}
{%- set built = built_relation('stg_jira__issues') %}
{%- if changed_since() is none or built is none or flags.FULL_REFRESH %}
select distinct issue_id
from {{ source('jira', 'raw_jira_issues') }}
{%- else %}
select issue_id
from {{ source('jira', 'raw_jira_issues') }}
where fetched_at >= {{ changed_since() }}
union
select i.issue_id
from {{ source('jira', 'raw_jira_changelog') }} as c
inner join {{ source('jira', 'raw_jira_issues') }} as i on c.issue_key = i.key and c.partition_date = i.partition_date
where c.fetched_at >= {{ changed_since() }}
union
select issue_id
from {{ built }}
where source_partition_date in ({{ rewritten_partitions('raw_jira_issues') }})
{%- endif %}
