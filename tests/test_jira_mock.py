"""The mock Jira Cloud answers as Jira's OpenAPI specs (the subsets in mock_apis/specs/) say, over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from mock_apis.jira import EMBEDDED_HISTORIES, jira_time
from mock_apis.jira_data import jira_data
from mock_apis.server import MockApi

SPECS = Path(__file__).resolve().parents[1] / "mock_apis" / "specs"


def _session(api: MockApi) -> requests.Session:
    session = requests.Session()
    session.auth = (api.state.jira_email, api.state.jira_token)
    return session


def _spec_paths() -> dict:
    return json.loads((SPECS / "jira-platform-v3.subset.json").read_text(encoding="utf-8"))["paths"]


def test_routes_exist_in_the_specs() -> None:
    paths = _spec_paths()
    for path, method in [("/rest/api/3/search/jql", "get"), ("/rest/api/3/search/jql", "post"),
                         ("/rest/api/3/changelog/bulkfetch", "post"),
                         ("/rest/api/3/issue/{issueIdOrKey}/changelog", "get"), ("/rest/api/3/field", "get"),
                         ("/rest/api/3/status", "get"), ("/rest/api/3/myself", "get")]:
        assert method in paths[path]
    assert paths["/rest/api/3/search"]["get"]["deprecated"] is True
    agile = json.loads((SPECS / "jira-software-agile.subset.json").read_text(encoding="utf-8"))["paths"]
    for path in ("/rest/agile/1.0/board/{boardId}", "/rest/agile/1.0/board/{boardId}/configuration",
                 "/rest/agile/1.0/board/{boardId}/sprint", "/rest/agile/1.0/sprint/{sprintId}/issue"):
        assert "get" in agile[path]


def test_auth_basic_or_bearer_else_401(mock_api: MockApi) -> None:
    url = mock_api.url + "/rest/api/3/myself"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=(mock_api.state.jira_email, "wrong"), timeout=10).status_code == 401
    assert requests.get(url, auth=(mock_api.state.jira_email, mock_api.state.jira_token), timeout=10).ok
    bearer = requests.get(url, headers={"Authorization": f"Bearer {mock_api.state.jira_token}"}, timeout=10)
    assert bearer.ok and bearer.json()["timeZone"] == "America/Los_Angeles"


def test_removed_search_answers_410(mock_api: MockApi) -> None:
    s = _session(mock_api)
    for method in ("GET", "POST"):
        r = s.request(method, mock_api.url + "/rest/api/3/search", params={"jql": "project = API"}, timeout=10)
        assert r.status_code == 410
        assert "/rest/api/3/search/jql" in r.json()["errorMessages"][0]


def test_search_jql_pages_with_next_page_token(mock_api: MockApi) -> None:
    s = _session(mock_api)
    data = jira_data(mock_api.state.org)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"jql": "project in (API, WEB, DATA) ORDER BY key ASC", "maxResults": 40}
        if token:
            params["nextPageToken"] = token
        body = s.get(mock_api.url + "/rest/api/3/search/jql", params=params, timeout=10).json()
        pages += 1
        assert "total" not in body
        assert all(set(issue) == {"id"} for issue in body["issues"])  # only ids without `fields`
        seen += [issue["id"] for issue in body["issues"]]
        if body["isLast"]:
            assert "nextPageToken" not in body
            break
        token = body["nextPageToken"]
    assert pages == -(-len(data.issues) // 40)
    assert sorted(seen) == sorted(str(i.id) for i in data.issues) and len(set(seen)) == len(seen)


def test_search_post_fields_and_truncated_changelog(mock_api: MockApi) -> None:
    s = _session(mock_api)
    data = jira_data(mock_api.state.org)
    longest = max(data.issues, key=lambda i: len(i.histories))
    body = s.post(mock_api.url + "/rest/api/3/search/jql", json={
        "jql": f"project = {longest.project.key} ORDER BY updated DESC", "fields": ["status", "updated",
                                                                                   "customfield_10020"],
        "expand": "changelog", "maxResults": 500}, timeout=10).json()
    assert len(body["issues"]) == 100  # capped per page when fields and the changelog are asked for
    issue = next(i for i in body["issues"] if i["key"] == longest.key)
    assert set(issue["fields"]) == {"status", "updated", "customfield_10020"}
    changelog = issue["changelog"]
    assert changelog["total"] == len(longest.histories) > EMBEDDED_HISTORIES
    assert len(changelog["histories"]) == changelog["maxResults"] == EMBEDDED_HISTORIES
    newest = [h["id"] for h in changelog["histories"]]
    assert newest == [str(h.id) for h in reversed(longest.histories[-EMBEDDED_HISTORIES:])]
    assert issue["fields"]["status"]["statusCategory"]["key"] in ("new", "indeterminate", "done")
    # Timestamps carry the user's offset: Los Angeles is -0700 on this date (PDT).
    assert issue["fields"]["updated"] == jira_time(longest.updated, ZoneInfo("America/Los_Angeles"))
    assert issue["fields"]["updated"].endswith("-0700")
    updated = [i["fields"]["updated"] for i in body["issues"]]
    assert updated == sorted(updated, reverse=True)


def test_jql_dates_are_read_in_the_user_time_zone(mock_api: MockApi) -> None:
    s = _session(mock_api)
    data = jira_data(mock_api.state.org)

    def keys(jql: str) -> set[str]:
        body = s.get(mock_api.url + "/rest/api/3/search/jql", params={"jql": jql, "fields": "updated",
                                                                       "maxResults": 100}, timeout=10).json()
        return {i["key"] for i in body["issues"]}

    jql = 'project in (API, WEB, DATA) AND updated >= "2026-03-20 00:00" AND updated < "2026-03-21 00:00"'
    # America/Los_Angeles on 2026-03-20 is UTC-7: the local day is [07:00Z, 07:00Z next day).
    expected = {i.key for i in data.issues_updated_between(datetime(2026, 3, 20, 7, tzinfo=UTC),
                                                           datetime(2026, 3, 21, 7, tzinfo=UTC))}
    assert keys(jql) == expected and expected
    mock_api.state.jira_timezone = "Asia/Kolkata"  # UTC+5:30: [2026-03-19 18:30Z, 2026-03-20 18:30Z)
    expected = {i.key for i in data.issues_updated_between(datetime(2026, 3, 19, 18, 30, tzinfo=UTC),
                                                           datetime(2026, 3, 20, 18, 30, tzinfo=UTC))}
    assert keys(jql) == expected


@pytest.mark.parametrize("jql,message", [
    ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
    ("order by key desc", "Unbounded JQL queries are not allowed here"),
    ("assignee = currentUser()", "Field 'assignee' does not exist"),
    ('project = API AND updated >= "yesterday"', "Date value 'yesterday' for field 'updated' is invalid"),
])
def test_unknown_jql_is_a_400_with_error_messages(mock_api: MockApi, jql: str, message: str) -> None:
    r = _session(mock_api).get(mock_api.url + "/rest/api/3/search/jql", params={"jql": jql}, timeout=10)
    assert r.status_code == 400
    assert message in r.json()["errorMessages"][0] and r.json()["errors"] == {}


def test_complete_changelogs_oldest_first(mock_api: MockApi) -> None:
    s = _session(mock_api)
    data = jira_data(mock_api.state.org)
    longest = max(data.issues, key=lambda i: len(i.histories))
    expected = [str(h.id) for h in longest.histories]
    # Per issue: startAt/maxResults/total/isLast, at most 100 per page.
    values: list[str] = []
    start = 0
    while True:
        body = s.get(f"{mock_api.url}/rest/api/3/issue/{longest.key}/changelog",
                     params={"startAt": start, "maxResults": 1000}, timeout=10).json()
        assert body["total"] == len(expected) and body["maxResults"] == 100
        values += [h["id"] for h in body["values"]]
        if body["isLast"]:
            break
        start += len(body["values"])
    assert values == expected
    # Bulk: oldest first across issues, continued with nextPageToken.
    other = data.issues[5]
    page_ids: dict[str, list[str]] = {}
    token = None
    while True:
        payload = {"issueIdsOrKeys": [longest.key, str(other.id)], "maxResults": 50}
        if token:
            payload["nextPageToken"] = token
        body = s.post(mock_api.url + "/rest/api/3/changelog/bulkfetch", json=payload, timeout=10).json()
        for entry in body["issueChangeLogs"]:
            page_ids.setdefault(entry["issueId"], []).extend(h["id"] for h in entry["changeHistories"])
        token = body.get("nextPageToken")
        if not token:
            break
    assert page_ids[str(longest.id)] == expected
    assert page_ids.get(str(other.id), []) == [str(h.id) for h in other.histories]
    too_many = s.post(mock_api.url + "/rest/api/3/changelog/bulkfetch",
                      json={"issueIdsOrKeys": [str(i) for i in range(1001)]}, timeout=10)
    assert too_many.status_code == 400


def test_fields_statuses_and_agile(mock_api: MockApi) -> None:
    s = _session(mock_api)
    fields = {f["name"]: f for f in s.get(mock_api.url + "/rest/api/3/field", timeout=10).json()}
    assert fields["Story point estimate"]["id"] == "customfield_10016"
    assert fields["Sprint"]["id"] == "customfield_10020"
    assert fields["Flagged"]["id"] == "customfield_10021"
    statuses = {st["name"]: st["statusCategory"]["key"] for st in s.get(mock_api.url + "/rest/api/3/status",
                                                                        timeout=10).json()}
    assert statuses == {"To Do": "new", "In Progress": "indeterminate", "In Review": "indeterminate",
                        "Blocked": "indeterminate", "Done": "done"}
    board = s.get(mock_api.url + "/rest/agile/1.0/board/12", timeout=10).json()
    assert board["location"]["projectKey"] == "API"
    config = s.get(mock_api.url + "/rest/agile/1.0/board/12/configuration", timeout=10).json()
    assert config["estimation"]["field"]["fieldId"] == "customfield_10016"
    first = s.get(mock_api.url + "/rest/agile/1.0/board/12/sprint", params={"maxResults": 2}, timeout=10).json()
    assert first["isLast"] is False and len(first["values"]) == 2 and first["values"][0]["state"] == "closed"
    closed = first["values"][0]
    assert closed["completeDate"][-6] in "+-" and closed["completeDate"][-3] == ":"  # "+10:00" style offsets
    assert closed["originBoardId"] == 12
    rest = s.get(mock_api.url + "/rest/agile/1.0/board/12/sprint", params={"startAt": 2}, timeout=10).json()
    assert rest["isLast"] is True and [v["state"] for v in rest["values"]][-1] == "future"
    issues = s.get(f"{mock_api.url}/rest/agile/1.0/sprint/{closed['id']}/issue", timeout=10).json()
    assert issues["total"] >= len(issues["issues"]) > 0 and "isLast" not in issues
    assert s.get(mock_api.url + "/rest/agile/1.0/board/999", timeout=10).status_code == 404
    counts = requests.get(mock_api.url + "/_mock/counts", timeout=10).json()
    assert counts["jira:board_sprints"] == 2 and counts["jira:field"] == 1


def test_jql_operators_and_ordering(mock_api: MockApi) -> None:
    s = _session(mock_api)
    data = jira_data(mock_api.state.org)
    mock_api.state.jira_timezone = "UTC"

    def keys(jql: str) -> list[str]:
        body = s.post(mock_api.url + "/rest/api/3/search/jql", json={"jql": jql, "fields": ["updated"],
                                                                     "maxResults": 100}, timeout=10).json()
        return [i["key"] for i in body["issues"]]

    lo, hi = datetime(2026, 3, 20, 6, tzinfo=UTC), datetime(2026, 3, 24, 18, tzinfo=UTC)
    inside = [i for i in data.issues if lo < i.updated <= hi and i.project.key == "WEB"]
    got = keys('project = "WEB" and updated > "2026-03-20 06:00" AND updated <= "2026-03-24 18:00" '
               "ORDER BY updated DESC")
    assert got == [i.key for i in sorted(inside, key=lambda i: i.updated, reverse=True)] and got
    by_key = keys('project in (WEB) AND updated >= "2026/03/20" AND updated < "2026/03/21" order by key asc')
    assert by_key == sorted(by_key, key=lambda k: int(k.split("-")[1]))
