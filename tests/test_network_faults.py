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


# Two weeks of the default org: 27 PRs of acme/api and 121 of all six repos were updated in it.
START, END = datetime(2026, 3, 17, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)


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


# ------------------------------------------------------------------ 2. GraphQL timeouts on heavy pages

@pytest.mark.parametrize("form", ["null", "502", "504"])
def test_timed_out_search_pages_are_asked_again_smaller(mock_api: MockApi, org: SyntheticOrg, form: str) -> None:
    start, end = START, END
    expected = expected_numbers(org, ["acme/api"], start, end)
    assert len(expected) == 27  # three pages of 12, so the cursor is kept across shrinks
    # Pages of more than 12 results time out: 100 -> 50 -> 25 -> 12 (three shrinks), then every page passes.
    switch(mock_api, github_timeout={"search_above": 12, "form": form})
    client = github(mock_api)
    prs = client.pull_requests_updated_between(["acme/api"], start, end)
    assert numbers(prs) == expected
    c = counts(mock_api)
    assert c["github:timeout"] == 3
    assert (c["github:search_first:100"], c["github:search_first:50"], c["github:search_first:25"]) == (1, 1, 1)
    assert c["github:search_first:12"] == 3  # 27 PRs in pages of 12
    assert client.page_sizes.as_metadata() == {"graphql_timeouts_page_shrinks": 3, "smallest_search_page": 12,
                                               "smallest_nested_page": 100}


def test_nested_page_sizes_shrink_after_the_search_page_reaches_its_floor(mock_api: MockApi,
                                                                           org: SyntheticOrg) -> None:
    start, end = START, END
    assert len(expected_numbers(org, ["acme/api"], start, end)) == 27  # three pages of 10: no growth back
    # Node count of a search page of P PRs with nested pages of Q: P (PRs) + 20P (labels) + 3PQ (reviews,
    # commits, timeline items). Above 2,000 nodes times out: P=10, Q=100 is 3,210; P=10, Q=50 is 1,710.
    switch(mock_api, github_timeout={"nodes_above": 2000})
    client = github(mock_api)
    prs = client.pull_requests_updated_between(["acme/api"], start, end)
    assert numbers(prs) == expected_numbers(org, ["acme/api"], start, end)
    # 100 -> 50 -> 25 -> 12 -> 10 (search), then nested 100 -> 50.
    assert client.page_sizes.as_metadata() == {"graphql_timeouts_page_shrinks": 5, "smallest_search_page": 10,
                                               "smallest_nested_page": 50}
    # PRs with more nested items than a page of 50 were completed by the follow-up queries.
    data = {(pr["_repo"], pr["number"]): pr for pr in github_data(org).pull_requests}
    for pr in prs:
        source = data[(pr["repository"]["nameWithOwner"], pr["number"])]
        assert len(pr["commits"]["nodes"]) == len(source["_commits"])
        assert len(pr["reviews"]["nodes"]) == len(source["_reviews"])


def test_page_sizes_grow_back_after_the_timeouts_stop(mock_api: MockApi, org: SyntheticOrg) -> None:
    repos = sorted(org.config()["github"]["repos"])
    expected = expected_numbers(org, repos, START, END)
    assert len(expected) == 121
    # Two timeouts (100 -> 50 -> 25), then none. 3 pages of 25 (75 PRs) in a row double the page back to 50,
    # and one page of 50 holds the other 46.
    switch(mock_api, github_timeout={"search_above": 12, "times": 2})
    client = github(mock_api)
    assert numbers(client.pull_requests_updated_between(repos, START, END)) == expected
    c = counts(mock_api)
    assert c["github:timeout"] == 2 and client.page_sizes.shrinks == 2
    assert (c["github:search_first:100"], c["github:search_first:50"], c["github:search_first:25"]) == (1, 2, 3)


def test_timeouts_at_the_smallest_page_are_retried_within_the_budget(mock_api: MockApi, org: SyntheticOrg) -> None:
    start, end = START, END
    switch(mock_api, github_timeout={"search_above": 1})  # every page times out, even the smallest
    with pytest.raises(ApiError, match="GitHub kept stopping the pull request search query .* as too slow"):
        github(mock_api).pull_requests_updated_between(["acme/api"], start, end)
    # 100 -> 50 -> 25 -> 12 -> 10, then the nested pages 100 -> 50 -> 25 -> 12 -> 10: 8 shrinks; then the
    # retry budget of 4 attempts at the floor.
    assert counts(mock_api)["github:timeout"] == 8 + 4


