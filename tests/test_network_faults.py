"""What real GitHub and Jira endpoints do beyond the happy path (issue 10), against the mock over real HTTP:
bodies cut off mid-answer, GraphQL timeouts on heavy pages, repositories that cannot be searched (deleted,
renamed), and paging that does not end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from emd.http import ApiError, ApiUnreachableError, RetryPolicy
from mock_apis.github_data import github_data
from mock_apis.jira_data import jira_data
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi
from orchestration.defs.github.resource import GitHubClient
from orchestration.defs.jira.resource import JiraClient

FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_elapsed_s=10, timeout_s=10)
PROJECTS = ["API", "WEB", "DATA"]


def switch(api: MockApi, **values: Any) -> None:
    requests.post(api.url + "/_mock/switch", json=values, timeout=10).raise_for_status()


def counts(api: MockApi) -> dict[str, int]:
    return requests.get(api.url + "/_mock/counts", timeout=10).json()


def github(api: MockApi, policy: RetryPolicy = FAST) -> GitHubClient:
    return GitHubClient("mock-github-token", api.url, policy=policy)


def jira(api: MockApi, policy: RetryPolicy = FAST) -> JiraClient:
    return JiraClient(api.url, api.state.jira_email, api.state.jira_token, policy=policy)


def busiest_day(org: SyntheticOrg, repo: str) -> tuple[datetime, datetime]:
    days: dict[datetime, int] = {}
    for pr in github_data(org).pull_requests:
        if pr["_repo"] == repo:
            day = datetime(pr["_updated"].year, pr["_updated"].month, pr["_updated"].day, tzinfo=UTC)
            days[day] = days.get(day, 0) + 1
    day = max(days, key=lambda d: (days[d], d))
    return day, day + timedelta(days=1)


def expected_numbers(org: SyntheticOrg, repos: list[str], start: datetime, end: datetime) -> list[tuple[str, int]]:
    return sorted((pr["_repo"], pr["number"]) for pr in github_data(org).pull_requests
                  if pr["_repo"] in repos and start <= pr["_updated"] < end)


def numbers(prs: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted((pr["repository"]["nameWithOwner"], pr["number"]) for pr in prs)


# ------------------------------------------------------------------ 1. a connection dropped mid-body

def test_mock_cut_fault_is_a_short_body_then_a_close(mock_api: MockApi) -> None:
    """The fault itself, seen from the wire: a Content-Length longer than what arrives."""
    import http.client

    switch(mock_api, fault_plan=[{"kind": "cut"}])
    host, port = mock_api.server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    conn.request("GET", "/rest/api/3/myself", headers={"Authorization": "Basic eA=="})
    response = conn.getresponse()
    declared = int(response.getheader("Content-Length") or 0)
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert declared > 0 and 0 < len(caught.value.partial) < declared
    conn.close()
    assert counts(mock_api)["fault:cut"] == 1


def test_github_search_survives_bodies_cut_mid_answer(mock_api: MockApi, org: SyntheticOrg) -> None:
    start, end = busiest_day(org, "acme/api")
    switch(mock_api, fault_plan=[{"kind": "cut", "path": "/graphql"}] * 2)
    client = github(mock_api)
    prs = client.pull_requests_updated_between(["acme/api"], start, end)
    assert numbers(prs) == expected_numbers(org, ["acme/api"], start, end) != []
    assert counts(mock_api)["fault:cut"] == 2 and client.stats.retries == 2


def test_jira_search_and_changelog_survive_bodies_cut_mid_answer(mock_api: MockApi) -> None:
    data = jira_data(mock_api.state.org)
    day = max({datetime.combine(i.updated.date(), datetime.min.time(), tzinfo=UTC) for i in data.issues},
              key=lambda d: (len(data.issues_updated_between(d, d + timedelta(days=1))), d))
    switch(mock_api, fault_plan=[{"kind": "cut", "path": "/rest/api/3/search/jql"},
                                 {"kind": "cut", "path": "/rest/api/3/myself"}])
    client = jira(mock_api)
    batch = client.issues_updated_between(PROJECTS, day, day + timedelta(days=1))
    assert {i["key"] for i in batch.issues} == {i.key for i in data.issues_updated_between(day, day + timedelta(days=1))}
    assert counts(mock_api)["fault:cut"] == 2 and client.stats.retries == 2


def test_cut_bodies_count_against_the_same_bounded_budget(mock_api: MockApi) -> None:
    switch(mock_api, fault_plan=[{"kind": "cut", "path": "/rest/"}] * 10)
    client = jira(mock_api, RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02, max_elapsed_s=10,
                                        timeout_s=10))
    with pytest.raises(ApiUnreachableError, match=r"gave up after 3 attempts.*dropped in the middle.*JIRA_BASE_URL"):
        client.myself()
