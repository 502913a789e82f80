"""The PagerDuty REST v2 client: incidents created in a window, and incidents that changed in it, for change
failure rate and recovery time.

`GET {PAGERDUTY_API_URL}/incidents?since=&until=&limit=100&offset=&time_zone=UTC` with `Authorization: Token
token=$PAGERDUTY_API_TOKEN` and `Accept: application/vnd.pagerduty+json;version=2`; PagerDuty allows at most
6 months between `since` and `until` (longer windows are split), and pages by `offset` while `more` is true.
Only incidents of the services `incidents.pagerduty.services` maps to a team are asked for (`service_ids[]`),
and only high (or low) urgency ones when `urgency` is set; an incident of an unmapped service is an error
that names the config key (nothing is silently dropped or given to no team).

An incident is resolved days after it opened, and the hourly refresh reads only today and yesterday. So a
day's partition also holds the incidents created earlier that changed that day: `GET /log_entries?since=&until=
&is_overview=true` lists the day's log entries (trigger, acknowledge, resolve, ...) with their incident and
service; each such incident of a mapped service is read in its current state with `GET /incidents/{id}`
(one that no longer exists, 404, is left out and counted).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from emd import settings
from emd.config import PagerDutyConfig
from emd.http import ApiError, ApiNotFoundError, ApiPayloadError, ApiStats, HttpClient, RetryPolicy
from emd.settings import SettingsError
from emd.warehouse import to_db_timestamp, to_json
from orchestration.resources import EnvOnlyCredentialsResource

TOKEN_ENV = "PAGERDUTY_API_TOKEN"
URL_ENV = "PAGERDUTY_API_URL"
DEFAULT_URL = "https://api.pagerduty.com"
PAGE_LIMIT = 100
MAX_RANGE = timedelta(days=180)  # PagerDuty: since and until at most 6 months apart


def pagerduty_api_url() -> str:
    return (settings.env(URL_ENV, DEFAULT_URL) or DEFAULT_URL).rstrip("/")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PagerDutyClient:
    def __init__(self, token: str | None, api_url: str | None = None, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        if not token:
            raise SettingsError(
                f"{TOKEN_ENV} is not set: it is needed to read incidents from PagerDuty because the project config "
                f"sets `incidents.pagerduty`. Create a read-only REST API key (PagerDuty: Integrations > API Access "
                f"Keys) and export {TOKEN_ENV}, or remove `incidents.pagerduty` from the config."
            )
        self.api_url = (api_url or pagerduty_api_url()).rstrip("/")
        self.vanished: list[str] = []  # incidents a log entry named that answered 404
        self.http = HttpClient(name="PagerDuty", token_env=TOKEN_ENV, url_env=URL_ENV, policy=policy or RetryPolicy(),
                               sleep=sleep)
        self.http.session.headers.update({
            "Authorization": f"Token token={token}",
            "Accept": "application/vnd.pagerduty+json;version=2",
            "User-Agent": "engineering-metrics",
        })

    @property
    def stats(self) -> ApiStats:
        return self.http.stats

    def incidents_between(self, start: datetime, end: datetime, config: PagerDutyConfig) -> list[dict[str, Any]]:
        """Incidents of the mapped services created in [start, end), oldest first."""
        found: dict[str, dict[str, Any]] = {}
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(end, chunk_start + MAX_RANGE)
            for incident in self._range(chunk_start, chunk_end, config):
                found[incident["id"]] = incident
            chunk_start = chunk_end
        return sorted(found.values(), key=lambda i: (i["created_at"], i["id"]))

    def incidents_changed_between(self, start: datetime, end: datetime, config: PagerDutyConfig
                                  ) -> list[dict[str, Any]]:
        """Incidents of the mapped services created before `start` with a log entry in [start, end) (resolved,
        acknowledged, reassigned, ...), in their current state, by id."""
        changed: dict[str, None] = {}
        triggered: set[str] = set()  # created in the window: the list of created incidents has them
        for entry in self._paged(f"{self.api_url}/log_entries", "log_entries", [
                ("since", _iso(start)), ("until", _iso(end)), ("time_zone", "UTC"), ("is_overview", "true")]):
            incident = (entry.get("incident") or {}).get("id") if isinstance(entry, dict) else None
            if incident and (entry.get("service") or {}).get("id") in config.services:
                changed[incident] = None
                if entry.get("type") == "trigger_log_entry":
                    triggered.add(incident)
        out = []
        for incident_id in (i for i in changed if i not in triggered):
            try:
                body, _headers = self.http.request_json("GET", f"{self.api_url}/incidents/{incident_id}")
            except ApiNotFoundError:
                self.vanished.append(incident_id)  # deleted or merged away since the log entry
                continue
            incident = body.get("incident") if isinstance(body, dict) else None
            if not isinstance(incident, dict) or incident.get("created_at") is None or incident.get("status") is None:
                raise ApiPayloadError(f"PagerDuty answered {self.api_url}/incidents/{incident_id} without an "
                                      "incident with `created_at` and `status`; nothing was written for this partition")
            created = to_db_timestamp(incident["created_at"])
            if created is None or created >= to_db_timestamp(start):  # type: ignore[operator]
                continue  # created in the window: the list of created incidents has it
            if config.urgency and incident.get("urgency") != config.urgency:
                continue
            out.append(incident)
        return sorted(out, key=lambda i: (i["created_at"], i["id"]))

    def _paged(self, url: str, key: str, params: list[tuple[str, str | int]]) -> list[dict[str, Any]]:
        """Every item of a PagerDuty list endpoint (`limit`/`offset` paging while `more`)."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            body, _headers = self.http.request_json("GET", url, params=[*params, ("limit", PAGE_LIMIT),
                                                                        ("offset", offset)])
            if not isinstance(body, dict) or not isinstance(body.get(key), list):
                raise ApiPayloadError(f"PagerDuty answered {url} without `{key}`; nothing was written for this partition")
            out.extend(body[key])
            if not body.get("more"):
                return out
            offset += len(body[key]) or PAGE_LIMIT

    def _range(self, start: datetime, end: datetime, config: PagerDutyConfig) -> list[dict[str, Any]]:
        url = f"{self.api_url}/incidents"
        params: list[tuple[str, str | int]] = [
            ("since", _iso(start)), ("until", _iso(end)), ("time_zone", "UTC"), ("sort_by", "created_at:asc"),
        ]
        params += [("service_ids[]", service) for service in sorted(config.services)]
        if config.urgency:
            params.append(("urgencies[]", config.urgency))
        out: list[dict[str, Any]] = []
        for incident in self._paged(url, "incidents", params):
            for field in ("id", "created_at", "status"):
                if not isinstance(incident, dict) or incident.get(field) is None:
                    raise ApiPayloadError(f"PagerDuty returned an incident without `{field}` from {url}")
            service = (incident.get("service") or {}).get("id")
            if service not in config.services:
                raise ApiError(
                    f"PagerDuty incident {incident.get('incident_number') or incident['id']} belongs to service "
                    f"{service!r}, which `incidents.pagerduty.services` in the project config "
                    f"({settings.config_path()}) does not map to a team: add `{service}: <team>` there."
                )
            created = to_db_timestamp(incident["created_at"])
            if created is not None and to_db_timestamp(start) <= created < to_db_timestamp(end):  # type: ignore[operator]
                out.append(incident)
        return out