# ------------------------------------------------------------------ 4. one bad repository fails no other

def test_a_deleted_repository_is_left_out_and_named(mock_api: MockApi, org: SyntheticOrg) -> None:
    start, end = START, END
    repos = sorted(org.config()["github"]["repos"])
    assert "acme/web" in repos and len(repos) >= 3
    switch(mock_api, github_deleted_repos=["acme/web"])
    client = github(mock_api)
    prs = client.pull_requests_updated_between(repos, start, end)
    others = [r for r in repos if r != "acme/web"]
    assert numbers(prs) == expected_numbers(org, others, start, end) != []
    assert list(client.repo_problems) == ["acme/web"]
    assert "cannot find this repository" in client.repo_problems["acme/web"]
    assert "remove it from `github.repos`" in client.repo_problems["acme/web"]
    releases = github(mock_api).releases_between(repos, start - timedelta(days=20), end)
    assert {r["repository"] for r in releases} <= set(others)


def test_a_renamed_repository_is_followed_and_stored_under_the_configured_name(mock_api: MockApi,
                                                                                org: SyntheticOrg) -> None:
    start, end = START, END
    repos = sorted(org.config()["github"]["repos"])
    switch(mock_api, github_renamed_repos={"acme/api": "acme/platform-api"})
    client = github(mock_api)
    prs = client.pull_requests_updated_between(repos, start, end)
    assert numbers(prs) == expected_numbers(org, repos, start, end)  # acme/api's PRs, under acme/api
    assert client.renamed == {"acme/api": "acme/platform-api"} and client.repo_problems == {}
    note = client.repository_metadata()["repo_renames"]
    assert "acme/api is now acme/platform-api" in note and "change it to acme/platform-api" in note
    releases = github(mock_api).releases_between(["acme/api"], start - timedelta(days=30), end)
    assert releases and {r["repository"] for r in releases} == {"acme/api"}


def test_a_repository_behind_sso_is_left_out_with_the_sso_fix(mock_api: MockApi, org: SyntheticOrg) -> None:
    start, end = START, END
    repos = sorted(org.config()["github"]["repos"])
    switch(mock_api, github_sso_repos=["acme/web"])
    client = github(mock_api)
    prs = client.pull_requests_updated_between(repos, start, end)
    assert numbers(prs) == expected_numbers(org, [r for r in repos if r != "acme/web"], start, end)
    assert list(client.repo_problems) == ["acme/web"] and "SSO" in client.repo_problems["acme/web"]


# ------------------------------------------------------------------ 5. paging that does not end

def test_a_search_cursor_that_comes_back_stops_with_the_endpoint(mock_api: MockApi, org: SyntheticOrg) -> None:
    start, end = START, END
    assert len(expected_numbers(org, ["acme/api"], start, end)) > 10
    switch(mock_api, github_stuck_cursor=True)
    client = GitHubClient("mock-github-token", mock_api.url, policy=FAST, page_size=10)
    with pytest.raises(ApiError, match=r"paging of GitHub search at .*/graphql .* does not end: .*(same|earlier)"):
        client.pull_requests_updated_between(["acme/api"], start, end)
    assert counts(mock_api)["github:graphql"] == 2


