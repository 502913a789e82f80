"""Series: a metric per UTC day or ISO week over a window, one point per bucket, from the fact rows of
each bucket (the catalogue's SQL, measures.py, grouped by bucket).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from emd.metrics.catalogue import CATALOGUE, metric
from emd.metrics.filters import Filters, dimensions
from emd.metrics.measures import DOMAINS, METRIC_SQL, aggregate, count, merged
from emd.metrics.source import Source, as_date, bucket
from emd.metrics.sprints import blocked_at_end


@dataclass(frozen=True)
class Point:
    bucket: date  # the UTC day, or the ISO week's Monday
    value: float | None
    sample_size: int



def buckets(filters: Filters) -> list[tuple[date, date, date]]:
    """(bucket, first day, last day) of each day/week bucket of the window, the ends clipped to it."""
    out = []
    if filters.granularity == "week":
        monday = filters.start - timedelta(days=filters.start.weekday())
        while monday <= filters.end:
            out.append((monday, max(monday, filters.start), min(monday + timedelta(days=6), filters.end)))
            monday += timedelta(days=7)
    else:
        day = filters.start
        while day <= filters.end:
            out.append((day, day, day))
            day += timedelta(days=1)
    return out


def series(source: Source, metric_key: str, filters: Filters, basis: str | None = None) -> list[Point]:
    """The metric per day or ISO week (filters.granularity) over the window, one point per bucket
    (empty buckets included: a count is 0 there, a percentile or rate None; a bucket with no ingested day
    has no value at all, and a week divides by its ingested days). Each point is computed from the fact
    rows of its bucket's ingested days, clipped to the window."""
    m = metric(metric_key)
    if not m.series:
        raise KeyError(f"metric {metric_key!r} has no series; series metrics: "
                       f"{', '.join(k for k, v in CATALOGUE.items() if v.series)}")
    spans = buckets(filters)
    if metric_key == "blocked_issues":
        points = []
        for key, _, last in spans:
            found = blocked_at_end(source, filters, last)
            points.append(Point(key, None if found is None else found["blocked"],
                                0 if found is None else int(found["blocked"] or 0)))
        return points
    spec = METRIC_SQL[metric_key]
    found = {}
    for name in spec.domains:
        by_bucket = aggregate(source, name, filters, bucket(DOMAINS[name].time, filters.granularity), [],
                              filters.start_ts, filters.end_ts)
        found[name] = {as_date(k): r for k, r in by_bucket.items()}
    dims = dimensions(source)
    calendar = DOMAINS[spec.domain].scope  # the metric's source's ingested days (GitHub's, Jira's)
    points = []
    for key, first, last in spans:
        days = dims.ingested_days(first, last, calendar)
        if not days:  # a bucket never ingested is unknown: no value, not a zero
            points.append(Point(key, None, 0))
            continue
        row = merged(found, spec, key)
        points.append(Point(key, spec.value(row, days, basis), count(row, spec.sample)))
    return points

