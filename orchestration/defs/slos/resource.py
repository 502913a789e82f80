"""The Prometheus HTTP API client: each SLO's good (or bad) and total events of a range, one query per SLO and range.

`GET {PROMETHEUS_URL}/api/v1/query?query=...&time=<end>` (any Prometheus-compatible API: Prometheus, Thanos,
Mimir, VictoriaMetrics), with `Authorization: Bearer $PROMETHEUS_TOKEN` when that is set. The SLO's two queries
(emd/slos.py `Slo.queries`) are sent as one, each labelled by `label_replace` and joined with `or`:

    label_replace(sum(GOOD), "slo_series", "good", "", "") or label_replace(sum(TOTAL), "slo_series", "total", "", "")

so an SLO-day costs one request (plus retries). A total without series is "no data" (NULLs, never 100%); a good
(or bad) query without series beside a total with data counts 0 events (a counter series appears only once its
first event happened: no 5xx yet means no `code="5xx"` series).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from emd import settings
from emd.http import ApiError, ApiStats, HttpClient, RetryPolicy
from emd.settings import SettingsError
from emd.slos import Slo
from orchestration.resources import EnvOnlyCredentialsResource

URL_ENV = "PROMETHEUS_URL"
TOKEN_ENV = "PROMETHEUS_TOKEN"
SERIES_LABEL = "slo_series"


@dataclass(frozen=True)
class Events:
    """The increase of an SLO's counters over [start, end); None everywhere when the total had no series."""

    good: float | None
    bad: float | None
    total: float | None
    query: str
    payload: Any


def range_text(start: datetime, end: datetime) -> str:
    """A PromQL range: `1d` for a whole day, `24h` for a day's hours, else whole seconds."""
    seconds = int((end - start).total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds}s"


def combined_query(slo: Slo, window: str) -> str:
    parts = [f'label_replace(sum({q}), "{SERIES_LABEL}", "{series}", "", "")'
             for series, q in slo.queries(window).items()]
    return " or ".join(parts)


class PrometheusClient:
    def __init__(self, api_url: str | None, token: str | None = None, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        if not api_url:
            raise SettingsError(
                f"{URL_ENV} is not set: it is needed to read the events of the SLOs that `slos.files` defines over "
                f"Prometheus. Export {URL_ENV} (e.g. http://prometheus:9090; Thanos, Mimir and VictoriaMetrics "
                "work too), or remove those SLOs from the config.")
        self.api_url = api_url.rstrip("/")
        self.http = HttpClient(name="Prometheus", token_env=TOKEN_ENV, url_env=URL_ENV,
                               policy=policy or RetryPolicy(max_attempts=4, max_elapsed_s=120.0), sleep=sleep)
        self.http.session.headers.update({"User-Agent": "engineering-metrics", "Accept": "application/json"})
        if token:
            self.http.session.headers["Authorization"] = f"Bearer {token}"

    @property
    def stats(self) -> ApiStats:
        return self.http.stats

    def events(self, slo: Slo, start: datetime, end: datetime) -> Events:
        """The increase of the SLO's counters over [start, end), evaluated at `end`."""
        query = combined_query(slo, range_text(start, end))
        url = f"{self.api_url}/api/v1/query"
        try:
            body, _ = self.http.request_json("GET", url, params={"query": query, "time": f"{end.timestamp():.3f}"})
        except ApiError as exc:
            raise ApiError(f"SLO {slo.name!r}: Prometheus at {URL_ENV} could not answer the events of "
                           f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC: {exc}") from None
        data = body.get("data") if isinstance(body, dict) and body.get("status") == "success" else None
        if not isinstance(data, dict) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise ApiError(f"SLO {slo.name!r}: the Prometheus API at {URL_ENV} answered {url} without a vector "
                           f"result (status {body.get('status') if isinstance(body, dict) else None!r}); check "
                           f"that {URL_ENV} points at a Prometheus-compatible API")
        values: dict[str, float] = {}
        for item in data["result"]:
            series = str((item.get("metric") or {}).get(SERIES_LABEL))
            try:
                values[series] = float(item["value"][1])
            except (KeyError, IndexError, TypeError, ValueError):
                raise ApiError(f"SLO {slo.name!r}: {URL_ENV} answered a sample without a number: {item!r}") from None
        total = values.get("total")
        if total is None:
            return Events(None, None, None, query, body)
        good = values.get("good", 0.0) if slo.good_query else None
        bad = values.get("bad", 0.0) if slo.bad_query else None
        if good is None and bad is not None:
            good = total - bad
        if bad is None and good is not None:
            bad = total - good
        return Events(good, bad, total, query, body)


def day_range(day_start: datetime, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[day, day + 1) or, for today, [day, now): a day is evaluated at its end, never in the future."""
    now = now or datetime.now(UTC)
    end = min(day_start + timedelta(days=1), now.replace(microsecond=0))
    return day_start, end


class PrometheusResource(EnvOnlyCredentialsResource):
    """A Prometheus-compatible HTTP API. Its URL and token come from the environment only -- PROMETHEUS_URL and
    the optional bearer PROMETHEUS_TOKEN, read when used -- so run config cannot send the token elsewhere."""

    ENV_ONLY: ClassVar[dict[str, str]] = {"api_url": URL_ENV, "token": TOKEN_ENV}

    max_elapsed_s: float = Field(default=120.0, description="Give up on one query after this many seconds of retries.")

    def client(self) -> PrometheusClient:
        return PrometheusClient(settings.env(URL_ENV), settings.env(TOKEN_ENV),
                                policy=RetryPolicy(max_attempts=4, max_elapsed_s=self.max_elapsed_s))
