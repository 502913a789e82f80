"""Request tracing and counters (DESIGN.md "Observability").

- Every answer carries `X-Request-ID`: the request's own when it sent a sane one (up to 128 letters, digits
  and `._:-`), else a new one. Routes read it as `request.state.request_id`.
- One JSON access-log line per request on stderr (logger `emd.api.access`): request_id, method, route
  (the route's template, e.g. `/metrics/series/{metric}`), path, status, duration_ms and subject -- the
  signed-in user's subject, which the sign-in dependency leaves in `request.state.subject` (none without
  sign-in). The query string is not logged.
- `GET /prometheus` (Prometheus text format, prometheus-client), for org-wide readers (with several tenants
  only the EMD_API_TOKEN scraper, `?tenant=` naming whose ingestion it reads): API requests by route, method and status
  and their durations, counted in this process; and, read from the published build at each scrape so
  they survive restarts and count what other processes did, the ingestion log's runs, partitions
  written, partitions failed and rows by source (emd/ingestion_log.py), each source's last successful
  partition and the build's publication time (the last successful refresh).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import PrincipalDep
from api.deps import TenantDep, current_source, out_of_scope
from api.schemas import Problem
from emd import tenants
from emd.auth import ANONYMOUS
from emd.ingestion_log import published_totals
from emd.logs import stderr_handler
from emd.metrics.source import EmptyWarehouse
from emd.settings import SettingsError

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED_ROUTE = "unmatched"  # a path no route serves: one label, not one per path a scanner tries

access_log = logging.getLogger("emd.api.access")


def _access_logger() -> logging.Logger:
    if not access_log.handlers:
        access_log.addHandler(stderr_handler())
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
    return access_log


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1").strip()
            if _SANE_ID.match(text):
                return text
    return uuid.uuid4().hex


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    from datetime import UTC

    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.timestamp()


class IngestionCollector(Collector):
    """The ingestion log and the build's publication time, read from a tenant's published build (None: the
    single config's) at scrape time."""

    def __init__(self, tenant: str | None = None) -> None:
        self.tenant = tenant

    def collect(self) -> Iterator[Any]:
        try:
            source = current_source(tenants.database_target(self.tenant) if self.tenant is not None else None)
        except SettingsError as exc:
            source = EmptyWarehouse(str(exc), ())
        runs = CounterMetricFamily("emd_ingestion_runs", "Ingestion asset runs that wrote or tried a partition",
                                   labels=["source"])
        partitions = CounterMetricFamily("emd_ingestion_partitions", "Day partitions written", labels=["source"])
        failures = CounterMetricFamily("emd_ingestion_failures", "Day partitions that failed (their previous "
                                       "rows stayed in place)", labels=["source"])
        rows = CounterMetricFamily("emd_ingestion_rows", "Rows written to the raw tables", labels=["source"])
        last_success = GaugeMetricFamily("emd_ingestion_last_success_timestamp_seconds",
                                         "When the source's last partition was written (Unix time)", labels=["source"])
        refreshed = GaugeMetricFamily("emd_last_refresh_timestamp_seconds",
                                      "When the build the API and dashboard read was published (Unix time)")
        if not isinstance(source, EmptyWarehouse):
            for totals in published_totals(source):
                runs.add_metric([totals.source], totals.runs)
                partitions.add_metric([totals.source], totals.partitions_succeeded)
                failures.add_metric([totals.source], totals.partitions_failed)
                rows.add_metric([totals.source], totals.rows)
                when = _epoch(totals.last_success)
                if when is not None:
                    last_success.add_metric([totals.source], when)
            published = _epoch(source.published_at)
            if published is not None:
                refreshed.add_metric([], published)
        yield from (runs, partitions, failures, rows, last_success, refreshed)


class Observability:
    """One app's registry, counters and middleware (an app per test gets counters of its own)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("emd_api_requests", "API requests answered", ["route", "method", "status"],
                                registry=self.registry)
        self.duration = Histogram("emd_api_request_duration_seconds", "Time to answer an API request", ["route"],
                                  registry=self.registry)

    def record(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
        method = str(scope.get("method", ""))
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.duration.labels(route=route).observe(seconds)
        state = scope.get("state") or {}
        _access_logger().info("request", extra={"fields": {
            "request_id": request_id, "method": method, "route": route, "path": scope.get("path"),
            "status": status, "duration_ms": round(seconds * 1000, 3), "subject": state.get("subject")}})

    def router(self) -> APIRouter:
        router = APIRouter(tags=["health"])

        @router.get("/prometheus", response_class=Response, summary="Prometheus counters (text format)",
                    responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                                     "description": "API requests by route and status; ingestion runs, "
                                                    "partitions, rows and failures by source; last refresh"},
                               401: {"model": Problem, "description": "sign-in is on and the bearer token is "
                                                                      "missing or not valid"},
                               403: {"model": Problem, "description": "not an org-wide user (with several "
                                                                      "tenants: not the EMD_API_TOKEN scraper)"},
                               404: {"model": Problem, "description": "`tenant` names no tenant you can reach"},
                               422: {"description": "several tenants and no `tenant`"}})
        def prometheus(request: Request, principal: PrincipalDep, tenant: TenantDep) -> Response:
            # The counters cover every team (and, being this process's, every tenant): org-wide readers only,
            # and with several tenants only the EMD_API_TOKEN scraper, which names the tenant whose ingestion
            # it reads with `?tenant=`.
            if request.app.state.sign_in is not None and not principal.org_wide:
                raise out_of_scope()
            if len(tenants.names()) > 1 and not (principal.machine or principal is ANONYMOUS):
                raise HTTPException(403, detail="with several tenants, /prometheus is read with the EMD_API_TOKEN "
                                                "bearer (its request counters span every tenant)")
            ingestion = CollectorRegistry()
            ingestion.register(IngestionCollector(tenant))
            return Response(generate_latest(self.registry) + generate_latest(ingestion),
                            media_type=CONTENT_TYPE_LATEST)

        return router


class TracingMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): the request id goes on the answer's headers, and the access line and
    the counters are written once the answer has started, with the route FastAPI matched."""

    def __init__(self, app: ASGIApp, observability: Observability) -> None:
        self.app = app
        self.observability = observability

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope.get("headers") or [])
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500  # an exception no handler answers is a 500 from the server

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.observability.record(scope, status, time.perf_counter() - started, request_id)
