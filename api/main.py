"""The FastAPI application: the routers, and the errors every route shares.

Nothing here answers 500 on purpose: a bad filter is a 422 naming the parameter (deps.py); an empty
warehouse, one that cannot be read right now, or a build published by an older version of the marts is a
503 with the reason and the command that fixes it; Slack's failures are a 502.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.routers import health, insights, metrics, slack, slos
from emd.warehouse import WarehouseError

DESCRIPTION = """DORA, flow and planning metrics of the published warehouse build (the one the dashboard
reads), computed by the metrics layer (`emd/metrics/`) from the definitions in docs/metrics.md.

Filters everywhere: `org`, `team`, `repo`, `from`, `to` (UTC days, inclusive), and `granularity=day|week`
for series. Read only, apart from `POST /slack/summaries` (bearer `EMD_API_TOKEN`)."""


def unreadable_warehouse(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": {
        "reason": f"the published warehouse build cannot be read right now ({type(exc).__name__}: {exc})",
        "commands": ["retry; if it persists, republish with `python -m emd.snapshot`"]}})


def outdated_build(_: Request, exc: Exception) -> JSONResponse:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return JSONResponse(status_code=503, content={"detail": {
        "reason": f"the published build lacks a table or column this version reads ({first}): it was built by "
                  "an older version of the marts",
        "commands": ["emd pipeline --start YYYY-MM-DD --end YYYY-MM-DD (rebuilds the marts and republishes)"]}})


def create_app() -> FastAPI:
    app = FastAPI(title="Engineering metrics API", version="1", description=DESCRIPTION)
    for router in (metrics.router, insights.router, slack.router, slos.router, health.router):
        app.include_router(router)
    app.add_exception_handler(WarehouseError, unreadable_warehouse)
    try:
        import duckdb

        # A build file pruned or replaced mid-read: not a bug of the request, a moment to retry.
        app.add_exception_handler(duckdb.IOException, unreadable_warehouse)
        app.add_exception_handler(duckdb.ConnectionException, unreadable_warehouse)
        app.add_exception_handler(duckdb.BinderException, outdated_build)
        app.add_exception_handler(duckdb.CatalogException, outdated_build)
    except ImportError:  # pragma: no cover - duckdb is a dependency
        pass
    try:
        import psycopg

        app.add_exception_handler(psycopg.OperationalError, unreadable_warehouse)
        app.add_exception_handler(psycopg.errors.UndefinedColumn, outdated_build)
        app.add_exception_handler(psycopg.errors.UndefinedTable, outdated_build)
    except ImportError:  # pragma: no cover
        pass
    return app


app = create_app()