def test_search_pages_past_the_total_stop_with_the_endpoint(mock_api: MockApi, org: SyntheticOrg) -> None:
    start, end = START, END
    total = len(expected_numbers(org, ["acme/api"], start, end))
    switch(mock_api, github_endless_pages=True)
    client = GitHubClient("mock-github-token", mock_api.url, policy=FAST, page_size=10)
    with pytest.raises(ApiError, match=rf"paging of GitHub search .* more than the reported total of {total}"):
        client.pull_requests_updated_between(["acme/api"], start, end)
    # ceil(total / 10) pages hold every result; one more is allowed (items added while paging), then it stops.
    assert counts(mock_api)["github:graphql"] == -(-total // 10) + 2


def test_a_jira_page_token_that_comes_back_stops_with_the_endpoint(mock_api: MockApi) -> None:
    data = jira_data(mock_api.state.org)
    assert len(data.issues) > 200  # at least three pages of 100
    switch(mock_api, jira_repeat_page_token=True)
    client = jira(mock_api)
    with pytest.raises(ApiError, match=r"paging of Jira search \(http://.*/rest/api/3/search/jql\) does not end: "
                                       r"the same next-page cursor came back twice"):
        list(client.search("project in (API, WEB, DATA) ORDER BY key ASC", ["updated"]))
    assert counts(mock_api)["jira:search"] == 2
    longest = max(data.issues, key=lambda i: len(i.histories))
    with pytest.raises(ApiError, match=r"paging of Jira bulk changelog .*/rest/api/3/changelog/bulkfetch\) does not end"):
        client.changelogs([str(longest.id)], page_size=5)


# ------------------------------------------------------------------ 9. huge days

def test_a_huge_day_arrives_page_by_page_and_complete(org: SyntheticOrg) -> None:
    from mock_apis.huge_day import HugeDay
    from mock_apis.server import MockState

    day = org.anchor + timedelta(days=1)
    state = MockState(org=org)
    state.extra["huge_day"] = HugeDay(day, pull_requests=2_500)  # 2.5x the search cap of 1,000
    with MockApi(state) as api:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        client = github(api)
        chunks = list(client.pull_request_chunks(["acme/api", "acme/web"], start, start + timedelta(days=1)))
    numbers_seen = [pr["number"] for chunk in chunks for pr in chunk]
    assert sorted(numbers_seen) == list(range(100_000, 102_500))  # each once, though windows overlap at ties
    assert max(len(chunk) for chunk in chunks) <= 100
    assert client.search_windows >= 3  # the 1,000-result cap split the day


def test_a_huge_jira_day_arrives_in_batches_and_complete(org: SyntheticOrg) -> None:
    from mock_apis.huge_day import HugeDay
    from mock_apis.server import MockState

    day = org.anchor + timedelta(days=1)
    state = MockState(org=org)
    state.extra["huge_day"] = HugeDay(day, pull_requests=0, jira_issues=2_500)
    with MockApi(state) as api:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        batches = list(jira(api).issue_batches_updated_between(PROJECTS, start, start + timedelta(days=1),
                                                               batch_size=1000))
        searches = counts(api)["jira:search"]
    assert [len(b.issues) for b in batches] == [1000, 1000, 500]
    keys = [i["key"] for b in batches for i in b.issues]
    assert keys == [f"API-{100_000 + i}" for i in range(2_500)]
    assert all(len(b.histories[i["id"]]) == 1 for b in batches for i in b.issues)
    # 2,500 issues in the widened JQL window, in pages of 100; the exact UTC window keeps all of them.
    assert searches == 25 and batches[-1].dropped_outside_window == 0


def test_a_chunked_write_that_fails_midway_leaves_the_previous_partition(tmp_path) -> None:
    from emd.settings import parse_database_url
    from emd.warehouse import Warehouse

    warehouse = Warehouse(parse_database_url(f"duckdb:///{tmp_path / 'warehouse.duckdb'}"))
    table = "raw_jira_statuses"

    def rows(prefix: str, count: int) -> list[dict[str, Any]]:
        return [{"status_id": f"{prefix}{i}", "name": f"S{i}", "category": "new", "payload": "{}"} for i in range(count)]

    assert warehouse.replace_partitions_chunked([table], iter([{table: rows("a", 3)}]), "2026-04-01") == {table: 3}

    def broken():
        yield {table: rows("b", 5)}
        raise ApiError("the API went away after the first page")

    with pytest.raises(ApiError):
        warehouse.replace_partitions_chunked([table], broken(), "2026-04-01")
    assert sorted(r[0] for r in warehouse.query(f"select status_id from {table}")) == ["a0", "a1", "a2"]  # noqa: S608
    # A complete second write replaces the partition, chunk by chunk.
    written = warehouse.replace_partitions_chunked([table], iter([{table: rows("c", 2)}, {table: rows("d", 2)}]),
                                                   "2026-04-01")
    assert written == {table: 4}
    assert sorted(r[0] for r in warehouse.query(f"select status_id from {table}")) == ["c0", "c1", "d0", "d1"]  # noqa: S608
    assert not list(tmp_path.glob(".emd-stage-*"))  # the staging files are gone
