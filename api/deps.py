"""What routes receive through `Depends`: the published build (the layer's Source) and validated filters.

A bad filter is a 422 in FastAPI's own error shape, `{"detail": [{"loc": ["query", "<param>"], "msg": ...}]}`,
so every client reads one format whether pydantic or the layer found the problem. An empty warehouse is a
503 whose body says why and which command fills it.
"""

from __future__ import annotations

import os
import threading
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator, StringConstraints

from emd.metrics import filters as layer_filters
from emd.metrics.source import EmptyWarehouse, Source, open_source
from emd.settings import SettingsError
from emd.snapshot import dashboard_target

DEFAULT_DAYS = 30


def filter_error(param: str, message: str, value: Any = None) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("query", param), "msg": message,
                                    "input": value}])


def empty_warehouse(empty: EmptyWarehouse) -> HTTPException:
    return HTTPException(503, detail={"reason": empty.reason, "commands": list(empty.commands)})


_opened: dict[str, Source] = {}
_opened_lock = threading.Lock()


def current_source() -> Source | EmptyWarehouse:
    """The published build the dashboard reads (DATABASE_URL, read now). A DuckDB build file never changes
    once published, so while the snapshot link still points at the same file, the Source opened for it is
    reused; a new build (the link switched) is opened afresh. Postgres is opened per request."""
    try:
        target = dashboard_target()
    except SettingsError as exc:
        return EmptyWarehouse(str(exc), ())
    if target.kind != "duckdb" or target.duckdb_path is None or not target.duckdb_path.exists():
        return open_source()
    real = os.path.realpath(target.duckdb_path)
    with _opened_lock:
        known = _opened.get(real)
    if known is not None and os.path.exists(real):
        return known
    source = open_source()
    if isinstance(source, Source) and source.path == real:
        with _opened_lock:
            _opened.clear()  # only the newest build is asked for
            _opened[real] = source
    return source


async def get_source() -> Source:
    source = current_source()
    if isinstance(source, EmptyWarehouse):
        raise empty_warehouse(source)
    return source


SourceDep = Annotated[Source, Depends(get_source)]

def _blank_is_none(value: object) -> object:
    """`?team=` (an empty value, as in the seed's `?team=&repo=`) means no filter."""
    return None if isinstance(value, str) and not value.strip() else value


# The length cap applies to a given name; an empty value is None (no filter) before it is checked.
Org = Annotated[Annotated[str, StringConstraints(max_length=200)] | None, BeforeValidator(_blank_is_none),
                Query(description="organisation (the config's `org`); empty = every org")]
Team = Annotated[Annotated[str, StringConstraints(max_length=200)] | None, BeforeValidator(_blank_is_none),
                 Query(description="team name from the config's `teams:`; empty = every team")]
Repo = Annotated[Annotated[str, StringConstraints(max_length=300)] | None, BeforeValidator(_blank_is_none),
                 Query(description="repository, owner/name; empty = every repo")]
def _iso_day(value: object) -> object:
    """Only YYYY-MM-DD: pydantic's lax mode would read `0` as 1970-01-01 (a Unix timestamp)."""
    if isinstance(value, str) and not (len(value) == 10 and value[4] == value[7] == "-"
                                       and value.replace("-", "").isdigit()):
        raise ValueError(f"{value!r} is not a UTC day of the form YYYY-MM-DD")
    return value


From = Annotated[date | None, BeforeValidator(_iso_day),
                 Query(alias="from", description="first UTC day, inclusive (YYYY-MM-DD); default: 29 days before "
                                                 "`to`, not before the first ingested day")]
To = Annotated[date | None, BeforeValidator(_iso_day),
               Query(alias="to", description="last UTC day, inclusive (YYYY-MM-DD); default: the newest day with "
                                             "data")]
Granularity = Annotated[Literal["day", "week"], Query(description="bucket of a series")]
Basis = Annotated[Literal["points", "issues"] | None, Query(description="planning metrics by story points or by issue count (the dashboard's toggle); default: points, or issues for sprints without estimates")]


def make_filters(source: Source, org: str | None, team: str | None, repo: str | None, start: date | None,
                 end: date | None, granularity: str = "day") -> layer_filters.Filters:
    """Fill in the window as the dashboard does (app/view.py), check every value against the build, or raise a
    422 naming the parameter. Default: the last 30 days up to the newest day with data; a `from` before the
    first ingested day is cut to that day (days before it are unknown, not days without activity)."""
    if start is not None and end is not None and start > end:
        raise filter_error("from", f"{start.isoformat()} is after to={end.isoformat()}", start.isoformat())
    dims = layer_filters.dimensions(source)
    if end is None:
        end = dims.latest_day or layer_filters.utc_today()
        if start is not None and start > end:
            end = start
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
        if dims.first_day is not None:
            start = min(max(start, dims.first_day), end)
    elif dims.first_day is not None and start < dims.first_day <= end:
        start = dims.first_day
    wanted = layer_filters.Filters(org=org, team=team, repo=repo, start=start, end=end, granularity=granularity)
    try:
        layer_filters.validate(source, wanted)
    except layer_filters.FilterError as exc:
        raise filter_error(_param_name(exc.param), exc.message) from None
    return wanted


def _param_name(param: str) -> str:
    """The layer names its fields (start, end); the API's query parameters are `from` and `to`."""
    return {"start": "from", "end": "to"}.get(param, param)


async def window_filters(source: SourceDep, org: Org = None, team: Team = None, repo: Repo = None,
                   start: From = None, end: To = None) -> layer_filters.Filters:
    return make_filters(source, org, team, repo, start, end)


async def series_filters(source: SourceDep, org: Org = None, team: Team = None, repo: Repo = None,
                   start: From = None, end: To = None, granularity: Granularity = "day") -> layer_filters.Filters:
    return make_filters(source, org, team, repo, start, end, granularity)


WindowFilters = Annotated[layer_filters.Filters, Depends(window_filters)]
SeriesFilters = Annotated[layer_filters.Filters, Depends(series_filters)]
