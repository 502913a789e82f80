"""The GitHub client: GraphQL search with nested connections, window splitting, pagination and rate limits.

`GitHubResource` is the Dagster resource; `GitHubClient` does the work and keeps the request counters of
one run (`stats`). Callers see plain methods that return complete entities:

- `pull_requests_updated_between(repos, start, end)`: every PR of the repos whose `updatedAt` is in
  [start, end), with all its labels, reviews, commits and timeline events. Repos are batched into as few
  `repo:`-qualified search strings as fit GitHub's 256 characters. `search` stops at 1,000 results, so
  when a window holds more, the rest of the window (from the last `updatedAt` seen, results sorted by
  `updatedAt` ascending) is searched again until nothing is left; PRs seen twice are kept once.
- `releases_between` / `deployments_between`: newest first per repo (several repos per request),
  until a page reaches `RELEASE_LOOKBACK` / `DEPLOYMENT_LOOKBACK` before the window.

HTTP retries, backoff and `retry-after` come from emd.http.HttpClient; on top of that the
client reads `rateLimit` in every answer and waits for the reset when the budget is spent.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from emd import settings
from emd.http import ApiError, ApiPayloadError, ApiStats, HttpClient, RetryPolicy
from emd.settings import SettingsError
from orchestration.defs.github import queries

TOKEN_ENV = "GITHUB_TOKEN"
SEARCH_QUERY_MAX_CHARS = 256
SEARCH_RESULT_CAP = 1000
REPOS_PER_REQUEST = 100  # aliased repository(...) blocks per request: 100 x 100 nodes, cost 1
# How far before a window the newest-first release/deployment pages are followed: a release published (or
# a deployment whose latest status changed) in the window but created longer ago than this is not seen.
RELEASE_LOOKBACK = timedelta(days=14)
DEPLOYMENT_LOOKBACK = timedelta(days=3)


def github_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def search_strings(repos: Sequence[str], start: datetime, end: datetime) -> list[str]:
    """As few search strings as fit 256 characters, each `is:pr repo:a repo:b ... updated:S..E sort:updated-asc`.

    The window is half-open [start, end); GitHub's ranges are inclusive to the second, so the end is end - 1s.
    """
    last = end - timedelta(seconds=1)
    tail = f" updated:{github_timestamp(start)}..{github_timestamp(last)} sort:updated-asc"
    head = "is:pr"
    out: list[str] = []
    current: list[str] = []
    for repo in sorted(set(repos)):
        qualifier = f" repo:{repo}"
        if len(head + qualifier + tail) > SEARCH_QUERY_MAX_CHARS:
            raise ApiError(f"the repository name {repo!r} is too long for a GitHub search query")
        if current and len(head + "".join(current) + qualifier + tail) > SEARCH_QUERY_MAX_CHARS:
            out.append(head + "".join(current) + tail)
            current = []
        current.append(qualifier)
    if current:
        out.append(head + "".join(current) + tail)
    return out


def _need(obj: Any, field: str, entity: str) -> Any:
    """The value of a field we rely on; a missing or null one names the entity and the field."""
    if not isinstance(obj, dict) or obj.get(field) is None:
        raise ApiPayloadError(
            f"GitHub returned {entity} without `{field}` (missing or null). The API's answer changed shape or "
            "the token cannot see this field; nothing was written for this partition."
        )
    return obj[field]


class GitHubClient:
    """Talks to GitHub's GraphQL API for one run; `stats` counts requests, retries and rate-limit waits."""

    def __init__(self, token: str | None, api_url: str | None = None, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep, page_size: int = queries.PAGE_SIZE):
        if not token:
            raise SettingsError(
                f"{TOKEN_ENV} is not set: it is needed to read pull requests, releases and deployments from GitHub. "
                f"Create a token with read access to the configured repos and export {TOKEN_ENV}."
            )
        self.api_url = (api_url or settings.github_api_url()).rstrip("/")
        self.graphql_url = settings.github_graphql_url(self.api_url)
        self.page_size = page_size
        self.sleep = sleep
        self.http = HttpClient(name="GitHub", token_env=TOKEN_ENV, url_env="GITHUB_API_URL",
                                policy=policy or RetryPolicy(), sleep=sleep)
        self.http.session.headers.update({
            "Authorization": f"bearer {token}",
            "Accept": "application/vnd.github+json",
            "User-Agent": "engineering-metrics",
        })
        self.search_windows = 0  # how many search strings were needed (window splits show up here)

    @property
    def stats(self) -> ApiStats:
        return self.http.stats

    # -- transport -------------------------------------------------------------------------------------
    def graphql(self, query: str, variables: dict[str, Any], what: str) -> dict[str, Any]:
        """POST one query; returns `data`. GraphQL errors raise ApiError naming `what` and the URL."""
        for _ in range(5):
            body, headers = self.http.request_json("POST", self.graphql_url, json={"query": query, "variables": variables})
            if not isinstance(body, dict):
                raise ApiPayloadError(f"GitHub answered {what} at {self.graphql_url} with something that is not a JSON object")
            errors = body.get("errors") or []
            if any(e.get("type") == "RATE_LIMITED" for e in errors if isinstance(e, dict)):
                self._wait_until(headers.get("x-ratelimit-reset"), "GraphQL RATE_LIMITED")
                continue
            if errors:
                messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors[:3])
                hint = ""
                if "cannot be searched" in messages or "Could not resolve to a Repository" in messages:
                    hint = (f" Check `github.repos` in the project config ({settings.config_path()}) and that "
                            f"{TOKEN_ENV} can read those repositories.")
                raise ApiError(f"GitHub rejected the {what} query at {self.graphql_url}: {messages}.{hint}")
            data = body.get("data")
            if not isinstance(data, dict):
                raise ApiPayloadError(f"GitHub answered {what} at {self.graphql_url} without `data`")
            self._respect_budget(data.get("rateLimit"), headers)
            return data
        raise ApiError(f"GitHub kept answering RATE_LIMITED for {what} at {self.graphql_url}; try again after the reset")

    def _respect_budget(self, rate: Any, headers: Any) -> None:
        """When the primary budget is spent, wait for its reset before the next request."""
        remaining, reset = None, None
        if isinstance(rate, dict) and rate.get("remaining") is not None:
            remaining = int(rate["remaining"])
            if rate.get("resetAt"):
                reset = parse_timestamp(rate["resetAt"]).timestamp()
            cost = int(rate.get("cost") or 1)
        else:
            cost = 1
            if headers.get("x-ratelimit-remaining") is not None:
                remaining = int(headers["x-ratelimit-remaining"])
                reset = float(headers.get("x-ratelimit-reset") or 0) or None
        if remaining is not None and remaining < max(cost, 1):
            self._wait_until(reset, "primary rate limit spent")

    def _wait_until(self, reset: Any, why: str) -> None:
        try:
            target = float(reset) if reset is not None else time.time() + 60
        except (TypeError, ValueError):
            target = time.time() + 60
        wait = max(0.0, target - time.time()) + 1.0
        if wait > self.http.policy.max_elapsed_s:
            raise ApiError(f"GitHub's rate limit ({why}) resets in {wait:.0f}s, longer than the retry budget; "
                           "run this partition again later")
        self.stats.rate_limit_waits += 1
        self.stats.rate_limit_wait_s += wait
        self.sleep(wait)

    # -- pull requests -----------------------------------------------------------------------------------
    def pull_requests_updated_between(self, repos: Iterable[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every PR of `repos` whose `updatedAt` is in [start, end), complete, sorted by (repo, number)."""
        found: dict[str, dict[str, Any]] = {}
        for search in search_strings(list(repos), start, end):
            for pr in self._search_all(search, start, end):
                found[pr["id"]] = pr
        for pr in found.values():
            self._complete(pr)
        return sorted(found.values(), key=lambda p: (p["repository"]["nameWithOwner"], p["number"]))

    def _search_all(self, search: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """All results of one search string, narrowing the window when GitHub's 1,000-result cap is hit."""
        seen: dict[str, dict[str, Any]] = {}
        lower = start
        window = f"updated:{github_timestamp(start)}.."
        while True:
            text = search.replace(window, f"updated:{github_timestamp(lower)}..", 1)
            self.search_windows += 1
            cursor: str | None = None
            returned = 0
            last_updated: datetime | None = None
            while True:
                data = self.graphql(queries.SEARCH_PULL_REQUESTS,
                                    {"searchQuery": text, "pageSize": self.page_size, "cursor": cursor},
                                    "pull request search")
                result = _need(data, "search", "a search answer")
                issue_count = int(_need(result, "issueCount", "a search answer"))
                page_info = _need(result, "pageInfo", "a search answer")
                for node in _need(result, "nodes", "a search answer"):
                    returned += 1
                    if not node or node.get("__typename") != "PullRequest":
                        continue
                    pr = self._checked_pull_request(node)
                    seen[pr["id"]] = pr
                    last_updated = parse_timestamp(pr["updatedAt"])
                if not page_info.get("hasNextPage"):
                    break
                cursor = _need(page_info, "endCursor", "a search page")
            if issue_count <= returned or last_updated is None:
                return list(seen.values())
            # Capped: search the rest of the window, from the last `updatedAt` seen (inclusive: ties).
            if last_updated <= lower:
                raise ApiError(
                    f"more than {SEARCH_RESULT_CAP} pull requests were updated at {github_timestamp(lower)} "
                    f"({search!r}); GitHub search cannot list them all"
                )
            lower = last_updated

    def _checked_pull_request(self, node: dict[str, Any]) -> dict[str, Any]:
        number = node.get("number")
        repo = (node.get("repository") or {}).get("nameWithOwner")
        entity = f"pull request {repo or '?'}#{number if number is not None else '?'}"
        for field in ("id", "number", "repository", "state", "isDraft", "baseRefName", "headRefName", "createdAt",
                      "updatedAt", "additions", "deletions", "changedFiles", "labels", "reviews", "commits",
                      "timelineItems"):
            _need(node, field, entity)
        _need(node["repository"], "nameWithOwner", entity + " repository")
        for connection in ("labels", "reviews", "commits", "timelineItems"):
            _need(node[connection], "nodes", f"{entity} {connection}")
            _need(node[connection], "pageInfo", f"{entity} {connection}")
        for review in node["reviews"]["nodes"]:
            self._check_review(review, entity)
        for commit in node["commits"]["nodes"]:
            self._check_commit(commit, entity)
        for event in node["timelineItems"]["nodes"]:
            self._check_event(event, entity)
        return node

    @staticmethod
    def _check_review(review: dict[str, Any], entity: str) -> None:
        for field in ("id", "state", "createdAt"):
            _need(review, field, f"a review of {entity}")
        _need(review, "comments", f"review {review['id']} of {entity}")

    @staticmethod
    def _check_commit(commit: dict[str, Any], entity: str) -> None:
        inner = _need(commit, "commit", f"a commit of {entity}")
        for field in ("oid", "authoredDate", "committedDate"):
            _need(inner, field, f"a commit of {entity}")

    @staticmethod
    def _check_event(event: dict[str, Any], entity: str) -> None:
        for field in ("__typename", "id", "createdAt"):
            _need(event, field, f"a timeline event of {entity}")

    def _complete(self, pr: dict[str, Any]) -> None:
        """Follow a nested connection only where this PR has more than one page of it."""
        entity = f"pull request {pr['repository']['nameWithOwner']}#{pr['number']}"
        for connection, query in queries.NESTED_PAGE_QUERIES.items():
            page = pr[connection]
            while page["pageInfo"].get("hasNextPage"):
                cursor = _need(page["pageInfo"], "endCursor", f"{entity} {connection}")
                data = self.graphql(query, {"id": pr["id"], "cursor": cursor}, f"{entity} {connection}")
                node = _need(data, "node", entity)
                nxt = _need(node, connection, entity)
                nodes = _need(nxt, "nodes", f"{entity} {connection}")
                check = {"reviews": self._check_review, "commits": self._check_commit,
                         "timelineItems": self._check_event}.get(connection)
                for item in nodes:
                    if check:
                        check(item, entity)
                pr[connection]["nodes"].extend(nodes)
                page = {"pageInfo": _need(nxt, "pageInfo", f"{entity} {connection}")}
            pr[connection]["pageInfo"] = {"hasNextPage": False, "endCursor": None}

    # -- releases and deployments ---------------------------------------------------------------------------
    def releases_between(self, repos: Iterable[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Releases of `repos` created or published in [start, end); each carries `repository` (owner/name)."""
        def keep(release: dict[str, Any]) -> bool:
            created = parse_timestamp(_need(release, "createdAt", "a release"))
            published = parse_timestamp(release["publishedAt"]) if release.get("publishedAt") else None
            return start <= created < end or (published is not None and start <= published < end)

        return self._repository_pages("releases", repos, start - RELEASE_LOOKBACK, keep, ("id", "tagName", "createdAt"))

    def deployments_between(self, repos: Iterable[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Deployments of `repos` created in [start, end) or whose latest status was created in it."""
        def keep(deployment: dict[str, Any]) -> bool:
            created = parse_timestamp(_need(deployment, "createdAt", "a deployment"))
            status = deployment.get("latestStatus")
            status_at = parse_timestamp(_need(status, "createdAt", f"deployment {deployment['id']} latestStatus")) \
                if status else None
            return start <= created < end or (status_at is not None and start <= status_at < end)

        return self._repository_pages("deployments", repos, start - DEPLOYMENT_LOOKBACK, keep,
                                      ("id", "createdAt", "commitOid"))

    def _repository_pages(self, kind: str, repos: Iterable[str], horizon: datetime,
                          keep: Callable[[dict[str, Any]], bool], required: tuple[str, ...]) -> list[dict[str, Any]]:
        pending: dict[str, str | None] = {repo: None for repo in sorted(set(repos))}
        found: dict[str, dict[str, Any]] = {}
        while pending:
            batch = list(pending.items())[:REPOS_PER_REQUEST]
            variables: dict[str, Any] = {}
            for i, (repo, cursor) in enumerate(batch):
                owner, name = repo.split("/", 1)
                variables.update({f"owner{i}": owner, f"name{i}": name, f"cursor{i}": cursor})
            data = self.graphql(queries.repository_pages_query(kind, len(batch)), variables, f"repository {kind}")
            for i, (repo, _cursor) in enumerate(batch):
                repository = _need(data, f"r{i}", f"repository {repo}")
                page = _need(repository, kind, f"repository {repo}")
                nodes = _need(page, "nodes", f"repository {repo} {kind}")
                oldest = None
                for item in nodes:
                    entity = f"a {kind[:-1]} of {repo}"
                    for field in required:
                        _need(item, field, entity)
                    oldest = parse_timestamp(item["createdAt"])
                    if keep(item):
                        found[item["id"]] = {**item, "repository": repo}
                page_info = _need(page, "pageInfo", f"repository {repo} {kind}")
                if page_info.get("hasNextPage") and oldest is not None and oldest >= horizon:
                    pending[repo] = _need(page_info, "endCursor", f"repository {repo} {kind}")
                else:
                    del pending[repo]
        return sorted(found.values(), key=lambda r: (r["repository"], r["createdAt"], r["id"]))


def strip_nested(pr: dict[str, Any]) -> dict[str, Any]:
    """The PR's own JSON for `payload`: nested reviews/commits/events live in their own tables."""
    out = copy.copy(pr)
    for connection in ("reviews", "commits", "timelineItems"):
        if isinstance(out.get(connection), dict):
            out[connection] = {"totalCount": out[connection].get("totalCount")}
    return out


class GitHubResource(ConfigurableResource):
    """GitHub's GraphQL API. Unset `token` means GITHUB_TOKEN and unset `api_url` means GITHUB_API_URL
    (default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3), both read when used."""

    token: str | None = Field(default=None, description="A token that can read the configured repos (GITHUB_TOKEN).")
    api_url: str | None = Field(default=None, description="REST base URL; GraphQL URL is derived (DESIGN.md).")
    max_elapsed_s: float = Field(default=600.0, description="Give up on one request after this many seconds of retries.")

    def client(self) -> GitHubClient:
        """A client with fresh counters (one per asset run, so metadata shows that run's spend)."""
        token = self.token or settings.env(TOKEN_ENV)
        return GitHubClient(token, self.api_url or settings.github_api_url(),
                            policy=RetryPolicy(max_elapsed_s=self.max_elapsed_s))
