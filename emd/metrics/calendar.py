"""The ingested calendar as the surfaces need it: whether a previous period can be compared, when the
build's "current" state was true, and the span of a team's activity (the Sprint Health card's weeks).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from emd.metrics.filters import Filters, dimensions, github_where
from emd.metrics.source import Source, rows


def previous_ingested(source: Source, filters: Filters, calendar: str | None = None) -> bool:
    """Whether the previous equal period lies in the ingested calendar of `calendar`'s source ("github",
    "jira"; None: any source) -- else it has no comparison: a day before the first ingested day is unknown,
    not a day without activity."""
    prev = filters.previous()
    return dimensions(source).ingested(prev.start, prev.end, calendar)



def data_as_of(source: Source, last_day: date | None = None) -> datetime:
    """When the build's "current" state was true: its publication, but never after the end of the
    last ingested day (a backfill of old days says nothing about what happened since)."""
    if last_day is None:
        last_day = dimensions(source).latest_day
    as_of = source.published_at or datetime.now(UTC).replace(tzinfo=None)
    if last_day is not None:
        as_of = min(as_of, datetime.combine(last_day + timedelta(days=1), time(0)))
    return as_of



def activity_bounds(source: Source, filters: Filters) -> tuple[datetime | None, datetime | None]:
    """(first, last) activity of the filtered teams/repos over all time: the first merge or deployment
    (a review alone may belong to a PR from before the ingested range) and the last merge, first review
    or deployment. The Sprint Health card's weeks run between them."""
    where, params = github_where(source, filters)
    deployments_where, deployments_params = github_where(source, filters, deployments=True)
    found = rows(source, f"""
        select min(first_t) as first_t, max(last_t) as last_t from (
            select deployed_at as first_t, deployed_at as last_t from fct_deployments
                where deployed_at is not null{deployments_where}
            union all select least(merged_at, coalesce(deployed_at, merged_at)),
                             greatest(merged_at, coalesce(first_review_at, merged_at), coalesce(deployed_at, merged_at))
                from fct_pull_requests where merged_at is not null{where}
            union all select deployed_at, greatest(deployed_at, coalesce(first_review_at, deployed_at))
                from fct_pull_requests where merged_at is null and deployed_at is not null{where}
            union all select null, first_review_at from fct_pull_requests
                where merged_at is null and deployed_at is null and first_review_at is not null{where}
        ) as t""", [*deployments_params, *params, *params, *params])  # noqa: S608 - SQL text from this module; values bound
    if not found:
        return None, None
    return found[0]["first_t"], found[0]["last_t"]

