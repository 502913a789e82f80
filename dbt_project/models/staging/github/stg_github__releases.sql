-- Newest state of each release.
with newest as (
    {{ newest_per(source('github', 'raw_github_releases'), ['repo', 'release_id']) }}
),

final as (
    select
        repo,
        release_id,
        tag_name,
        name,
        coalesce(is_draft, false) as is_draft,
        coalesce(is_prerelease, false) as is_prerelease,
        created_at,
        published_at
    from newest
)

select * from final
