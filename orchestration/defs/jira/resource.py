"""The Jira Cloud client: one resource that hides pagination, changelog completion and time zones.

`JiraResource` reads JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN (or, when JIRA_OAUTH_CLIENT_ID is set, the
OAuth 2.0 connection `emd connect jira` stored: emd.jira_oauth) when a run uses it (never at import time,
and not at all for a project without Jira; never from run config), and hands out the run's `JiraClient`
(one per run, so the lookups that do not change within a run -- /myself, the field list, board
configurations and sprints, statuses -- are made once), whose plain methods do the work:

- `issues_updated_between(projects, start, end, ...)`: issues updated in a UTC window with their *complete*
  changelogs. JQL dates are read in the API user's profile time zone (from /myself), at minute granularity,
  so the window is converted into that zone, widened by a minute (and past any DST ambiguity), and the
  answer filtered exactly on each issue's `updated` timestamp.
- `story_points_fields(...)`: the story-points field per project: the config's, else the board's estimation
  field, else the field named "Story point estimate" / "Story Points".
- `sprints(board_id)`, `statuses()`, `changelogs(ids)`, `issue_changelog(key)`.

All HTTP goes through emd.http.HttpClient (retries, Retry-After, counters, clear errors); every paged
endpoint goes through emd.http.PageGuard, so paging that does not end (the same `nextPageToken` twice, a
page of items already seen, more pages than `total` allows) stops with an error naming the endpoint.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from pydantic import PrivateAttr

from emd import settings
from emd.credentials import CREDENTIALS_ENV
from emd.http import ApiError, ApiPayloadError, HttpClient, PageGuard, RetryPolicy
from emd.jira_oauth import API_URL_ENV, JiraOAuth, jira_oauth
from emd.settings import SettingsError
from emd.warehouse import to_db_timestamp
from orchestration.resources import EnvOnlyCredentialsResource

CREDENTIALS = "JIRA_EMAIL/JIRA_API_TOKEN"
SEARCH_PAGE = 100  # issues per search page (Jira's most when fields and the changelog are asked for)
BULK_CHANGELOG_ISSUES = 1000  # issueIdsOrKeys per bulk changelog request (the API's limit)
ISSUE_BATCH = 1000  # issues (with complete changelogs) handed on at a time: a huge day never sits in memory whole
BULK_CHANGELOG_PAGE = 1000  # histories per bulk changelog page
STORY_POINT_NAMES = ("Story point estimate", "Story Points")  # by-name fallback, in order of preference
SPRINT_FIELD_TYPE = "com.pyxis.greenhopper.jira:gh-sprint"
JQL_MINUTE = "%Y-%m-%d %H:%M"

ISSUE_FIELDS = ("summary", "issuetype", "project", "status", "created", "updated", "resolutiondate", "resolution",
                "assignee", "reporter", "parent", "labels", "priority")


class JiraResource(EnvOnlyCredentialsResource):
    """Jira Cloud over REST v3 and the Agile API. The site URL and the credentials come from the environment
    only (JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN), read when the client is first needed: run config cannot
    send them to another host."""

    ENV_ONLY: ClassVar[dict[str, str]] = {"base_url": "JIRA_BASE_URL", "email": "JIRA_EMAIL",
                                          "api_token": "JIRA_API_TOKEN"}
    max_retry_seconds: float = 600.0
    retry_base_delay_seconds: float = 0.5
    _client: JiraClient | None = PrivateAttr(default=None)

    def client(self) -> JiraClient:
        """The run's client (made on first use, then reused by every Jira step and day of the run)."""
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def _new_client(self) -> JiraClient:
        policy = RetryPolicy(max_elapsed_s=self.max_retry_seconds, base_delay_s=self.retry_base_delay_seconds)
        oauth = jira_oauth()  # OAuth 2.0 (3LO) wins over JIRA_EMAIL/JIRA_API_TOKEN when configured
        if oauth is not None:
            return JiraClient(oauth.base_url, "", "", policy=policy, auth=oauth)
        values = {
            "JIRA_BASE_URL": settings.env("JIRA_BASE_URL"),
            "JIRA_EMAIL": settings.env("JIRA_EMAIL"),
            "JIRA_API_TOKEN": settings.env("JIRA_API_TOKEN"),
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise SettingsError(
                f"{', '.join(missing)} {verb} not set: Jira is configured (jira.projects / jira.boards in the "
                "project config), so JIRA_BASE_URL (e.g. https://your-site.atlassian.net), JIRA_EMAIL and "
                "JIRA_API_TOKEN are needed. Set them in the environment or in .env."
            )
        return JiraClient(str(values["JIRA_BASE_URL"]), str(values["JIRA_EMAIL"]), str(values["JIRA_API_TOKEN"]),
                          policy=policy)


@dataclass
class StoryPointsFields:
    """The story-points field id per project key (None: no estimation field found) and how it was found."""

    by_project: dict[str, str | None]
    source: dict[str, str]  # project key -> "config" | "board 12" | "field name 'Story point estimate'" | "none"

    def describe(self) -> str:
        return "; ".join(f"{p}: {self.by_project[p] or 'none'} ({self.source[p]})" for p in sorted(self.by_project))


@dataclass
class IssueBatch:
    """Issues of one window with their complete changelogs (histories oldest first)."""

    issues: list[dict[str, Any]]
    histories: dict[str, list[dict[str, Any]]]  # issue id -> histories
    time_zone: str
    jql: str
    completed_changelogs: int = 0  # issues whose embedded changelog was truncated and fetched in full
    dropped_outside_window: int = 0
    duplicates_dropped: int = 0  # the same issue id twice (moved while the search paged: two keys)


@dataclass
class JiraClient:
    base_url: str
    email: str
    api_token: str = field(repr=False)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    auth: JiraOAuth | None = field(default=None, repr=False)  # OAuth 2.0 (3LO); None: basic auth (email, API token)
    http: HttpClient = field(init=False)
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        if self.auth is not None:
            self.http = HttpClient(name="Jira", token_env=f"the Jira OAuth connection ({CREDENTIALS_ENV})",
                                   url_env=API_URL_ENV, policy=self.policy)
            self.http.session.auth = self.auth
        else:
            self.http = HttpClient(name="Jira", token_env=CREDENTIALS, url_env="JIRA_BASE_URL", policy=self.policy)
            self.http.session.auth = requests.auth.HTTPBasicAuth(self.email, self.api_token)
        self.http.session.headers["Accept"] = "application/json"

    # -- plumbing ----------------------------------------------------------------------------------------
    @property
    def stats(self):
        return self.http.stats

    def auth_metadata(self) -> dict[str, Any]:
        """Which credentials were used (`auth: oauth|basic`) and, with OAuth, the token refreshes so far."""
        return self.auth.metadata() if self.auth is not None else {"auth": "basic"}

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        body, _headers = self.http.request_json("GET", self.base_url + path, params=params)
        return body

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        body, _headers = self.http.request_json("POST", self.base_url + path, json=payload)
        return body

    # -- the user and the site ---------------------------------------------------------------------------
    def myself(self) -> dict[str, Any]:
        if "myself" not in self._cache:
            body = self._get("/rest/api/3/myself")
            _need(isinstance(body, dict), "Jira user (/rest/api/3/myself)", "the body (a JSON object)")
            self._cache["myself"] = body
        return self._cache["myself"]

    def time_zone(self) -> ZoneInfo:
        """The API user's profile time zone: Jira reads every JQL date in it."""
        name = self.myself().get("timeZone")
        _need(isinstance(name, str) and name, "Jira user (/rest/api/3/myself)", "timeZone")
        try:
            return ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ApiPayloadError(f"Jira user (/rest/api/3/myself): field `timeZone` is {name!r}, "
                                  "which is not a known IANA time zone") from exc

    def fields(self) -> list[dict[str, Any]]:
        if "fields" not in self._cache:
            body = self._get("/rest/api/3/field")
            _need(isinstance(body, list), "Jira fields (/rest/api/3/field)", "the body (a JSON array)")
            for item in body:
                _need(isinstance(item, dict) and item.get("id") and "name" in item,
                      "Jira field (/rest/api/3/field)", "id/name")
            self._cache["fields"] = body
        return self._cache["fields"]

    def field_named(self, *names: str) -> tuple[str, str] | None:
        """(field id, name) of the first of `names` that the site has, matching case-insensitively."""
        by_name: dict[str, str] = {}
        for item in self.fields():
            by_name.setdefault(str(item["name"]).lower(), str(item["id"]))
        for name in names:
            if name.lower() in by_name:
                return by_name[name.lower()], name
        return None

    def sprint_field(self) -> str | None:
        for item in self.fields():
            if (item.get("schema") or {}).get("custom") == SPRINT_FIELD_TYPE:
                return str(item["id"])
        found = self.field_named("Sprint")
        return found[0] if found else None

    def flagged_field(self) -> str | None:
        found = self.field_named("Flagged")
        return found[0] if found else None

    def statuses(self) -> list[dict[str, Any]]:
        """Every status (fetched once per client: statuses do not change within a run)."""
        if "statuses" in self._cache:
            return self._cache["statuses"]
        body = self._get("/rest/api/3/status")
        _need(isinstance(body, list), "Jira statuses (/rest/api/3/status)", "the body (a JSON array)")
        for status in body:
            sid = status.get("id") if isinstance(status, dict) else None
            entity = f"Jira status {sid or '?'} (/rest/api/3/status)"
            _need(sid, entity, "id")
            _need(status.get("name"), entity, "name")
            _need(((status.get("statusCategory") or {}).get("key")), entity, "statusCategory.key")
        self._cache["statuses"] = body
        return body

    # -- boards and sprints ------------------------------------------------------------------------------
    def board_configuration(self, board_id: int) -> dict[str, Any]:
        key = f"board_configuration:{board_id}"
        if key not in self._cache:
            with _board_named(board_id):
                body = self._get(f"/rest/agile/1.0/board/{board_id}/configuration")
            _need(isinstance(body, dict), f"Jira board {board_id} configuration", "the body (a JSON object)")
            self._cache[key] = body
        return self._cache[key]

    def board_project_key(self, board_id: int) -> str | None:
        location = self.board_configuration(board_id).get("location") or {}
        key = location.get("key") or location.get("projectKeyOrId")
        if key and not str(key).isdigit():
            return str(key)
        cache_key = f"board:{board_id}"
        if cache_key not in self._cache:
            self._cache[cache_key] = self._get(f"/rest/agile/1.0/board/{board_id}")
        return ((self._cache[cache_key] or {}).get("location") or {}).get("projectKey")

    def story_points_fields(self, projects: Sequence[str], boards: Sequence[int],
                            override: str | None = None) -> StoryPointsFields:
        """The config's field if set; else each board's estimation field for its project; else by name."""
        if override:
            return StoryPointsFields({p: override for p in projects}, {p: "config jira.story_points_field"
                                                                      for p in projects})
        by_project: dict[str, str | None] = {}
        source: dict[str, str] = {}
        for board_id in boards:
            estimation = self.board_configuration(board_id).get("estimation") or {}
            field_id = (estimation.get("field") or {}).get("fieldId") if estimation.get("type") == "field" else None
            project = self.board_project_key(board_id)
            if field_id and project and project not in by_project:
                by_project[project] = str(field_id)
                source[project] = f"board {board_id} estimation"
        missing = [p for p in projects if p not in by_project]
        if missing:
            found = self.field_named(*STORY_POINT_NAMES)
            for project in missing:
                by_project[project] = found[0] if found else None
                source[project] = f"field named {found[1]!r}" if found else "none found"
        return StoryPointsFields({p: by_project.get(p) for p in projects}, {p: source[p] for p in projects})

    def sprints(self, board_id: int) -> list[dict[str, Any]]:
        """Every sprint of a board (closed, active, future), as the Agile API pages them; fetched once per
        client (each day of a run filters the same list)."""
        key = f"sprints:{board_id}"
        if key not in self._cache:
            self._cache[key] = self._sprints(board_id)
        return self._cache[key]

    def _sprints(self, board_id: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        start = 0
        guard = PageGuard(f"Jira sprints of board {board_id} ({self.base_url}/rest/agile/1.0/board/{board_id}/sprint)")
        while True:
            with _board_named(board_id):
                body = self._get(f"/rest/agile/1.0/board/{board_id}/sprint", {"startAt": start, "maxResults": 50})
            entity = f"Jira sprints of board {board_id}"
            _need(isinstance(body, dict) and isinstance(body.get("values"), list), entity, "values")
            values = body["values"]
            for sprint in values:
                _need(isinstance(sprint, dict) and isinstance(sprint.get("id"), int), entity, "values[].id")
                _need(sprint.get("state") in ("closed", "active", "future"), f"Jira sprint {sprint['id']}", "state")
            out.extend(values)
            if body.get("isLast", True) or not values:
                return out
            start += len(values)
            guard.page(str(start), [s["id"] for s in values], total=body.get("total"), page_size=len(values))

    # -- issues and changelogs ---------------------------------------------------------------------------
    def search(self, jql: str, fields: Sequence[str], expand: str = "") -> Iterator[dict[str, Any]]:
        """Every issue a JQL query finds, page by page with nextPageToken until isLast."""
        token: str | None = None
        guard = PageGuard(f"Jira search ({self.base_url}/rest/api/3/search/jql)")
        while True:
            payload: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": SEARCH_PAGE}
            if expand:
                payload["expand"] = expand
            if token:
                payload["nextPageToken"] = token
            body = self._post("/rest/api/3/search/jql", payload)
            _need(isinstance(body, dict) and isinstance(body.get("issues"), list),
                  "Jira search (/rest/api/3/search/jql)", "issues")
            token = body.get("nextPageToken")
            last = body.get("isLast", token is None) or not token
            guard.page(None if last else token, [i.get("id") for i in body["issues"] if isinstance(i, dict)])
            yield from body["issues"]
            if last:
                return

    def issues_updated_between(self, projects: Sequence[str], start: datetime, end: datetime,
                               extra_fields: Iterable[str] = ()) -> IssueBatch:
        """Issues of `projects` whose `updated` is in [start, end) (UTC), each with its complete changelog."""
        merged: IssueBatch | None = None
        for batch in self.issue_batches_updated_between(projects, start, end, extra_fields):
            if merged is None:
                merged = batch
                continue
            merged.issues.extend(batch.issues)
            merged.histories.update(batch.histories)
            merged.completed_changelogs += batch.completed_changelogs
            merged.dropped_outside_window = batch.dropped_outside_window
            merged.duplicates_dropped = batch.duplicates_dropped
        assert merged is not None  # the generator always yields at least one (possibly empty) batch
        return merged

    def issue_batches_updated_between(self, projects: Sequence[str], start: datetime, end: datetime,
                                      extra_fields: Iterable[str] = (), batch_size: int = ISSUE_BATCH
                                      ) -> Iterator[IssueBatch]:
        """The same issues as `issues_updated_between`, `batch_size` at a time with their complete changelogs,
        so a day of 200,000 updated issues never sits in memory at once. `dropped_outside_window` counts up
        to the batch it is on; the last batch carries the day's total."""
        zone = self.time_zone()
        lo, hi = jql_window(start, end, zone)
        quoted = ", ".join(f'"{p}"' for p in projects)
        jql = f'project in ({quoted}) AND updated >= "{lo}" AND updated < "{hi}" ORDER BY key ASC'
        wanted = list(dict.fromkeys([*ISSUE_FIELDS, *(f for f in extra_fields if f)]))
        pending: dict[str, tuple[datetime, dict[str, Any]]] = {}  # this batch's issues by id, newest state
        handed_on: set[str] = set()  # ids in batches already handed on
        dropped = duplicates = 0
        yielded = False
        try:
            for issue in self.search(jql, wanted, expand="changelog"):
                _check_issue(issue)
                updated = parse_jira_time(issue["fields"].get("updated"), f"Jira issue {issue['key']}",
                                          "fields.updated")
                if not start <= updated < end:  # the JQL window was widened; this is the exact UTC window
                    dropped += 1
                    continue
                # An issue is its id: one moved to another project while the search paged (ordered by key)
                # can come back twice, under its old and its new key. Keep its newest state (within a
                # batch; a copy whose id was in an earlier batch is dropped, the next refresh updates it).
                issue_id = str(issue["id"])
                seen = pending.get(issue_id)
                if seen is not None or issue_id in handed_on:
                    duplicates += 1
                    if issue_id in handed_on or (seen is not None and seen[0] > updated):
                        continue
                pending[issue_id] = (updated, issue)
                if len(pending) >= batch_size:
                    yield self._completed([i for _u, i in pending.values()], zone.key, jql, dropped, duplicates)
                    yielded = True
                    handed_on.update(pending)
                    pending = {}
        except ApiError as exc:
            if "answered 400" not in str(exc):
                raise
            raise ApiError(f"Jira rejected the search over jira.projects [{', '.join(projects)}]; check those "
                           f"project keys in the project config. {exc}") from exc
        if pending or not yielded:
            yield self._completed([i for _u, i in pending.values()], zone.key, jql, dropped, duplicates)

    def _completed(self, issues: list[dict[str, Any]], zone: str, jql: str, dropped: int, duplicates: int
                   ) -> IssueBatch:
        """A batch of search results with every changelog complete (embedded ones are cut at 40 histories)."""
        histories: dict[str, list[dict[str, Any]]] = {}
        truncated: list[dict[str, Any]] = []
        for issue in issues:
            embedded = issue.get("changelog") or {}
            listed = embedded.get("histories")
            if not isinstance(listed, list):
                raise ApiPayloadError(f"Jira issue {issue['key']}: field `changelog.histories` is missing or "
                                      "malformed in Jira's answer (the search asked for expand=changelog)")
            total = embedded.get("total", len(listed))
            if total > len(listed):
                truncated.append(issue)
            else:
                histories[issue["id"]] = _oldest_first(listed, issue["key"])
        if truncated:
            fetched = self.changelogs([i["id"] for i in truncated])
            for issue in truncated:
                complete = fetched.get(issue["id"], [])
                if len(complete) < issue["changelog"]["total"]:
                    # the per-issue endpoint as the fallback, by id: the key changes when the issue moves
                    complete = self.issue_changelog(str(issue["id"]))
                histories[issue["id"]] = _oldest_first(complete, issue["key"])
        return IssueBatch(issues=issues, histories=histories, time_zone=zone, jql=jql,
                          completed_changelogs=len(truncated), dropped_outside_window=dropped,
                          duplicates_dropped=duplicates)

    def changelogs(self, issue_ids: Sequence[str], page_size: int = BULK_CHANGELOG_PAGE
                   ) -> dict[str, list[dict[str, Any]]]:
        """Complete changelogs via POST /rest/api/3/changelog/bulkfetch (1,000 issues per request)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for i in range(0, len(issue_ids), BULK_CHANGELOG_ISSUES):
            chunk = list(issue_ids[i: i + BULK_CHANGELOG_ISSUES])
            token: str | None = None
            guard = PageGuard(f"Jira bulk changelog ({self.base_url}/rest/api/3/changelog/bulkfetch)")
            while True:
                payload: dict[str, Any] = {"issueIdsOrKeys": chunk, "maxResults": page_size}
                if token:
                    payload["nextPageToken"] = token
                body = self._post("/rest/api/3/changelog/bulkfetch", payload)
                entity = "Jira bulk changelog (/rest/api/3/changelog/bulkfetch)"
                _need(isinstance(body, dict) and isinstance(body.get("issueChangeLogs"), list), entity,
                      "issueChangeLogs")
                for entry in body["issueChangeLogs"]:
                    _need(isinstance(entry, dict) and entry.get("issueId") is not None, entity,
                          "issueChangeLogs[].issueId")
                    _need(isinstance(entry.get("changeHistories"), list), entity, "issueChangeLogs[].changeHistories")
                    # One issue's histories may continue on the next page.
                    out.setdefault(str(entry["issueId"]), []).extend(entry["changeHistories"])
                token = body.get("nextPageToken")
                guard.page(token or None, [f"{entry['issueId']}/{history.get('id')}"
                                           for entry in body["issueChangeLogs"]
                                           for history in entry["changeHistories"] if isinstance(history, dict)])
                if not token:
                    break
        return out

    def issue_changelog(self, key: str) -> list[dict[str, Any]]:
        """One issue's complete changelog via GET /rest/api/3/issue/{issueIdOrKey}/changelog (oldest first)."""
        out: list[dict[str, Any]] = []
        start = 0
        guard = PageGuard(f"Jira changelog of {key} ({self.base_url}/rest/api/3/issue/{key}/changelog)")
        while True:
            body = self._get(f"/rest/api/3/issue/{key}/changelog", {"startAt": start, "maxResults": 100})
            entity = f"Jira changelog of {key}"
            _need(isinstance(body, dict) and isinstance(body.get("values"), list), entity, "values")
            out.extend(body["values"])
            total = body.get("total")
            done = body.get("isLast")
            if done is None:
                done = total is None or len(out) >= total
            if done or not body["values"]:
                return out
            start += len(body["values"])
            guard.page(str(start), [h.get("id") for h in body["values"] if isinstance(h, dict)],
                       total=total if isinstance(total, int) else None, page_size=len(body["values"]))


# ----------------------------------------------------------------------------------------------------------
# Pure helpers (unit-tested)


def jql_window(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """JQL bounds `updated >= lo AND updated < hi`, in `zone` at minute granularity, that cover [start, end).

    Jira reads a zone-less JQL date in the user's zone; a wall time that occurs twice (DST ends) or never
    (DST starts) may be read either way, so each bound is moved until every reading still covers the window.
    """
    lo = _wall_minute(start, zone) - timedelta(minutes=1)
    while max(_readings(lo, zone)) > start:
        lo -= timedelta(minutes=1)
    hi = _wall_minute(end, zone, ceil=True) + timedelta(minutes=1)
    while min(_readings(hi, zone)) < end:
        hi += timedelta(minutes=1)
    return lo.strftime(JQL_MINUTE), hi.strftime(JQL_MINUTE)


def _wall_minute(instant: datetime, zone: ZoneInfo, ceil: bool = False) -> datetime:
    local = instant.astimezone(zone).replace(tzinfo=None)
    floored = local.replace(second=0, microsecond=0)
    if ceil and floored != local:
        floored += timedelta(minutes=1)
    return floored


def _readings(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    return [wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]


def parse_jira_time(value: Any, entity: str, field_name: str) -> datetime:
    """A Jira timestamp (`2026-03-02T09:15:00.000-0800`, ISO with `Z`/`+10:00`, or epoch) as aware UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str) or not value:
        raise ApiPayloadError(f"{entity}: field `{field_name}` is missing or empty (expected a timestamp)")
    try:
        naive = to_db_timestamp(value)
    except ValueError as exc:
        raise ApiPayloadError(f"{entity}: field `{field_name}` is {value!r}, not a timestamp") from exc
    assert naive is not None
    return naive.replace(tzinfo=UTC)


@contextlib.contextmanager
def _board_named(board_id: int) -> Iterator[None]:
    """A 404 from a board endpoint means a wrong id under jira.boards (or a board the account cannot see)."""
    try:
        yield
    except ApiError as exc:
        if "answered 404" not in str(exc):
            raise
        raise ApiError(f"Jira board {board_id} (listed under jira.boards in the project config) does not exist "
                       f"or the account in JIRA_EMAIL cannot see it. {exc}") from exc


def _need(condition: Any, entity: str, field_name: str) -> None:
    if not condition:
        raise ApiPayloadError(f"{entity}: field `{field_name}` is missing or malformed in Jira's answer")


def _check_issue(issue: Any) -> None:
    _need(isinstance(issue, dict) and issue.get("id") and issue.get("key"), "Jira issue (search)", "id/key")
    entity = f"Jira issue {issue['key']}"
    fields = issue.get("fields")
    _need(isinstance(fields, dict), entity, "fields")
    for name in ("updated", "created"):
        _need(fields.get(name), entity, f"fields.{name}")
    _need(isinstance(fields.get("project"), dict) and fields["project"].get("key"), entity, "fields.project.key")
    _need(isinstance(fields.get("issuetype"), dict) and fields["issuetype"].get("name"), entity,
          "fields.issuetype.name")
    status = fields.get("status")
    _need(isinstance(status, dict) and status.get("id"), entity, "fields.status.id")
    _need((status.get("statusCategory") or {}).get("key"), entity, "fields.status.statusCategory.key")


def _oldest_first(histories: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    entity = f"Jira changelog of {key}"
    for history in histories:
        _need(isinstance(history, dict) and history.get("id") is not None, entity, "histories[].id")
        _need(isinstance(history.get("items"), list), entity, f"histories[{history.get('id')}].items")
    unique = {str(h["id"]): h for h in histories}
    return sorted(unique.values(), key=lambda h: (parse_jira_time(h.get("created"), entity, "created"),
                                                  _numeric(h["id"])))


def _numeric(value: Any) -> tuple[int, str]:
    text = str(value)
    return (int(text), text) if text.isdigit() else (0, text)


_LEGACY_SPRINT_ID = re.compile(r"\bid=(\d+)")


def sprint_ids_of(value: Any) -> list[int]:
    """Sprint ids from the Sprint field: objects with `id` (Cloud), or legacy `...Sprint@x[id=76,...]` strings."""
    if not value:
        return []
    out: list[int] = []
    for entry in value if isinstance(value, list) else [value]:
        if isinstance(entry, dict) and entry.get("id") is not None:
            out.append(int(entry["id"]))
        elif isinstance(entry, str):
            match = _LEGACY_SPRINT_ID.search(entry)
            if match:
                out.append(int(match.group(1)))
    return out
