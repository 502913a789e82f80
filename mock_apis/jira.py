"""Mock Jira Cloud: platform REST v3 (search/jql, changelogs, fields, statuses, myself) and Agile 1.0.

Faithful to Jira Cloud's OpenAPI specs (the subsets in mock_apis/specs/) where our client depends on it:
- `/rest/api/3/search/jql` (GET and POST) pages with `nextPageToken` until `isLast`, has no `total`, and
  returns only `id` per issue unless `fields` is given. The removed `/rest/api/3/search` answers 410.
- JQL dates without a zone are read in the API user's profile time zone (`state.jira_timezone`), as Jira
  Cloud does; every timestamp is written with that zone's UTC offset ("2026-03-02T09:15:00.000-0800").
- `expand=changelog` embeds only the most recent 40 histories (newest first, with `total` showing the
  truncation); the complete history comes from POST /rest/api/3/changelog/bulkfetch or
  GET /rest/api/3/issue/{key}/changelog (both oldest first).
- Basic auth (email:API token) or a bearer token; anything else is 401. Every route is also served under
  `/ex/jira/{cloudid}` for OAuth 2.0 (3LO) access tokens (mock_apis/atlassian_oauth.py checks them).

Switches (POST /_mock/switch): `jira_board_estimation`: "field" (default) | "issueCount" | "none" changes
what /board/{id}/configuration says; `jira_payload_bug`: "issue_without_updated" | "status_without_category"
sends a malformed payload so clients can be tested on it; `jira_move_issue`: {"key": "API-12", "to": "WEB",
"at": ISO time} moves that issue to another project at that time (same id, the target's next key, `Key` and
`project` changelog items; the old key keeps resolving), as a user does between two ingestion runs;
`jira_story_points_values`: {"API-3": "XL", "API-4": {"value": "L", "id": "10043"}} serves those values in
the estimation field instead of a number (a text or select field used for estimates); `jira_repeat_page_token`: true makes search/jql and changelog/bulkfetch hand out the same
`nextPageToken` on every page (paging that never ends, as a broken proxy or cache can cause).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, overload
from zoneinfo import ZoneInfo

from mock_apis.atlassian_oauth import check_ex_jira
from mock_apis.jira_data import (
    CATEGORIES,
    FLAGGED_FIELD,
    IMPEDIMENT,
    PRIORITIES,
    SPRINT_FIELD,
    STORY_POINT_ESTIMATE_FIELD,
    STORY_POINTS_FIELD,
    History,
    JiraData,
    JiraIssue,
    JiraStatus,
    Sprint,
    jira_data,
    with_moved_issue,
)
from mock_apis.org import Person
from mock_apis.server import MockState, Request, Response, Router

SITE = "https://acme.atlassian.net"  # what `self` links point at, as on a real site
EMBEDDED_HISTORIES = 40  # search embeds at most this many (the most recent) histories per issue
SEARCH_PAGE_WITH_FIELDS = 100  # the most issues a search page returns when fields or expansions are asked for
SEARCH_PAGE_IDS_ONLY = 5000
CHANGELOG_PAGE = 100  # GET /issue/{key}/changelog
BULK_CHANGELOG_MAX_ISSUES = 1000
BULK_CHANGELOG_MAX_RESULTS = 10000

SYSTEM_FIELDS = ["summary", "issuetype", "project", "status", "created", "updated", "resolutiondate", "resolution",
                 "assignee", "reporter", "parent", "labels", "priority"]
CUSTOM_FIELDS = [STORY_POINT_ESTIMATE_FIELD, STORY_POINTS_FIELD, SPRINT_FIELD, FLAGGED_FIELD]
ALL_FIELDS = SYSTEM_FIELDS + CUSTOM_FIELDS
FIELD_NAMES = {
    "summary": "Summary", "issuetype": "Issue Type", "project": "Project", "status": "Status", "created": "Created",
    "updated": "Updated", "resolutiondate": "Resolved", "resolution": "Resolution", "assignee": "Assignee",
    "reporter": "Reporter", "parent": "Parent", "labels": "Labels", "priority": "Priority",
    STORY_POINT_ESTIMATE_FIELD: "Story point estimate", STORY_POINTS_FIELD: "Story Points",
    SPRINT_FIELD: "Sprint", FLAGGED_FIELD: "Flagged",
}


def _error(status: int, *messages: str) -> Response:
    return Response(status, {"errorMessages": list(messages), "errors": {}})


# ----------------------------------------------------------------------------------------------------------
# Formatting


def jira_time(value: datetime | None, zone: ZoneInfo) -> str | None:
    """Jira's REST timestamp: milliseconds and the user's UTC offset without a colon."""
    if value is None:
        return None
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")


def agile_time(value: datetime | None, zone: ZoneInfo) -> str | None:
    """The Agile API writes the offset with a colon (`+10:00`), as its spec examples show."""
    text = jira_time(value, zone)
    return None if text is None else text[:-2] + ":" + text[-2:]


def utc_time(value: datetime | None) -> str | None:
    """Sprint objects inside issue fields carry UTC times with a `Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _user(person: Person | None, zone: ZoneInfo) -> dict[str, Any] | None:
    if person is None:
        return None
    return {
        "self": f"{SITE}/rest/api/3/user?accountId={person.account_id}",
        "accountId": person.account_id,
        "displayName": person.display_name,
        "active": True,
        "timeZone": zone.key,
        "accountType": "atlassian",
    }


def _status(status: JiraStatus) -> dict[str, Any]:
    category = CATEGORIES[status.category]
    return {
        "self": f"{SITE}/rest/api/3/status/{status.id}",
        "description": "",
        "iconUrl": f"{SITE}/images/icons/status_generic.gif",
        "name": status.name,
        "id": status.id,
        "statusCategory": {"self": f"{SITE}/rest/api/3/statuscategory/{category['id']}", **category},
    }


def _sprint_in_field(sprint: Sprint) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sprint.id, "name": sprint.name, "state": sprint.state, "boardId": sprint.board_id,
                           "goal": sprint.goal}
    if sprint.start is not None:
        out["startDate"] = utc_time(sprint.start)
        out["endDate"] = utc_time(sprint.end)
    if sprint.complete is not None:
        out["completeDate"] = utc_time(sprint.complete)
    return out


def _agile_sprint(sprint: Sprint, zone: ZoneInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sprint.id, "self": f"{SITE}/rest/agile/1.0/sprint/{sprint.id}",
                           "state": sprint.state, "name": sprint.name}
    if sprint.start is not None:
        out["startDate"] = agile_time(sprint.start, zone)
        out["endDate"] = agile_time(sprint.end, zone)
    if sprint.complete is not None:
        out["completeDate"] = agile_time(sprint.complete, zone)
    out["createdDate"] = agile_time(sprint.created, zone)
    out["originBoardId"] = sprint.board_id
    out["goal"] = sprint.goal
    return out


def _issue_type(issue: JiraIssue) -> dict[str, Any]:
    t = issue.issue_type
    return {"self": f"{SITE}/rest/api/3/issuetype/{t.id}", "id": t.id, "description": "", "name": t.name,
            "subtask": t.subtask, "hierarchyLevel": -1 if t.subtask else 0,
            "iconUrl": f"{SITE}/images/icons/issuetypes/{t.name.lower()}.svg"}


def _field_value(issue: JiraIssue, field_id: str, data: JiraData, zone: ZoneInfo, bug: str | None) -> Any:
    if field_id == "summary":
        return issue.summary
    if field_id == "issuetype":
        return _issue_type(issue)
    if field_id == "project":
        p = issue.project
        return {"self": f"{SITE}/rest/api/3/project/{p.project_id}", "id": p.project_id, "key": p.key,
                "name": p.name, "projectTypeKey": "software", "simplified": False}
    if field_id == "status":
        status = _status(issue.status)
        if bug == "status_without_category":
            del status["statusCategory"]
        return status
    if field_id == "created":
        return jira_time(issue.created, zone)
    if field_id == "updated":
        return jira_time(issue.updated, zone)
    if field_id == "resolutiondate":
        return jira_time(issue.resolved, zone)
    if field_id == "resolution":
        if issue.resolution is None:
            return None
        return {"self": f"{SITE}/rest/api/3/resolution/{issue.resolution['id']}", **issue.resolution}
    if field_id == "assignee":
        return _user(issue.assignee, zone)
    if field_id == "reporter":
        return _user(issue.reporter, zone)
    if field_id == "parent":
        if issue.parent is None:
            return None
        parent = issue.parent
        return {"id": str(parent.id), "key": parent.key, "self": f"{SITE}/rest/api/3/issue/{parent.id}",
                "fields": {"summary": parent.summary, "status": _status(parent.status),
                           "issuetype": _issue_type(parent)}}
    if field_id == "labels":
        return list(issue.labels)
    if field_id == "priority":
        pid = PRIORITIES[issue.priority]
        return {"self": f"{SITE}/rest/api/3/priority/{pid}", "iconUrl": f"{SITE}/images/icons/priorities/{pid}.svg",
                "name": issue.priority, "id": pid}
    if field_id == STORY_POINT_ESTIMATE_FIELD:
        return issue.points
    if field_id == STORY_POINTS_FIELD:
        return None  # the classic field exists on the site but no board estimates with it
    if field_id == SPRINT_FIELD:
        return [_sprint_in_field(data.sprints[i]) for i in issue.sprint_ids] or None
    if field_id == FLAGGED_FIELD:
        if not issue.flagged:
            return None
        return [{"self": f"{SITE}/rest/api/3/customFieldOption/{IMPEDIMENT['id']}", **IMPEDIMENT}]
    return None


def _history(history: History, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": str(history.id),
        "author": _user(history.author, zone),
        "created": jira_time(history.created, zone),
        "items": [
            {"field": i.field, "fieldtype": i.fieldtype, "fieldId": i.field_id, "from": i.from_value,
             "fromString": i.from_string, "to": i.to_value, "toString": i.to_string}
            for i in history.items
        ],
    }


def _selected_fields(requested: Iterable[str]) -> list[str] | None:
    """Jira's `fields` semantics: ids, `*all`/`*navigable`, `-x` exclusions; None means only `id`."""
    names = [n.strip() for item in requested for n in str(item).split(",") if n.strip()]
    if not names or names == ["id"]:
        return None
    chosen: list[str] = []
    excluded = {n[1:] for n in names if n.startswith("-")}
    for name in names:
        if name in ("*all", "*navigable"):
            chosen.extend(f for f in ALL_FIELDS if f not in chosen)
        elif not name.startswith("-") and name in ALL_FIELDS and name not in chosen:
            chosen.append(name)
    return [f for f in chosen if f not in excluded]


def issue_json(issue: JiraIssue, fields: list[str] | None, expand: set[str], data: JiraData, zone: ZoneInfo,
               bug: str | None = None) -> dict[str, Any]:
    if fields is None and not expand:
        return {"id": str(issue.id)}
    out: dict[str, Any] = {"expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
                           "id": str(issue.id), "self": f"{SITE}/rest/api/3/issue/{issue.id}", "key": issue.key}
    values = {f: _field_value(issue, f, data, zone, bug) for f in fields or []}
    if bug == "issue_without_updated":
        values.pop("updated", None)
    out["fields"] = values
    if "changelog" in expand:
        recent = issue.histories[-EMBEDDED_HISTORIES:][::-1]  # the most recent first, as search embeds them
        out["changelog"] = {"startAt": 0, "maxResults": len(recent), "total": len(issue.histories),
                            "histories": [_history(h, zone) for h in recent]}
    return out


# ----------------------------------------------------------------------------------------------------------
# A small JQL subset: project in (A, B) / project = A, updated|created <op> "date", AND, ORDER BY.


class JqlError(ValueError):
    pass


_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>>=|<=|!=|=|>|<)|'
                    r'(?P<punct>[(),])|(?P<word>[A-Za-z0-9_.\-/:]+))')
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")
_ORDERABLE = {"updated", "created", "key", "issuekey", "id"}


def _tokens(jql: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = jql.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise JqlError(f"Error in the JQL Query: The character '{text[pos:].strip()[:1]}' is a reserved JQL "
                           f"character. (line 1, character {pos + 1})")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            value = value[1:-1]
        out.append((kind, value))
        pos = match.end()
    return out


class JqlQuery:
    def __init__(self, jql: str, zone: ZoneInfo, known_projects: set[str]):
        self.projects: set[str] | None = None
        self.bounds: list[tuple[str, str, datetime]] = []  # (field, op, utc instant)
        self.order: list[tuple[str, bool]] = []  # (field, descending)
        tokens = _tokens(jql)
        i = 0

        def peek(k: int = 0) -> tuple[str, str]:
            return tokens[i + k] if i + k < len(tokens) else ("", "")

        def word(tok: tuple[str, str]) -> str:
            return tok[1].lower() if tok[0] == "word" else ""

        restricted = False
        while i < len(tokens) and word(peek()) != "order":
            if restricted:
                if word(peek()) != "and":
                    raise JqlError(f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{peek()[1]}'.")
                i += 1
            name = word(peek())
            if name == "project":
                op = peek(1)
                if op == ("op", "="):
                    values = [peek(2)[1]]
                    i += 3
                elif word(op) == "in" and peek(2) == ("punct", "("):
                    i += 3
                    values = []
                    while True:
                        kind, value = peek()
                        if kind not in ("word", "str"):
                            raise JqlError("Error in the JQL Query: Expecting a value in the project list.")
                        values.append(value)
                        i += 1
                        if peek() == ("punct", ","):
                            i += 1
                            continue
                        if peek() == ("punct", ")"):
                            i += 1
                            break
                        raise JqlError("Error in the JQL Query: Expecting ',' or ')' in the project list.")
                else:
                    raise JqlError(f"Error in the JQL Query: unsupported operator '{op[1]}' for field 'project'.")
                for value in values:
                    if value.upper() not in known_projects:
                        raise JqlError(f"The value '{value}' does not exist for the field 'project'.")
                chosen = {v.upper() for v in values}
                self.projects = chosen if self.projects is None else self.projects & chosen
            elif name in ("updated", "created", "updateddate", "createddate"):
                operator = peek(1)
                operand = peek(2)
                if operator[0] != "op" or operator[1] not in (">=", "<=", ">", "<", "="):
                    raise JqlError(f"Error in the JQL Query: unsupported operator '{operator[1]}' for field '{name}'.")
                if operand[0] not in ("word", "str"):
                    raise JqlError(f"Error in the JQL Query: Expecting a date after '{operator[1]}'.")
                self.bounds.append((name.removesuffix("date"), operator[1], _jql_date(operand[1], name, zone)))
                i += 3
            else:
                raise JqlError(f"Field '{peek()[1]}' does not exist or this field cannot be viewed by anonymous users.")
            restricted = True
        if i < len(tokens):
            if word(peek(1)) != "by":
                raise JqlError("Error in the JQL Query: Expecting 'BY' after 'ORDER'.")
            i += 2
            while i < len(tokens):
                name = word(peek())
                if name not in _ORDERABLE:
                    raise JqlError(f"Not able to sort using field '{peek()[1]}'.")
                i += 1
                descending = False
                if word(peek()) in ("asc", "desc"):
                    descending = word(peek()) == "desc"
                    i += 1
                self.order.append(({"issuekey": "key"}.get(name, name), descending))
                if peek() == ("punct", ","):
                    i += 1
                elif i < len(tokens):
                    raise JqlError(f"Error in the JQL Query: Expecting ',' but got '{peek()[1]}'.")
        if not restricted:
            raise JqlError("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")

    def run(self, data: JiraData) -> list[JiraIssue]:
        lo = hi = None
        for fld, op, when in self.bounds:
            if fld == "updated" and op in (">=", ">"):
                lo = when if lo is None else max(lo, when)
            if fld == "updated" and op in ("<", "<="):
                hi = when if hi is None else min(hi, when)
        # Narrow by the updated bounds (inclusive here; the exact comparison is in _matches).
        candidates = data.issues_updated_between(lo, None if hi is None else hi + timedelta(milliseconds=1))
        result = [i for i in candidates if self._matches(i)]
        keys: list[tuple[str, bool]] = self.order or [("key", True)]  # Jira's default order for this subset
        for name, descending in reversed(keys):
            result.sort(key=_sort_key(name), reverse=descending)
        return result

    def _matches(self, issue: JiraIssue) -> bool:
        if self.projects is not None and issue.project.key not in self.projects:
            return False
        for fld, op, when in self.bounds:
            value = issue.updated if fld == "updated" else issue.created
            if not _compare(value, op, when):
                return False
        return True


class _HugeIssues(Sequence[JiraIssue]):
    """The org's matches followed by a huge day's (mock_apis/huge_day.py), built only when paged to."""

    def __init__(self, regular: list[JiraIssue], huge: Any, indices: range, project: Any, reporter: Person):
        self.regular, self.huge, self.indices, self.project, self.reporter = regular, huge, indices, project, reporter

    def __len__(self) -> int:
        return len(self.regular) + len(self.indices)

    def _item(self, position: int) -> JiraIssue:
        if position < len(self.regular):
            return self.regular[position]
        return self.huge.jira_issue(self.indices[position - len(self.regular)], self.project, self.reporter)

    @overload
    def __getitem__(self, index: int) -> JiraIssue: ...

    @overload
    def __getitem__(self, index: slice) -> list[JiraIssue]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(len(self)))]
        return self._item(index if index >= 0 else len(self) + index)


def _with_huge_day(huge: Any, query: JqlQuery, regular: list[JiraIssue], data: JiraData) -> Sequence[JiraIssue]:
    """A huge day's issues that `query` finds (its project and `updated` bounds; ORDER BY key puts them last)."""
    project = next((p for p in data.org.projects if p.key == huge.project), None)
    if project is None or (query.projects is not None and huge.project not in query.projects):
        return regular
    created = huge.start - timedelta(days=10)
    lower = [(op, when) for fld, op, when in query.bounds if fld == "updated" and op in (">=", ">")]
    upper = [(op, when) for fld, op, when in query.bounds if fld == "updated" and op in ("<", "<=")]
    if not all(_compare(created, op, when) for fld, op, when in query.bounds if fld == "created"):
        return regular
    every = range(huge.jira_issues)
    first = bisect.bisect_left(every, True, key=lambda i: all(_compare(huge.jira_updated_at(i), op, when)
                                                              for op, when in lower))
    stop = bisect.bisect_left(every, True, key=lambda i: not all(_compare(huge.jira_updated_at(i), op, when)
                                                                 for op, when in upper))
    if first >= stop:
        return regular
    return _HugeIssues(regular, huge, range(first, stop), project, data.org.people[0])


def _sort_key(name: str) -> Callable[[JiraIssue], Any]:
    if name == "updated":
        return lambda i: i.updated
    if name == "created":
        return lambda i: i.created
    if name == "id":
        return lambda i: i.id
    return lambda i: (i.project.key, int(i.key.rsplit("-", 1)[1]))


def _compare(value: datetime, op: str, when: datetime) -> bool:
    if op == ">=":
        return value >= when
    if op == ">":
        return value > when
    if op == "<=":
        return value <= when
    if op == "<":
        return value < when
    return value == when


def _jql_date(text: str, field_name: str, zone: ZoneInfo) -> datetime:
    """A JQL date has no zone: Jira reads it in the searching user's profile time zone."""
    for fmt in _DATE_FORMATS:
        try:
            local = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        # An ambiguous or skipped wall time resolves like java.time's ZonedDateTime.of (fold=0 here).
        return local.replace(tzinfo=zone).astimezone(UTC)
    raise JqlError(f"Date value '{text}' for field '{field_name}' is invalid. Valid formats include: "
                   "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format "
                   "e.g. '-5d', '4w 2d'.")


# ----------------------------------------------------------------------------------------------------------
# Page tokens: opaque to the client, bound to the query that produced them.


def _token(kind: str, query: str, offset: int) -> str:
    digest = hashlib.sha1(f"{kind}:{query}".encode()).hexdigest()[:12]
    return base64.urlsafe_b64encode(json.dumps({"k": digest, "o": offset}).encode()).decode().rstrip("=")


def _offset(kind: str, query: str, token: str | None) -> int | None:
    if not token:
        return 0
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw["k"] != hashlib.sha1(f"{kind}:{query}".encode()).hexdigest()[:12]:
            return None
        return int(raw["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def _int_arg(value: Any, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


# ----------------------------------------------------------------------------------------------------------
# Routes


def register(router: Router, state: MockState) -> None:
    def data() -> JiraData:
        base = jira_data(state.org)
        with state.lock:
            move = state.switches.get("jira_move_issue")
        if not move:
            return base
        signature = json.dumps(move, sort_keys=True)
        cached = state.extra.get("jira_moved")
        if cached is None or cached[0] != signature or cached[1] is not base:
            moved = with_moved_issue(base, str(move["key"]), str(move["to"]),
                                     datetime.fromisoformat(str(move["at"]).replace("Z", "+00:00")))
            cached = (signature, base, moved)
            state.extra["jira_moved"] = cached
        return cached[2]

    def zone() -> ZoneInfo:
        return ZoneInfo(state.jira_timezone)

    def authorized(req: Request) -> bool:
        header = req.headers.get("authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer "):] == state.jira_token
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[len("Basic "):]).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"{state.jira_email}:{state.jira_token}"
        return False

    def route(method: str, pattern: str, counter: str,
              handler: Callable[[Request, re.Match[str]], Response]) -> None:
        def guarded(req: Request, match: re.Match[str]) -> Response:
            state.count(counter)
            if not authorized(req):
                return _error(401, "Client must be authenticated to access this resource.")
            return handler(req, match)

        def via_gateway(req: Request, match: re.Match[str]) -> Response:
            """OAuth 2.0 (3LO): api.atlassian.com/ex/jira/{cloudid}/rest/... with an access token."""
            state.count(counter)
            _ex, _jira, cloud_id, rest = req.path.lstrip("/").split("/", 3)
            refused = check_ex_jira(req, state, cloud_id, "/" + rest)
            return refused if refused is not None else handler(req, match)

        router.add(method, pattern, guarded)
        router.add(method, r"/ex/jira/[^/]+" + pattern, via_gateway)

    def switch(name: str) -> str | None:
        with state.lock:
            value = state.switches.get(name)
        return str(value) if value is not None else None

    # -- search ------------------------------------------------------------------------------------------
    def search(params: dict[str, Any]) -> Response:
        jql = params.get("jql") or ""
        fields = _selected_fields(params.get("fields") or [])
        expand = {e.strip() for e in str(params.get("expand") or "").split(",") if e.strip()}
        max_results = max(1, _int_arg(params.get("maxResults"), 50))
        page_cap = SEARCH_PAGE_IDS_ONLY if fields is None and not expand else SEARCH_PAGE_WITH_FIELDS
        page_size = min(max_results, page_cap)
        jdata = data()
        try:
            query = JqlQuery(jql, zone(), {p.key for p in state.org.projects})
        except JqlError as exc:
            return _error(400, str(exc))
        signature = json.dumps([jql, fields, sorted(expand)])
        offset = _offset("search", signature, params.get("nextPageToken"))
        if offset is None:
            return _error(400, "The nextPageToken is invalid or does not belong to this query.")
        issues: Sequence[JiraIssue] = query.run(jdata)
        huge = state.extra.get("huge_day")
        if huge is not None and huge.jira_issues > 0:
            issues = _with_huge_day(huge, query, list(issues), jdata)
        page = issues[offset: offset + page_size]
        tz = zone()
        bug = switch("jira_payload_bug")
        body: dict[str, Any] = {"issues": [issue_json(i, fields, expand, jdata, tz, bug) for i in page]}
        with state.lock:
            odd_points = dict(state.switches.get("jira_story_points_values") or {})
        for item in body["issues"]:
            if item.get("key") in odd_points and STORY_POINT_ESTIMATE_FIELD in item.get("fields", {}):
                item["fields"][STORY_POINT_ESTIMATE_FIELD] = odd_points[item["key"]]
        if "names" in expand and fields:
            body["names"] = {f: FIELD_NAMES[f] for f in fields}
        if offset + page_size < len(issues) or switch("jira_repeat_page_token"):
            stuck = page_size if switch("jira_repeat_page_token") else offset + page_size
            body["nextPageToken"] = _token("search", signature, stuck)
            body["isLast"] = False
        else:
            body["isLast"] = True
        return Response(body=body)

    def search_get(req: Request, _m: re.Match[str]) -> Response:
        return search({
            "jql": req.arg("jql"), "fields": req.query.get("fields", []), "expand": req.arg("expand"),
            "maxResults": req.arg("maxResults"), "nextPageToken": req.arg("nextPageToken"),
        })

    allowed_body = {"jql", "fields", "expand", "maxResults", "nextPageToken", "properties", "fieldsByKeys",
                    "reconcileIssues"}

    def search_post(req: Request, _m: re.Match[str]) -> Response:
        try:
            body = req.json() or {}
        except ValueError:
            return _error(400, "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        unknown = sorted(set(body) - allowed_body)
        if unknown:
            return _error(400, f"Unrecognized field \"{unknown[0]}\".")
        fields = body.get("fields") or []
        if not isinstance(fields, list):
            return _error(400, "`fields` must be an array of strings.")
        return search({**body, "fields": fields})

    def search_removed(_req: Request, _m: re.Match[str]) -> Response:
        return _error(410, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                           "A full migration guideline is available at "
                           "https://developer.atlassian.com/changelog/#CHANGE-2046")

    route("GET", r"/rest/api/3/search/jql", "jira:search", search_get)
    route("POST", r"/rest/api/3/search/jql", "jira:search", search_post)
    route("GET", r"/rest/api/3/search", "jira:search_removed", search_removed)
    route("POST", r"/rest/api/3/search", "jira:search_removed", search_removed)

    # -- changelogs --------------------------------------------------------------------------------------
    def find_issue(id_or_key: str) -> JiraIssue | None:
        jdata = data()
        return jdata.by_key.get(id_or_key.upper()) or jdata.by_id.get(id_or_key)

    def issue_changelog(req: Request, match: re.Match[str]) -> Response:
        issue = find_issue(match.group(1))
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        start = max(0, _int_arg(req.arg("startAt"), 0))
        size = min(CHANGELOG_PAGE, max(1, _int_arg(req.arg("maxResults"), CHANGELOG_PAGE)))
        histories = issue.histories[start: start + size]
        tz = zone()
        base = f"{SITE}/rest/api/3/issue/{issue.key}/changelog"
        last = start + size >= len(issue.histories)
        body: dict[str, Any] = {"self": f"{base}?startAt={start}&maxResults={size}", "maxResults": size,
                                "startAt": start, "total": len(issue.histories), "isLast": last,
                                "values": [_history(h, tz) for h in histories]}
        if not last:
            body["nextPage"] = f"{base}?startAt={start + size}&maxResults={size}"
        return Response(body=body)

    def bulk_changelog(req: Request, _m: re.Match[str]) -> Response:
        try:
            body = req.json() or {}
        except ValueError:
            return _error(400, "The request body is not valid JSON.")
        ids = body.get("issueIdsOrKeys") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids:
            return _error(400, "issueIdsOrKeys must contain at least one issue ID or key.")
        if len(ids) > BULK_CHANGELOG_MAX_ISSUES:
            return _error(400, f"issueIdsOrKeys cannot contain more than {BULK_CHANGELOG_MAX_ISSUES} items.")
        field_ids = body.get("fieldIds") or []
        if len(field_ids) > 10:
            return _error(400, "fieldIds cannot contain more than 10 items.")
        max_results = _int_arg(body.get("maxResults"), 1000)
        if not 1 <= max_results <= BULK_CHANGELOG_MAX_RESULTS:
            return _error(400, f"maxResults must be between 1 and {BULK_CHANGELOG_MAX_RESULTS}.")
        issues = {i.id: i for i in (find_issue(str(x)) for x in ids) if i is not None}
        # Oldest change first, then the smallest issue id (the spec's order for this endpoint).
        entries = sorted(((h.created, issue.id, h) for issue in issues.values() for h in issue.histories),
                         key=lambda e: (e[0], e[1], e[2].id))
        tz = zone()
        signature = json.dumps([sorted(issues), sorted(field_ids), max_results])
        offset = _offset("bulk", signature, body.get("nextPageToken"))
        if offset is None:
            return _error(400, "The nextPageToken is invalid or does not belong to this query.")
        page = entries[offset: offset + max_results]
        grouped: list[dict[str, Any]] = []
        for _created, issue_id, history in page:
            entry = _history(history, tz)
            if field_ids:
                entry["items"] = [i for i in entry["items"] if i["fieldId"] in field_ids]
                if not entry["items"]:
                    continue
            if not grouped or grouped[-1]["issueId"] != str(issue_id):
                grouped.append({"issueId": str(issue_id), "changeHistories": []})
            grouped[-1]["changeHistories"].append(entry)
        out: dict[str, Any] = {"issueChangeLogs": grouped}
        if offset + max_results < len(entries) or switch("jira_repeat_page_token"):
            stuck = max_results if switch("jira_repeat_page_token") else offset + max_results
            out["nextPageToken"] = _token("bulk", signature, stuck)
        return Response(body=out)

    route("GET", r"/rest/api/3/issue/([A-Za-z0-9_-]+)/changelog", "jira:changelog_issue", issue_changelog)
    route("POST", r"/rest/api/3/changelog/bulkfetch", "jira:changelog_bulk", bulk_changelog)

    # -- fields, statuses, the user ----------------------------------------------------------------------
    def fields_list(_req: Request, _m: re.Match[str]) -> Response:
        out = []
        for fid in SYSTEM_FIELDS:
            out.append({"id": fid, "key": fid, "name": FIELD_NAMES[fid], "custom": False, "orderable": True,
                        "navigable": True, "searchable": True, "clauseNames": [fid],
                        "schema": {"type": "string", "system": fid}})
        custom = {
            STORY_POINT_ESTIMATE_FIELD: ({"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points"},
                                         ["cf[10016]", "Story point estimate"]),
            STORY_POINTS_FIELD: ({"type": "number",
                                  "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"},
                                 ["cf[10026]", "Story Points", "Story Points[Number]"]),
            SPRINT_FIELD: ({"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint"},
                           ["cf[10020]", "Sprint"]),
            FLAGGED_FIELD: ({"type": "array", "items": "option",
                             "custom": "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes"},
                            ["cf[10021]", "Flagged", "Flagged[Checkboxes]"]),
        }
        for fid, (schema, clauses) in custom.items():
            number = int(fid.rsplit("_", 1)[1])
            out.append({"id": fid, "key": fid, "name": FIELD_NAMES[fid], "untranslatedName": FIELD_NAMES[fid],
                        "custom": True, "orderable": True, "navigable": True, "searchable": True,
                        "clauseNames": clauses, "schema": {**schema, "customId": number}})
        return Response(body=out)

    def statuses(_req: Request, _m: re.Match[str]) -> Response:
        out = [_status(s) for s in data().statuses]
        if switch("jira_payload_bug") == "status_without_category":
            for s in out:
                del s["statusCategory"]
        return Response(body=out)

    def myself(_req: Request, _m: re.Match[str]) -> Response:
        return Response(body={
            "self": f"{SITE}/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d0bot",
            "accountId": "5b10ac8d82e05b22cc7d0bot", "accountType": "atlassian", "active": True,
            "displayName": "Metrics Bot", "emailAddress": state.jira_email, "timeZone": state.jira_timezone,
            "locale": "en_US",
        })

    route("GET", r"/rest/api/3/field", "jira:field", fields_list)
    route("GET", r"/rest/api/3/status", "jira:status", statuses)
    route("GET", r"/rest/api/3/myself", "jira:myself", myself)

    # -- Agile -------------------------------------------------------------------------------------------
    def board_project(board_id: int):
        for project in state.org.projects:
            if project.board_id == board_id:
                return project
        return None

    def no_board() -> Response:
        return _error(404, "Board does not exist or you do not have permission to see it.")

    def board(_req: Request, match: re.Match[str]) -> Response:
        project = board_project(int(match.group(1)))
        if project is None:
            return no_board()
        return Response(body={
            "id": project.board_id, "self": f"{SITE}/rest/agile/1.0/board/{project.board_id}",
            "name": f"{project.key} board", "type": "scrum",
            "location": {"projectId": int(project.project_id), "displayName": f"{project.name} ({project.key})",
                         "projectName": project.name, "projectKey": project.key, "projectTypeKey": "software",
                         "name": f"{project.name} ({project.key})"},
        })

    def board_configuration(_req: Request, match: re.Match[str]) -> Response:
        project = board_project(int(match.group(1)))
        if project is None:
            return no_board()
        body: dict[str, Any] = {
            "id": project.board_id, "name": f"{project.key} board", "type": "scrum",
            "self": f"{SITE}/rest/agile/1.0/board/{project.board_id}/configuration",
            "location": {"type": "project", "key": project.key, "id": project.project_id,
                         "self": f"{SITE}/rest/api/3/project/{project.project_id}", "name": project.name},
            "filter": {"id": str(10000 + (project.board_id or 0)),
                       "self": f"{SITE}/rest/api/3/filter/{10000 + (project.board_id or 0)}"},
            "columnConfig": {"columns": [
                {"name": "To Do", "statuses": [{"id": "10000", "self": f"{SITE}/rest/api/3/status/10000"}]},
                {"name": "In Progress", "statuses": [{"id": s, "self": f"{SITE}/rest/api/3/status/{s}"}
                                                     for s in ("3", "10002")]},
                {"name": "In Review", "statuses": [{"id": "10001", "self": f"{SITE}/rest/api/3/status/10001"}]},
                {"name": "Done", "statuses": [{"id": "10003", "self": f"{SITE}/rest/api/3/status/10003"}]},
            ], "constraintType": "issueCount"},
            "ranking": {"rankCustomFieldId": 10019},
        }
        estimation = switch("jira_board_estimation") or "field"
        if estimation == "field":
            body["estimation"] = {"type": "field", "field": {"fieldId": STORY_POINT_ESTIMATE_FIELD,
                                                             "displayName": "Story point estimate"}}
        elif estimation == "issueCount":
            body["estimation"] = {"type": "issueCount"}
        return Response(body=body)

    def board_sprints(req: Request, match: re.Match[str]) -> Response:
        board_id = int(match.group(1))
        if board_project(board_id) is None:
            return no_board()
        sprints = data().board_sprints.get(board_id, [])
        wanted = {s.strip() for s in (req.arg("state") or "").split(",") if s.strip()}
        if wanted:
            sprints = [s for s in sprints if s.state in wanted]
        start = max(0, _int_arg(req.arg("startAt"), 0))
        size = min(50, max(1, _int_arg(req.arg("maxResults"), 50)))
        page = sprints[start: start + size]
        tz = zone()
        return Response(body={"maxResults": size, "startAt": start, "isLast": start + size >= len(sprints),
                              "values": [_agile_sprint(s, tz) for s in page]})

    def sprint_issues(req: Request, match: re.Match[str]) -> Response:
        sprint_id = int(match.group(1))
        jdata = data()
        if sprint_id not in jdata.sprints:
            return _error(404, "Sprint does not exist or you do not have permission to see it.")
        issues = [i for i in jdata.issues if sprint_id in i.sprint_ids]
        start = max(0, _int_arg(req.arg("startAt"), 0))
        size = min(50, max(1, _int_arg(req.arg("maxResults"), 50)))
        fields = _selected_fields(req.query.get("fields", [])) or list(ALL_FIELDS)
        tz = zone()
        return Response(body={"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(issues),
                              "issues": [issue_json(i, fields, set(), jdata, tz) for i in issues[start: start + size]]})

    route("GET", r"/rest/agile/1.0/board/(\d+)", "jira:board", board)
    route("GET", r"/rest/agile/1.0/board/(\d+)/configuration", "jira:board_configuration", board_configuration)
    route("GET", r"/rest/agile/1.0/board/(\d+)/sprint", "jira:board_sprints", board_sprints)
    route("GET", r"/rest/agile/1.0/sprint/(\d+)/issue", "jira:sprint_issues", sprint_issues)
