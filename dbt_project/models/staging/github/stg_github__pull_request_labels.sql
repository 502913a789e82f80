-- One row per (pull request, label), label names lower-cased for matching.
with pull_requests as (
    select repo, number, labels from {{ ref('stg_github__pull_requests') }}
    where labels <> '[]'
),

exploded as (
    select repo, number, {{ json_text_array_to_rows('labels') }} as label
    from pull_requests
),

final as (
    select distinct repo, number, lower(trim(label)) as label
    from exploded
    where label is not null and trim(label) <> ''
)

select * from final
