"""Mock PagerDuty REST API v2 under `/pagerduty/`: `GET /pagerduty/incidents`, `GET /pagerduty/incidents/{id}`
and `GET /pagerduty/log_entries`.

As PagerDuty does: `Authorization: Token token=<key>` else 401 `{"error": {"message": "Authentication
failed", "code": 2006}}`; `since`/`until` (ISO-8601; default the last month) more than 6 months apart is a
400 "Invalid Input Provided"; `limit` (at most 100, default 25) and `offset` page a list, `more` says whether
another page exists.
- `/incidents`: incidents created in [since, until), oldest first, filtered by `service_ids[]`, `urgencies[]`,
  `statuses[]`;
- `/incidents/{id}`: `{"incident": ...}` in its current state, or 404 `{"error": {"message": "Not Found",
  "code": 2100}}` (also for the ids a test lists in `state.extra["pagerduty_not_found"]`);
- `/log_entries`: the incidents' log entries created in [since, until), newest first (PagerDuty's order):
  a `trigger_log_entry` at each incident's creation and a `resolve_log_entry` at its resolution, each with
  `created_at`, and `incident` and `service` references.

The incidents are `state.extra["pagerduty_incidents"]` when a test sets it, else a few per team of the
synthetic org (service `PSVC<TEAM>` per team), deterministic from the org's seed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mock_apis.org import SyntheticOrg
from mock_apis.server import MockState, Request, Response, Router

MAX_RANGE = timedelta(days=180)
MAX_LIMIT = 100


def service_id(team: str) -> str:
    return "PSVC" + re.sub(r"[^A-Z0-9]", "", team.upper())


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def incident(number: int, service: str, created: datetime, resolved: datetime | None, urgency: str = "high",
             title: str = "Elevated error rate") -> dict[str, Any]:
    """One incident as PagerDuty's REST v2 shapes it."""
    return {
        "id": f"Q{number:04d}MOCK", "type": "incident", "incident_number": number, "title": title,
        "status": "resolved" if resolved else "triggered", "urgency": urgency,
        "created_at": _iso(created), "updated_at": _iso(resolved or created),
        "resolved_at": _iso(resolved) if resolved else None,
        "service": {"id": service, "type": "service_reference", "summary": f"{service} service"},
        "teams": [], "html_url": f"https://acme.pagerduty.com/incidents/Q{number:04d}MOCK",
    }


def synthetic_incidents(org: SyntheticOrg) -> list[dict[str, Any]]:
    rng = org.rng("pagerduty")
    out: list[dict[str, Any]] = []
    number = 1
    for team in org.teams:
        for _ in range(3):
            created = org.start_dt + timedelta(hours=rng.uniform(24, 24 * (org.days - 1)))
            resolved = created + timedelta(hours=rng.uniform(0.5, 12)) if rng.random() < 0.8 else None
            if resolved is not None and resolved >= org.end_dt:
                resolved = None
            out.append(incident(number, service_id(team), created, resolved, rng.choice(["high", "high", "low"])))
            number += 1
    return sorted(out, key=lambda i: i["created_at"])


def _error(status: int, message: str, code: int, errors: list[str] | None = None) -> Response:
    return Response(status, {"error": {"message": message, "code": code, **({"errors": errors} if errors else {})}})


def register(router: Router, state: MockState) -> None:
    def denied(req: Request, counter: str) -> Response | None:
        state.count(counter)
        if req.headers.get("authorization", "") != f"Token token={state.pagerduty_token}":
            return _error(401, "Authentication failed", 2006)
        return None

    def listing(req: Request, counter: str, key: str,
                select: Callable[[datetime, datetime], list[dict[str, Any]]]) -> Response:
        """A list endpoint: authenticated, windowed by since/until, paged by limit/offset."""
        refused = denied(req, counter)
        if refused is not None:
            return refused
        window = _window(req)
        if isinstance(window, Response):
            return window
        since, until, limit, offset = window
        matches = select(since, until)
        page = matches[offset:offset + limit]
        return Response(200, {key: page, "limit": limit, "offset": offset, "total": None,
                              "more": offset + len(page) < len(matches)})

    def incidents(req: Request, _m: re.Match[str]) -> Response:
        services = set(req.query.get("service_ids[]", []))
        urgencies = set(req.query.get("urgencies[]", []))
        statuses = set(req.query.get("statuses[]", []))

        def select(since: datetime, until: datetime) -> list[dict[str, Any]]:
            return sorted((i for i in _incidents() if since <= _parse(i["created_at"]) < until
                           and (not services or i["service"]["id"] in services)
                           and (not urgencies or i["urgency"] in urgencies)
                           and (not statuses or i["status"] in statuses)),
                          key=lambda i: (i["created_at"], i["id"]))

        return listing(req, "pagerduty:incidents", "incidents", select)

    def one_incident(req: Request, match: re.Match[str]) -> Response:
        refused = denied(req, "pagerduty:incident")
        if refused is not None:
            return refused
        hidden = state.extra.get("pagerduty_not_found") or set()  # deleted, or no longer visible to the key
        found = [i for i in _incidents() if i["id"] == match.group(1) and i["id"] not in hidden]
        return Response(200, {"incident": found[0]}) if found else _error(404, "Not Found", 2100)

    def log_entries(req: Request, _m: re.Match[str]) -> Response:
        def select(since: datetime, until: datetime) -> list[dict[str, Any]]:
            return sorted((e for i in _incidents() for e in _log_entries_of(i)
                           if since <= _parse(e["created_at"]) < until),
                          key=lambda e: (e["created_at"], e["id"]), reverse=True)

        return listing(req, "pagerduty:log_entries", "log_entries", select)

    def _incidents() -> list[dict[str, Any]]:
        items = state.extra.get("pagerduty_incidents")
        return items if items is not None else synthetic_incidents(state.org)

    router.add("GET", "/pagerduty/incidents", incidents)
    router.add("GET", r"/pagerduty/incidents/([A-Za-z0-9]+)", one_incident)
    router.add("GET", "/pagerduty/log_entries", log_entries)


def _window(req: Request) -> tuple[datetime, datetime, int, int] | Response:
    now = datetime.now(UTC)
    try:
        until_arg, since_arg = req.arg("until"), req.arg("since")
        until = _parse(until_arg) if until_arg else now
        since = _parse(since_arg) if since_arg else until - timedelta(days=30)
        limit = min(MAX_LIMIT, int(req.arg("limit") or 25))
        offset = int(req.arg("offset") or 0)
    except ValueError:
        return _error(400, "Invalid Input Provided", 2001, ["since, until, limit or offset is malformed"])
    if until - since > MAX_RANGE:
        return _error(400, "Invalid Input Provided", 2001, ["The maximum date range is 6 months"])
    return since, until, limit, offset


def _log_entries_of(incident: dict[str, Any]) -> list[dict[str, Any]]:
    """What PagerDuty's log shows of an incident's life here: its trigger, and its resolution if any."""
    reference = {"id": incident["id"], "type": "incident_reference", "summary": incident.get("title")}
    service = {"id": incident["service"]["id"], "type": "service_reference",
               "summary": incident["service"].get("summary")}
    entries = [{"id": f"R{incident['id']}T", "type": "trigger_log_entry", "created_at": incident["created_at"],
                "incident": reference, "service": service, "summary": "Triggered"}]
    if incident.get("resolved_at"):
        entries.append({"id": f"R{incident['id']}R", "type": "resolve_log_entry",
                        "created_at": incident["resolved_at"], "incident": reference, "service": service,
                        "summary": "Resolved"})
    return entries
