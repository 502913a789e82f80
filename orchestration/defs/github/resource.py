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

What real GitHub does beyond that (issue 10):
- GraphQL timeouts: GitHub stops a query that runs past ~10 s (heavy nested search pages on busy repos) and
  answers 502/504, or 200 with `data: null` and "Something went wrong while executing your query. This may
  be the result of a timeout". The search then asks for the same page (same cursor) smaller: the page size
  halves, then the nested page sizes, down to MIN_PAGE_SIZE; they grow back after answers without one
  (`PageSizes`; the asset metadata says how often it shrank). At the floor a timeout is retried like a 5xx.
- A repository that cannot be searched (deleted, renamed, transferred, behind SSO) never fails the repos
  batched with it: the batch is searched again one repo at a time; a renamed or transferred repo is
  followed to its new `nameWithOwner` (from `repository(owner:, name:)`, which follows renames) and stored
  under the configured name; the others are left out and named in `repo_problems` with the fix.
- Paging that does not end (the same cursor twice, more pages than the total allows) stops with an error
  naming the endpoint (emd.http.PageGuard).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from emd import settings
from emd.github_auth import (
    APP_ID_ENV,
    INSTALLATION_ENV,
    KEY_ENV,
    KEY_FILE_ENV,
    TOKEN_ENV,
    GitHubAuth,
    TokenAuth,
    github_auth,
)
from emd.http import (
    ApiAuthError,
    ApiError,
    ApiPayloadError,
    ApiServerError,
    ApiStats,
    HttpClient,
    PageGuard,
    RetryPolicy,
)
from emd.settings import SettingsError
from orchestration.defs.github import queries
from orchestration.resources import EnvOnlyCredentialsResource

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


class GraphQLTimeout(ApiError):
    """GitHub stopped a query that ran too long: a 502/504, or 200 with `data: null` and a timeout error."""


class RepositoryUnavailable(ApiError):
    """GitHub cannot show a configured repository: it cannot be searched, NOT_FOUND, or FORBIDDEN (SSO)."""

    def __init__(self, message: str, forbidden: bool = False):
        super().__init__(message)
        self.forbidden = forbidden


TIMEOUT_STATUSES = (502, 504)
GROW_AFTER = 3  # answers in a row without a timeout before the page size doubles back


def _is_timeout(errors: list[Any]) -> bool:
    text = " ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict)).lower()
    return "something went wrong while executing your query" in text or "timeout" in text


# The GitHub App permission (read) each queried field needs, named when GitHub answers "Resource not accessible
# by integration" (GraphQL errors carry no X-Accepted-GitHub-Permissions header, only the field's path).
FIELD_PERMISSIONS = {"deployments": "deployments", "releases": "contents", "search": "pull_requests",
                     "pullRequests": "pull_requests", "issues": "issues", "members": "members"}


def _permission_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """A token without a permission the field needs: GitHub says "Resource not accessible by integration" (an
    App) or "... by personal access token" (a fine-grained PAT). Not a repository problem: the whole token."""
    return [e for e in errors if isinstance(e, dict) and "resource not accessible by" in str(e.get("message", "")).lower()]


def _repo_errors(errors: list[Any]) -> list[dict[str, Any]]:
    return [e for e in errors if isinstance(e, dict) and (
        e.get("type") in ("NOT_FOUND", "FORBIDDEN") or "cannot be searched" in str(e.get("message", ""))
        or "Could not resolve to a Repository" in str(e.get("message", "")))]


