"""The mock GitHub GraphQL API behaves as GitHub does where the client depends on it (real HTTP)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import requests

from mock_apis.github_data import github_data
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi, MockState

TOKEN = {"Authorization": "bearer mock-github-token"}


def post(api: MockApi, query: str, variables: dict | None = None, headers: dict | None = None,
         path: str = "/graphql") -> requests.Response:
    return requests.post(api.url + path, json={"query": query, "variables": variables or {}},
                         headers=TOKEN if headers is None else headers, timeout=60)


def test_bad_or_missing_credentials_get_401_bad_credentials(mock_api: MockApi) -> None:
    for headers in ({}, {"Authorization": "bearer wrong"}, {"Authorization": "Basic bW9jazp4"}):
        response = post(mock_api, "{ viewer { login } }", headers=headers)
        assert response.status_code == 401
        assert response.json()["message"] == "Bad credentials"
    # GitHub accepts both the `bearer` and the older `token` scheme.
    ok = post(mock_api, "{ rateLimit { remaining } }", headers={"Authorization": "token mock-github-token"})
    assert ok.status_code == 200 and "errors" not in ok.json()


def test_queries_are_validated_against_githubs_schema(mock_api: MockApi) -> None:
    body = post(mock_api, '{ repository(owner: "acme", name: "api") { pullRequests(first: 1) { nodes { nope } } } }').json()
    assert body["errors"][0]["message"] == "Cannot query field 'nope' on type 'PullRequest'."
    assert "data" not in body
    syntax = post(mock_api, "{ repository(owner: ").json()
    assert syntax["errors"][0]["extensions"]["code"] == "parseError"


def test_connections_need_first_or_last_between_1_and_100(mock_api: MockApi) -> None:
    missing = post(mock_api, '{ repository(owner: "acme", name: "api") { releases { nodes { tagName } } } }').json()
    assert missing["errors"][0]["message"] == (
        "You must provide a `first` or `last` value to properly paginate the `releases` connection.")
    too_many = post(mock_api, '{ repository(owner: "acme", name: "api") { releases(first: 101) { nodes { tagName } } } }').json()
    assert too_many["errors"][0]["message"] == (
        "Requesting 101 records on the `releases` connection exceeds the `first` limit of 100 records.")
    # Only totalCount: no nodes are returned, so GitHub needs no bounds.
    count_only = post(mock_api, '{ repository(owner: "acme", name: "api") { releases { totalCount } } }').json()
    assert "errors" not in count_only and count_only["data"]["repository"]["releases"]["totalCount"] > 0


def test_node_limit_is_the_product_of_page_sizes(mock_api: MockApi) -> None:
    # 100 PRs + 100*100 reviews + 100*100*100 review comments = 1,010,100 nodes > 500,000.
    query = """{ search(query: "is:pr", type: ISSUE, first: 100) { nodes { ... on PullRequest {
        reviews(first: 100) { nodes { comments(first: 100) { nodes { id } } } } } } } }"""
    body = post(mock_api, query).json()
    assert body["errors"][0]["type"] == "MAX_NODE_LIMIT_EXCEEDED"
    assert "exceeds the maximum limit of 500,000" in body["errors"][0]["message"]
    # 100 + 100*100 + 100*100*50 = 510,100: still too many; with 40 comments 410,100 is allowed.
    assert "errors" in post(mock_api, query.replace("comments(first: 100)", "comments(first: 50)")).json()
    allowed = post(mock_api, query.replace("comments(first: 100)", "comments(first: 40)") + "").json()
    assert "errors" not in allowed


def test_rate_limit_fields_and_headers(mock_api: MockApi) -> None:
    response = post(mock_api, "{ rateLimit { cost limit remaining used resetAt nodeCount } }")
    rate = response.json()["data"]["rateLimit"]
    assert rate["limit"] == 5000 and rate["cost"] == 1 and rate["remaining"] == 5000 - rate["used"]
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset",
                   "x-ratelimit-resource"):
        assert header in response.headers
    assert response.headers["x-ratelimit-resource"] == "graphql"
    # A query over 100 PRs with 100 reviews each needs 1 + 100 requests: cost round(101 / 100) = 1;
    # with commits too, 1 + 200 = 201 -> 2.
    two = post(mock_api, """{ rateLimit { cost nodeCount } search(query: "is:pr", type: ISSUE, first: 100) {
        nodes { ... on PullRequest { reviews(first: 100) { nodes { id } } commits(first: 100) { nodes { id } } } } } }""")
    assert two.json()["data"]["rateLimit"] == {"cost": 2, "nodeCount": 100 + 100 * 100 * 2}


def test_exhausted_rate_limit_answers_403_until_reset(mock_api: MockApi) -> None:
    requests.post(mock_api.url + "/_mock/switch", json={"github_rate_limit_exhausted": True}, timeout=10)
    response = post(mock_api, "{ rateLimit { remaining } }")
    assert response.status_code == 403
    assert "API rate limit exceeded" in response.json()["message"]
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["x-ratelimit-reset"]) - datetime.now(UTC).timestamp() <= 3


def test_search_filters_repo_updated_and_sort(mock_api: MockApi, org: SyntheticOrg) -> None:
    data = github_data(org)
    start, end = datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 12, 23, 59, 59, tzinfo=UTC)
    expected = sorted((pr["updatedAt"], pr["_repo"], pr["number"]) for pr in data.pull_requests
                      if pr["_repo"] in ("acme/api", "acme/web") and start <= pr["_updated"] <= end)
    query = """query($q: String!) { search(query: $q, type: ISSUE, first: 100) { issueCount
        nodes { ... on PullRequest { number updatedAt repository { nameWithOwner } } } } }"""
    q = "is:pr repo:acme/api repo:acme/web updated:2026-03-09T00:00:00Z..2026-03-12T23:59:59Z sort:updated-asc"
    result = post(mock_api, query, {"q": q}).json()["data"]["search"]
    got = [(n["updatedAt"], n["repository"]["nameWithOwner"], n["number"]) for n in result["nodes"]]
    assert result["issueCount"] == len(expected) > 0
    assert got == expected  # same PRs, oldest update first
    desc = post(mock_api, query, {"q": q.replace("updated-asc", "updated-desc")}).json()["data"]["search"]["nodes"]
    assert [n["updatedAt"] for n in desc] == sorted((n["updatedAt"] for n in desc), reverse=True)
    too_long = post(mock_api, query, {"q": q + " " + "x" * 256}).json()
    assert "too long" in too_long["errors"][0]["message"]


def test_bot_authors_are_bots_with_bare_login(mock_api: MockApi) -> None:
    query = """{ search(query: "is:pr repo:acme/api repo:acme/web repo:acme/infra", type: ISSUE, first: 100) {
        nodes { ... on PullRequest { title author { __typename login } } } } }"""
    nodes = post(mock_api, query).json()["data"]["search"]["nodes"]
    bots = [n for n in nodes if n["author"]["__typename"] == "Bot"]
    assert bots and all(n["author"]["login"] == "dependabot" for n in bots)
    assert all(n["title"].startswith("Bump ") for n in bots)


def test_search_returns_at_most_1000_results() -> None:
    org = SyntheticOrg(seed=7, anchor=date(2026, 3, 31), scale="large")
    with MockApi(MockState(org=org)) as api:
        query = """query($after: String) { search(query: "is:pr", type: ISSUE, first: 100, after: $after) {
            issueCount pageInfo { hasNextPage endCursor } nodes { ... on PullRequest { id } } } }"""
        seen, cursor, pages = set(), None, 0
        while True:
            result = post(api, query, {"after": cursor}).json()["data"]["search"]
            seen.update(n["id"] for n in result["nodes"])
            pages += 1
            if not result["pageInfo"]["hasNextPage"]:
                break
            cursor = result["pageInfo"]["endCursor"]
        assert result["issueCount"] >= 30_000
        assert len(seen) == 1000 and pages == 10


def test_ghes_graphql_path(mock_api: MockApi) -> None:
    response = post(mock_api, "{ rateLimit { remaining } }", path="/api/graphql")
    assert response.status_code == 200 and response.json()["data"]["rateLimit"]["remaining"] > 0


@pytest.mark.parametrize("item_type", ["READY_FOR_REVIEW_EVENT", "REOPENED_EVENT"])
def test_timeline_item_types_filter(mock_api: MockApi, org: SyntheticOrg, item_type: str) -> None:
    data = github_data(org)
    typename = {"READY_FOR_REVIEW_EVENT": "ReadyForReviewEvent", "REOPENED_EVENT": "ReopenedEvent"}[item_type]
    pr = next(p for p in data.pull_requests if any(e["__typename"] == typename for e in p["_timeline"]))
    query = ("query($id: ID!) { node(id: $id) { ... on PullRequest { timelineItems(first: 100, itemTypes: ["
             + item_type + "]) { nodes { __typename } } } } }")
    nodes = post(mock_api, query, {"id": pr["id"]}).json()["data"]["node"]["timelineItems"]["nodes"]
    assert nodes and {n["__typename"] for n in nodes} == {typename}
