"""The GitHub client against the mock over real HTTP: pagination, the search cap, rate limits, errors, spend."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from graphql import parse, validate

from emd.http import ApiAuthError, ApiError, ApiPayloadError, ApiUnreachableError, RetryPolicy
from emd.settings import SettingsError
from mock_apis.github import github_schema
from mock_apis.github_data import github_data
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi, MockState
from orchestration.defs.github import queries
from orchestration.defs.github.resource import REPOS_PER_REQUEST, GitHubClient, search_strings

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_elapsed_s=5, timeout_s=5)


def day_of(value: datetime) -> tuple[datetime, datetime]:
    start = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def expected_prs(org: SyntheticOrg, repos: list[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
    return [pr for pr in github_data(org).pull_requests if pr["_repo"] in repos and start <= pr["_updated"] < end]


def counts(api: MockApi) -> dict[str, int]:
    return requests.get(api.url + "/_mock/counts", timeout=10).json()


def test_every_query_the_client_sends_is_valid_against_githubs_schema() -> None:
    schema = github_schema()
    documents = {"search": queries.SEARCH_PULL_REQUESTS, **queries.NESTED_PAGE_QUERIES}
    for kind in ("releases", "deployments"):
        for count in (1, 2, 3, 37, REPOS_PER_REQUEST):  # the client batches 1..REPOS_PER_REQUEST repos per request
            documents[f"{kind}-{count}"] = queries.repository_pages_query(kind, count)
    for name, text in documents.items():
        assert validate(schema, parse(text)) == [], name


def test_search_strings_fit_256_characters_in_few_queries() -> None:
    repos = [f"acme/service-{i:02d}" for i in range(52)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    strings = search_strings(repos, start, start + timedelta(days=1))
    assert all(len(s) <= 256 for s in strings)
    assert strings[0].endswith("updated:2026-03-01T00:00:00Z..2026-03-01T23:59:59Z sort:updated-asc")
    # Each string holds the prefix "is:pr" (5) and the 74-character window/sort tail; each " repo:acme/service-NN"
    # is 21 characters, so floor((256 - 79) / 21) = 8 repos fit per string and 52 repos need ceil(52 / 8) = 7.
    assert len(strings) == 7
    assert sorted(r for s in strings for r in s.split() if r.startswith("repo:")) == [f"repo:{r}" for r in repos]


def test_missing_token_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="GITHUB_TOKEN is not set"):
        GitHubClient(None, "http://127.0.0.1:1")


def test_rejected_token_names_the_variable_and_url(mock_api: MockApi) -> None:
    client = GitHubClient("not-the-token", mock_api.url, policy=FAST)
    with pytest.raises(ApiAuthError) as caught:
        client.releases_between(["acme/web"], datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    assert "GITHUB_TOKEN" in str(caught.value) and f"{mock_api.url}/graphql" in str(caught.value)
    assert "not-the-token" not in str(caught.value)


def test_unreachable_host_names_the_url() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GitHubClient("t", f"http://127.0.0.1:{port}", policy=FAST)
    with pytest.raises(ApiUnreachableError, match=f"http://127.0.0.1:{port}/graphql"):
        client.pull_requests_updated_between(["acme/api"], datetime(2026, 3, 1, tzinfo=UTC),
                                             datetime(2026, 3, 2, tzinfo=UTC))


def test_unexpected_payload_names_entity_and_field(mock_api: MockApi, org: SyntheticOrg) -> None:
    requests.post(mock_api.url + "/_mock/switch", json={"github_payload_drop": "authoredDate"}, timeout=10)
    pr = next(p for p in github_data(org).pull_requests if p["_repo"] == "acme/api")
    start, end = day_of(pr["_updated"])
    client = GitHubClient("mock-github-token", mock_api.url, policy=FAST)
    with pytest.raises(ApiPayloadError) as caught:
        client.pull_requests_updated_between(["acme/api"], start, end)
    assert "`authoredDate`" in str(caught.value) and "a commit of pull request acme/api#" in str(caught.value)


def test_unknown_repository_points_at_the_config(mock_api: MockApi, org: SyntheticOrg) -> None:
    client = GitHubClient("mock-github-token", mock_api.url, policy=FAST)
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    # Batched with a good repo, the unknown one is left out and named; the good one lands (issue 10).
    prs = client.pull_requests_updated_between(["acme/api", "acme/nope"], start, end)
    assert [pr["number"] for pr in prs] == [pr["number"] for pr in expected_prs(org, ["acme/api"], start, end)]
    assert list(client.repo_problems) == ["acme/nope"] and "github.repos" in client.repo_problems["acme/nope"]
    # Alone, nothing can be read: one error that names the repo and the config key.
    with pytest.raises(ApiError, match=r"acme/nope.*github\.repos"):
        GitHubClient("mock-github-token", mock_api.url, policy=FAST).releases_between(["acme/nope"], start, end)


def test_nested_pagination_beyond_100_commits_and_reviews(mock_api: MockApi, org: SyntheticOrg) -> None:
    data = github_data(org)
    big_commits = next(p for p in data.pull_requests if len(p["_commits"]) > 100)
    big_reviews = next(p for p in data.pull_requests if len(p["_reviews"]) > 100)
    client = GitHubClient("mock-github-token", mock_api.url, policy=FAST)
    for big, connection, key in ((big_commits, "commits", "_commits"), (big_reviews, "reviews", "_reviews")):
        start, end = day_of(big["_updated"])
        before = counts(mock_api).get("github:graphql", 0)
        prs = client.pull_requests_updated_between([big["_repo"]], start, end)
        got = next(p for p in prs if p["number"] == big["number"])
        if connection == "commits":
            ids = [c["commit"]["oid"] for c in got["commits"]["nodes"]]
            assert ids == [c["commit"]["oid"] for c in big[key]]
        else:
            ids = [r["id"] for r in got["reviews"]["nodes"]]
            assert ids == [r["id"] for r in big[key]]
        assert len(ids) == len(set(ids)) == len(big[key]) > 100
        # One search page for the day (fewer than 100 PRs), then one more page per 100 extra nested items.
        extra_pages = sum(max(0, len(p[key]) - 1) // 100 for p in expected_prs(org, [big["_repo"]], start, end))
        assert counts(mock_api)["github:graphql"] - before == 1 + extra_pages


def test_windows_with_more_than_1000_results_are_split_without_losing_prs() -> None:
    org = SyntheticOrg(seed=7, anchor=date(2026, 3, 31), scale="large")
    repos = [r.full_name for r in org.repos[:8]]  # one search string
    start, end = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC)
    expected = expected_prs(org, repos, start, end)
    assert len(expected) > 1000  # more than one search can return
    with MockApi(MockState(org=org)) as api:
        client = GitHubClient("mock-github-token", api.url, policy=FAST)
        prs = client.pull_requests_updated_between(repos, start, end)
    assert len(search_strings(repos, start, end)) == 1 and client.search_windows >= 2
    assert sorted((p["repository"]["nameWithOwner"], p["number"]) for p in prs) == sorted(
        (p["_repo"], p["number"]) for p in expected)


def test_at_most_25_requests_per_1000_prs() -> None:
    org = SyntheticOrg(seed=7, anchor=date(2026, 3, 31), scale="large")
    repos = [r.full_name for r in org.repos]
    start, end = datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)
    with MockApi(MockState(org=org)) as api:
        client = GitHubClient("mock-github-token", api.url, policy=FAST)
        prs = client.pull_requests_updated_between(repos, start, end)
        spent = counts(api)["github:graphql"]
    assert len(prs) == len(expected_prs(org, repos, start, end)) > 500
    assert spent == client.stats.requests
    assert spent * 1000 / len(prs) <= 25, f"{spent} requests for {len(prs)} PRs"


def test_exhausted_rate_limit_waits_for_the_reset(mock_api: MockApi) -> None:
    requests.post(mock_api.url + "/_mock/switch", json={"github_rate_limit_exhausted": True}, timeout=10)
    client = GitHubClient("mock-github-token", mock_api.url, policy=FAST)
    releases = client.releases_between(["acme/web"], datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    assert releases
    assert client.stats.rate_limit_waits == 1 and client.stats.rate_limit_wait_s > 0
    assert counts(mock_api)["github:rate_limited"] == 1


def test_spent_budget_in_rate_limit_waits_before_the_next_request(mock_api: MockApi) -> None:
    # One point left: the first answer's rateLimit says remaining 0, so the client waits for the reset
    # instead of sending a request that would be refused.
    requests.post(mock_api.url + "/_mock/switch", json={"github_rate_limit_remaining": 1}, timeout=10)
    client = GitHubClient("mock-github-token", mock_api.url, policy=FAST)
    client.releases_between(["acme/web"], datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    client.releases_between(["acme/api"], datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    assert client.stats.rate_limit_waits == 1 and client.stats.retries == 0
    assert "github:rate_limited" not in counts(mock_api)


def test_ghes_api_url_uses_api_graphql(mock_api: MockApi, org: SyntheticOrg) -> None:
    client = GitHubClient("mock-github-token", mock_api.url + "/api/v3", policy=FAST)
    assert client.graphql_url == mock_api.url + "/api/graphql"
    start, end = datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)
    repos = [r.full_name for r in org.repos]
    prs = client.pull_requests_updated_between(repos, start, end)
    assert len(prs) == len(expected_prs(org, repos, start, end)) > 0


def test_releases_and_deployments_in_the_window(mock_api: MockApi, org: SyntheticOrg) -> None:
    data = github_data(org)
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)

    def inside(value: str | None) -> bool:
        return value is not None and start <= datetime.fromisoformat(value.replace("Z", "+00:00")) < end

    client = GitHubClient("mock-github-token", mock_api.url, policy=FAST)
    releases = client.releases_between(["acme/web", "acme/api"], start, end)
    expected = {r["id"] for repo in ("acme/web", "acme/api") for r in data.repos[repo]["_releases"]
                if inside(r["createdAt"]) or inside(r["publishedAt"])}
    assert {r["id"] for r in releases} == expected and expected
    deployments = client.deployments_between(["acme/infra"], start, end)
    expected = {d["id"] for d in data.repos["acme/infra"]["_deployments"]
                if inside(d["createdAt"]) or inside(d["latestStatus"]["createdAt"])}
    assert {d["id"] for d in deployments} == expected and expected
    assert {d["environment"] for d in deployments} == {"staging", "production"}