@dataclass
class PageSizes:
    """The search page size and the nested (reviews, commits, timeline) page size of the next search request.

    A timeout halves the search page first, then the nested pages, down to MIN_PAGE_SIZE; after GROW_AFTER
    answers in a row without a timeout they double back (nested first), up to the ceiling."""

    search: int = queries.PAGE_SIZE
    nested: int = queries.PAGE_SIZE
    ceiling: int = queries.PAGE_SIZE
    floor: int = queries.MIN_PAGE_SIZE
    shrinks: int = 0
    streak: int = 0
    smallest_search: int = queries.PAGE_SIZE
    smallest_nested: int = queries.PAGE_SIZE

    def can_shrink(self) -> bool:
        return self.search > self.floor or self.nested > self.floor

    def shrink(self) -> None:
        if self.search > self.floor:
            self.search = max(self.floor, self.search // 2)
        else:
            self.nested = max(self.floor, self.nested // 2)
        self.shrinks += 1
        self.streak = 0
        self.smallest_search = min(self.smallest_search, self.search)
        self.smallest_nested = min(self.smallest_nested, self.nested)

    def succeeded(self) -> None:
        self.streak += 1
        if self.streak < GROW_AFTER:
            return
        self.streak = 0
        if self.nested < queries.PAGE_SIZE:
            self.nested = min(queries.PAGE_SIZE, self.nested * 2)
        elif self.search < self.ceiling:
            self.search = min(self.ceiling, self.search * 2)

    def as_metadata(self) -> dict[str, int]:
        return {"graphql_timeouts_page_shrinks": self.shrinks, "smallest_search_page": self.smallest_search,
                "smallest_nested_page": self.smallest_nested}


class GitHubClient:
    """Talks to GitHub's GraphQL API for one run; `stats` counts requests, retries and rate-limit waits.

    `repo_problems` (configured repo -> what is wrong and how to fix it) lists the repos that could not be
    read and were left out; `renamed` (configured repo -> its name on GitHub now) the repos followed to a
    new name, whose rows are stored under the configured name."""

    def __init__(self, token: str | None, api_url: str | None = None, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep, page_size: int = queries.PAGE_SIZE,
                 auth: GitHubAuth | None = None):
        """`auth` (a GitHub App installation or a token, emd.github_auth) wins; else `token` is used."""
        if auth is None and not token:
            raise SettingsError(
                f"{TOKEN_ENV} is not set: it is needed to read pull requests, releases and deployments from GitHub. "
                f"Create a token with read access to the configured repos and export {TOKEN_ENV}, or connect a "
                "GitHub App (`emd connect github --org ORG`, then GITHUB_APP_ID)."
            )
        self.auth: GitHubAuth = auth or TokenAuth(str(token))
        self._auth_before = self.auth.counters()
        self.credentials = self.auth.credentials  # what messages tell the user to check
        self.api_url = (api_url or settings.github_api_url()).rstrip("/")
        self.graphql_url = settings.github_graphql_url(self.api_url)
        self.page_sizes = PageSizes(search=page_size, ceiling=page_size, smallest_search=page_size)
        self.sleep = sleep
        self.http = HttpClient(name="GitHub", token_env=self.credentials, url_env="GITHUB_API_URL",
                                policy=policy or RetryPolicy(), sleep=sleep)
        self.http.session.auth = self.auth
        self.http.session.headers.update({
            "Accept": "application/vnd.github+json",
            "User-Agent": "engineering-metrics",
        })
        self.search_windows = 0  # how many search strings were needed (window splits show up here)
        self.repo_problems: dict[str, str] = {}
        self.renamed: dict[str, str] = {}
        self._path_errors: list[dict[str, Any]] = []  # the repo errors the last `partial` query left to its caller
        self._spent: tuple[Any, str] | None = None  # (reset, why): the budget is spent; wait before the next query

    @property
    def stats(self) -> ApiStats:
        return self.http.stats

    def auth_metadata(self) -> dict[str, Any]:
        """Which credentials were used (`auth: github_app|token`), the rate-limit figures of the budget they
        draw on, and (App) the requests this client's run spent on authentication."""
        return self.auth.metadata(since=self._auth_before)

    @property
    def page_size(self) -> int:
        return self.page_sizes.search

    def repository_metadata(self) -> dict[str, Any]:
        """What the asset metadata says about unreadable and renamed repos (text a person can act on)."""
        return {"unreadable_repos": len(self.repo_problems), "renamed_repos": len(self.renamed),
                "repo_problems": "\n".join(self.repo_problems[r] for r in sorted(self.repo_problems)) or "none",
                "repo_renames": "\n".join(self._rename_note(r) for r in sorted(self.renamed)) or "none"}

    def _rename_note(self, repo: str) -> str:
        return (f"{repo} is now {self.renamed[repo]} on GitHub (renamed or transferred); its rows are stored under "
                f"{repo}. Fix: change it to {self.renamed[repo]} under `github.repos` (and `teams`) in "
                f"{settings.config_path()}.")

    # -- transport -------------------------------------------------------------------------------------
    def graphql(self, query: str, variables: dict[str, Any], what: str, *, timeouts: str = "retry",
                partial: bool = False) -> dict[str, Any]:
        """POST one query; returns `data`. GraphQL errors raise ApiError naming `what` and the URL.

        `timeouts="raise"`: a timeout (502/504, or `data: null` with a timeout error) raises GraphQLTimeout at
        once, for a caller that asks for less next; `"retry"`: it is retried with backoff like a 5xx, within
        the retry budget. `partial=True`: errors about one aliased repository whose value is null are left
        to the caller (`_path_errors`), the rest of `data` is returned."""
        self._path_errors = []
        if self._spent is not None:  # waited for here, not after the last answer (a run that is done never waits)
            reset, why = self._spent
            self._spent = None
            self._wait_until(reset, why)
        timeouts_seen = 0
        started = time.monotonic()
        rate_limited = 0
        while True:
            try:
                body, headers = self.http.request_json(
                    "POST", self.graphql_url, json={"query": query, "variables": variables},
                    raise_statuses=TIMEOUT_STATUSES if timeouts == "raise" else ())
            except ApiServerError as exc:
                raise GraphQLTimeout(f"GitHub stopped the {what} query at {self.graphql_url} ({exc.status})") from exc
            if not isinstance(body, dict):
                raise ApiPayloadError(f"GitHub answered {what} at {self.graphql_url} with something that is not a JSON object")
            errors = body.get("errors") or []
            if any(e.get("type") == "RATE_LIMITED" for e in errors if isinstance(e, dict)):
                rate_limited += 1
                if rate_limited >= 5:
                    raise ApiError(f"GitHub kept answering RATE_LIMITED for {what} at {self.graphql_url}; "
                                   "try again after the reset")
                self._wait_until(headers.get("x-ratelimit-reset"), "GraphQL RATE_LIMITED")
                continue
            if errors and body.get("data") is None and _is_timeout(errors):
                if timeouts == "raise":
                    raise GraphQLTimeout(f"GitHub stopped the {what} query at {self.graphql_url} (timeout)")
                timeouts_seen += 1
                elapsed = time.monotonic() - started
                policy = self.http.policy
                if timeouts_seen >= policy.max_attempts or elapsed >= policy.max_elapsed_s:
                    raise ApiError(f"GitHub kept stopping the {what} query at {self.graphql_url} as too slow "
                                   f"({timeouts_seen} timeouts); try again later")
                self.stats.retries += 1
                self.sleep(min(policy.max_delay_s, policy.base_delay_s * 2 ** (timeouts_seen - 1)))
                continue
            data = body.get("data")
            denied = _permission_errors(errors)
            if denied:
                self._permission_missing(denied, what)
            if errors:
                repo_errors = _repo_errors(errors)
                if partial and isinstance(data, dict) and len(repo_errors) == len(errors) and all(
                        e.get("path") and data.get(e["path"][0]) is None for e in repo_errors):
                    self._path_errors = repo_errors
                else:
                    messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                                         for e in errors[:3])
                    if repo_errors and len(repo_errors) == len(errors):
                        raise RepositoryUnavailable(
                            f"GitHub rejected the {what} query at {self.graphql_url}: {messages}. Check `github.repos` "
                            f"in the project config ({settings.config_path()}) and that {self.credentials} can read those "
                            "repositories.", forbidden=any(e.get("type") == "FORBIDDEN" for e in repo_errors))
                    raise ApiError(f"GitHub rejected the {what} query at {self.graphql_url}: {messages}.")
            if not isinstance(data, dict):
                raise ApiPayloadError(f"GitHub answered {what} at {self.graphql_url} without `data`")
            self._respect_budget(data.get("rateLimit"), headers)
            return data

    def _respect_budget(self, rate: Any, headers: Any) -> None:
        """When the primary budget is spent (for a backfill: down to the reserve it leaves the hourly
        refresh, `RateLimitPacing`), the next request first waits for its reset."""
        remaining, reset, limit = None, None, None
        if isinstance(rate, dict) and rate.get("remaining") is not None:
            remaining = int(rate["remaining"])
            limit = int(rate["limit"]) if rate.get("limit") is not None else None
            if rate.get("resetAt"):
                reset = parse_timestamp(rate["resetAt"]).timestamp()
            cost = int(rate.get("cost") or 1)
        else:
            cost = 1
            if headers.get("x-ratelimit-remaining") is not None:
                remaining = int(headers["x-ratelimit-remaining"])
                reset = float(headers.get("x-ratelimit-reset") or 0) or None
        if limit is None and headers.get("x-ratelimit-limit") is not None:
            limit = int(headers["x-ratelimit-limit"])
        if remaining is None:
            return
        if remaining < max(cost, 1):
            self._spent = (reset, "primary rate limit spent")
        elif limit and remaining - cost < self.http.pacing.kept(limit):
            self._spent = (reset, "the rest is kept for the hourly refresh")

    def _wait_until(self, reset: Any, why: str) -> None:
        try:
            target = float(reset) if reset is not None else time.time() + 60
        except (TypeError, ValueError):
            target = time.time() + 60
        wait = max(0.0, target - time.time()) + 1.0
        self.stats.rate_limit_waits += 1
        self.stats.rate_limit_wait_s += wait
        self.http.pacing.wait("GitHub", wait, self.sleep, why)

    # -- pull requests -----------------------------------------------------------------------------------
    def pull_requests_updated_between(self, repos: Iterable[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every PR of `repos` whose `updatedAt` is in [start, end), complete, sorted by (repo, number)."""
        prs = [pr for chunk in self.pull_request_chunks(repos, start, end) for pr in chunk]
        return sorted(prs, key=lambda p: (p["repository"]["nameWithOwner"], p["number"]))

    def pull_request_chunks(self, repos: Iterable[str], start: datetime, end: datetime
                            ) -> Iterator[list[dict[str, Any]]]:
        """The same PRs as `pull_requests_updated_between`, one search page of complete PRs at a time (so a
        day of 50,000 PRs never sits in memory at once). A PR is yielded once even when two search windows
        both return it. A repo that cannot be read is retried alone, so it never fails the repos searched
        with it; see `repo_problems` and `renamed`."""
        configured = sorted(set(repos))
        seen: set[str] = set()
        for search in search_strings(configured, start, end):
            batch = [token[len("repo:"):] for token in search.split() if token.startswith("repo:")]
            try:
                yield from self._search_chunks(search, start, end, seen)
            except RepositoryUnavailable:
                for repo in batch:
                    yield from self._isolated(repo, start, end, seen)
        if configured and len(self.repo_problems) == len(configured):
            raise ApiError("GitHub can read none of the configured repositories:\n" + "\n".join(
                self.repo_problems[r] for r in configured))

    def _isolated(self, repo: str, start: datetime, end: datetime, seen: set[str]) -> Iterator[list[dict[str, Any]]]:
        """One repo searched alone; where it cannot be, find out why (gone, forbidden, renamed)."""
        try:
            yield from self._search_chunks(search_strings([repo], start, end)[0], start, end, seen)
            return
        except RepositoryUnavailable as exc:
            if exc.forbidden:
                self._forbidden(repo, str(exc))
                return
        current = self._current_name(repo)
        if current is None:
            return
        if current.lower() == repo.lower():
            self.repo_problems[repo] = (
                f"{repo}: GitHub shows the repository but cannot search its pull requests. Fix: check that "
                f"{self.credentials} may read its pull requests, or remove it from `github.repos` in {settings.config_path()}.")
            return
        self.renamed[repo] = current
        try:
            for chunk in self._search_chunks(search_strings([current], start, end)[0], start, end, seen):
                for pr in chunk:
                    pr["repository"]["nameWithOwner"] = repo  # stored under the configured name
                yield chunk
        except RepositoryUnavailable as exc:
            del self.renamed[repo]
            self.repo_problems[repo] = (f"{repo} is now {current} on GitHub, which cannot be searched either: {exc}")

    def _current_name(self, repo: str) -> str | None:
        """The repo's `nameWithOwner` now (GitHub follows renames and transfers), or None with the problem noted."""
        owner, name = repo.split("/", 1)
        try:
            data = self.graphql(queries.REPOSITORY_NAME, {"owner": owner, "name": name}, f"repository {repo}",
                                partial=True)
        except RepositoryUnavailable as exc:
            self._forbidden(repo, str(exc)) if exc.forbidden else self._gone(repo)
            return None
        found = data.get("repository")
        if not found:
            forbidden = any(e.get("type") == "FORBIDDEN" for e in self._path_errors)
            self._forbidden(repo, "FORBIDDEN") if forbidden else self._gone(repo)
            return None
        return str(_need(found, "nameWithOwner", f"repository {repo}"))

    def _permission_missing(self, denied: list[dict[str, Any]], what: str) -> None:
        """Fail the partition (its old data stays) naming the permission, instead of leaving repos out."""
        fields = [str(p) for e in denied for p in (e.get("path") or []) if str(p) in FIELD_PERMISSIONS]
        needed = sorted({FIELD_PERMISSIONS[f] for f in fields}) or ["the permission this query needs"]
        grant = ", ".join(f"{p}: read" if p in FIELD_PERMISSIONS.values() else p for p in needed)
        where = "/".join(str(p) for p in denied[0].get("path") or []) or what
        raise ApiAuthError(
            f"GitHub refused the {what} query at {self.graphql_url} ({denied[0].get('message')}, at {where}): "
            f"{self.credentials} lacks {grant}. Grant it: a GitHub App in its settings (Permissions & events), then "
            "accept the new permissions on the installation (organization settings, GitHub Apps); a fine-grained "
            "token in its repository permissions. Nothing was written for this partition.")

    def _gone(self, repo: str) -> None:
        self.repo_problems[repo] = (
            f"{repo}: GitHub cannot find this repository (deleted, or {self.credentials} cannot see it); it was left out. "
            f"Fix: remove it from `github.repos` (and `teams`) in {settings.config_path()}, or give the token "
            "read access to it.")

    def _forbidden(self, repo: str, detail: str) -> None:
        self.repo_problems[repo] = (
            f"{repo}: GitHub refused access (FORBIDDEN: the organization enforces SAML single sign-on, or the "
            f"token lacks access); it was left out. Fix: authorize {self.credentials} for the organization's SSO "
            f"(a token: GitHub settings, Personal access tokens, Configure SSO; an App: install it on the "
            f"organization with access to the repository), or remove it from `github.repos` in "
            f"{settings.config_path()}.")

    def _search_chunks(self, search: str, start: datetime, end: datetime, seen: set[str]
                       ) -> Iterator[list[dict[str, Any]]]:
        """All results of one search string, page by page (complete PRs not seen before), narrowing the window
        when GitHub's 1,000-result cap is hit and asking for smaller pages when GitHub times out."""
        lower = start
        window = f"updated:{github_timestamp(start)}.."
        sizes = self.page_sizes
        while True:
            text = search.replace(window, f"updated:{github_timestamp(lower)}..", 1)
            self.search_windows += 1
            guard = PageGuard(f"GitHub search at {self.graphql_url} ({text!r})")
            cursor: str | None = None
            returned = 0
            last_updated: datetime | None = None
            while True:
                try:
                    data = self.graphql(queries.SEARCH_PULL_REQUESTS,
                                        {"searchQuery": text, "pageSize": sizes.search,
                                         "nestedPageSize": sizes.nested, "cursor": cursor},
                                        "pull request search", timeouts="raise" if sizes.can_shrink() else "retry")
                except GraphQLTimeout:
                    sizes.shrink()  # the same cursor, a lighter page
                    continue
                sizes.succeeded()
                result = _need(data, "search", "a search answer")
                issue_count = int(_need(result, "issueCount", "a search answer"))
                page_info = _need(result, "pageInfo", "a search answer")
                nodes = _need(result, "nodes", "a search answer")
                chunk: list[dict[str, Any]] = []
                for node in nodes:
                    returned += 1
                    if not node or node.get("__typename") != "PullRequest":
                        continue
                    pr = self._checked_pull_request(node)
                    last_updated = parse_timestamp(pr["updatedAt"])
                    if pr["id"] not in seen:
                        seen.add(pr["id"])
                        chunk.append(pr)
                more = bool(page_info.get("hasNextPage"))
                next_cursor = _need(page_info, "endCursor", "a search page") if more else None
                guard.page(next_cursor, [n.get("id") for n in nodes if n], total=min(issue_count, SEARCH_RESULT_CAP),
                           page_size=sizes.search)
                for pr in chunk:
                    self._complete(pr)
                if chunk:
                    yield chunk
                if not more:
                    break
                cursor = next_cursor
            if issue_count <= returned or last_updated is None:
                return
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
            guard = PageGuard(f"GitHub {entity} {connection} at {self.graphql_url}")
            total = page.get("totalCount")
            while page["pageInfo"].get("hasNextPage"):
                cursor = _need(page["pageInfo"], "endCursor", f"{entity} {connection}")
                guard.page(cursor, total=total)
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
        configured = sorted(set(repos))
        pending: dict[str, str | None] = {repo: None for repo in configured}
        guards = {repo: PageGuard(f"GitHub repository {repo} {kind} at {self.graphql_url}") for repo in pending}
        found: dict[str, dict[str, Any]] = {}
        while pending:
            batch = list(pending.items())[:REPOS_PER_REQUEST]
            variables: dict[str, Any] = {}
            for i, (repo, cursor) in enumerate(batch):
                owner, name = repo.split("/", 1)
                variables.update({f"owner{i}": owner, f"name{i}": name, f"cursor{i}": cursor})
            data = self.graphql(queries.repository_pages_query(kind, len(batch)), variables, f"repository {kind}",
                                partial=True)
            failed = {str(e["path"][0]): e for e in self._path_errors}
            for i, (repo, _cursor) in enumerate(batch):
                if f"r{i}" in failed:  # deleted or forbidden: left out, named in the metadata and the check
                    error = failed[f"r{i}"]
                    self._forbidden(repo, str(error.get("message"))) if error.get("type") == "FORBIDDEN" \
                        else self._gone(repo)
                    del pending[repo]
                    continue
                repository = _need(data, f"r{i}", f"repository {repo}")
                current = repository.get("nameWithOwner")
                if current and str(current).lower() != repo.lower():
                    self.renamed[repo] = str(current)
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
                    guards[repo].page(pending[repo], [item["id"] for item in nodes])
                else:
                    del pending[repo]
        if configured and len(self.repo_problems) == len(configured):
            raise ApiError(f"GitHub can read none of the configured repositories ({kind}):\n" + "\n".join(
                self.repo_problems[r] for r in configured))
        return sorted(found.values(), key=lambda r: (r["repository"], r["createdAt"], r["id"]))


def strip_nested(pr: dict[str, Any]) -> dict[str, Any]:
    """The PR's own JSON for `payload`: nested reviews/commits/events live in their own tables."""
    out = copy.copy(pr)
    for connection in ("reviews", "commits", "timelineItems"):
        if isinstance(out.get(connection), dict):
            out[connection] = {"totalCount": out[connection].get("totalCount")}
    return out


class GitHubResource(EnvOnlyCredentialsResource):
    """GitHub's GraphQL and REST APIs. The credentials and the URL come from the environment only -- a GitHub
    App (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY or _FILE, optional GITHUB_APP_INSTALLATION_ID) or GITHUB_TOKEN, and
    GITHUB_API_URL (default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3), read
    when used -- so run config cannot send the token to another host."""

    ENV_ONLY: ClassVar[dict[str, str]] = {"api_url": "GITHUB_API_URL", "token": TOKEN_ENV, "app_id": APP_ID_ENV,
                                          "private_key": KEY_ENV, "private_key_file": KEY_FILE_ENV,
                                          "installation_id": INSTALLATION_ENV}

    max_elapsed_s: float = Field(default=600.0, description="Give up on one request after this many seconds of retries.")

    def client(self) -> GitHubClient:
        """A client with fresh counters (one per asset run, so metadata shows that run's spend). A GitHub App
        (GITHUB_APP_ID and its key) wins over GITHUB_TOKEN; see emd.github_auth."""
        api_url = settings.github_api_url()
        return GitHubClient(None, api_url, policy=RetryPolicy(max_elapsed_s=self.max_elapsed_s),
                            auth=github_auth(repo_owners, api_url))


def repo_owners() -> list[str]:
    """The owners of `github.repos` (where a GitHub App's installation is looked up), read when needed."""
    from emd.config import load_config  # noqa: PLC0415

    return sorted({repo.split("/", 1)[0] for repo in load_config(settings.config_path()).repos})