def incident_rows(incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{
        "incident_id": i["id"], "incident_number": i.get("incident_number"), "title": i.get("title"),
        "status": i["status"], "urgency": i.get("urgency"), "service_id": (i.get("service") or {}).get("id"),
        "service_name": (i.get("service") or {}).get("summary"), "created_at": to_db_timestamp(i["created_at"]),
        "updated_at": to_db_timestamp(i.get("updated_at")), "resolved_at": to_db_timestamp(i.get("resolved_at")),
        "payload": to_json(i),
    } for i in incidents]


class PagerDutyResource(EnvOnlyCredentialsResource):
    """PagerDuty's REST API v2. The key and the URL come from the environment only -- PAGERDUTY_API_TOKEN and
    PAGERDUTY_API_URL (default https://api.pagerduty.com; https://api.eu.pagerduty.com for EU accounts), read
    when used -- so run config cannot send the key to another host."""

    ENV_ONLY: ClassVar[dict[str, str]] = {"api_url": "PAGERDUTY_API_URL", "token": TOKEN_ENV}

    max_elapsed_s: float = Field(default=600.0, description="Give up on one request after this many seconds of retries.")

    def client(self) -> PagerDutyClient:
        return PagerDutyClient(settings.env(TOKEN_ENV), pagerduty_api_url(),
                               policy=RetryPolicy(max_elapsed_s=self.max_elapsed_s))
