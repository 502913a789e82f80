"""One HTTP mechanism for every API client: retries, backoff, rate limits, clear errors, counters.

- 5xx, connection resets/timeouts, a connection dropped in the middle of a body (urllib3's
  IncompleteRead/ProtocolError, which requests raises as ChunkedEncodingError or ContentDecodingError)
  and truncated or non-JSON bodies are retried with exponential backoff and full jitter, up to
  `max_attempts`, within `max_elapsed_s` overall.
- 403/429 with `Retry-After` wait that long; a 403/429 with `x-ratelimit-remaining: 0` waits until
  `x-ratelimit-reset`; other 429s (and 403s that say "rate limit") back off from a minute.
- Rate-limit waits do not count against `max_elapsed_s`: a run waits for a far reset (logging "waiting
  until HH:MM UTC for GitHub's rate limit") within `RateLimitPacing.max_wait_s`
  (EMD_RATE_LIMIT_MAX_WAIT_S), so a long backfill paces itself instead of failing; a backfill leaves
  `reserve` of the budget (EMD_RATE_LIMIT_RESERVE) to the hourly refresh.
- 401 (and a 403 that is not a rate limit) is not retried: ApiAuthError names the token variable and URL.
- Tokens never appear in messages: errors name the variable, never its value.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import urllib3.exceptions

# A body that stopped before its Content-Length (or its last chunk), or that cannot be decoded: the
# connection dropped mid-answer. Retried like a 5xx: GET and GraphQL POSTs repeat safely.
DROPPED_BODY_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.ProtocolError,
    http.client.IncompleteRead,
)


class ApiError(RuntimeError):
    """An API failure whose message says what to fix."""


class ApiAuthError(ApiError):
    pass


class ApiUnreachableError(ApiError):
    pass


class ApiNotFoundError(ApiError):
    """404: the URL or a name in it (repo, workflow, service) does not exist or the token cannot see it."""


class ApiPayloadError(ApiError):
    """The API answered with something we cannot use; names the entity and field."""


class ApiServerError(ApiError):
    """A 5xx the caller asked to see instead of a retry (`request_json(..., raise_statuses=...)`)."""

    def __init__(self, message: str, status: int, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass
class ApiStats:
    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0

    def as_metadata(self, prefix: str = "") -> dict[str, float | int]:
        return {
            f"{prefix}api_requests": self.requests,
            f"{prefix}retries": self.retries,
            f"{prefix}rate_limit_waits": self.rate_limit_waits,
            f"{prefix}rate_limit_wait_seconds": round(self.rate_limit_wait_s, 3),
        }


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_delay_s: float = 0.5
    max_delay_s: float = 60.0
    max_elapsed_s: float = 600.0
    secondary_rate_limit_s: float = 60.0
    timeout_s: float = 60.0


MAX_WAIT_ENV = "EMD_RATE_LIMIT_MAX_WAIT_S"
RESERVE_ENV = "EMD_RATE_LIMIT_RESERVE"
DEFAULT_MAX_WAIT_S = 3900.0  # GitHub's and Jira's windows are an hour: one reset, with a margin
DEFAULT_RESERVE = 0.2


def _env_number(name: str, default: float, low: float, high: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        raise ApiError(f"{name}={text!r} is not a number between {low:g} and {high:g}")
    return value


@dataclass
class RateLimitPacing:
    """How a run spends an API's rate limit: it waits up to `max_wait_s` for a reset (longer stops the
    partition with a message naming EMD_RATE_LIMIT_MAX_WAIT_S), and a backfill keeps `reserve` (a share
    of the budget) for the hourly refresh. `waits` lists what the run waited for (for its metadata)."""

    max_wait_s: float = DEFAULT_MAX_WAIT_S
    reserve: float = 0.0
    log: Callable[[str], None] | None = None
    waits: list[str] = field(default_factory=list)

    @classmethod
    def from_env(cls, backfill: bool = False, log: Callable[[str], None] | None = None) -> RateLimitPacing:
        """EMD_RATE_LIMIT_MAX_WAIT_S (seconds, default 3900) and, for a backfill, EMD_RATE_LIMIT_RESERVE
        (0..0.9, default 0.2); the hourly refresh may spend the whole budget."""
        max_wait = _env_number(MAX_WAIT_ENV, DEFAULT_MAX_WAIT_S, 0, 7 * 86400)
        reserve = _env_number(RESERVE_ENV, DEFAULT_RESERVE, 0, 0.9) if backfill else 0.0
        return cls(max_wait_s=max_wait, reserve=reserve, log=log)

    def kept(self, limit: int) -> int:
        """Points of a budget of `limit` this run leaves unspent."""
        return math.ceil(self.reserve * limit)

    def wait(self, service: str, seconds: float, sleep: Callable[[float], None], why: str = "") -> None:
        if seconds > self.max_wait_s:
            reason = f" ({why})" if why else ""
            raise ApiError(f"{service}'s rate limit{reason} resets in {seconds:.0f}s, longer than {MAX_WAIT_ENV} "
                           f"({self.max_wait_s:.0f}s); raise it or run this partition again later")
        until = datetime.now(UTC) + timedelta(seconds=seconds)
        message = f"waiting until {until:%H:%M} UTC for {service}'s rate limit"
        if seconds >= 60 or not self.waits or self.waits[-1] != message:
            self.waits.append(message)
            if self.log is not None:
                self.log(f"{message} ({seconds:.0f}s)")
        sleep(seconds)

    def as_metadata(self) -> dict[str, str]:
        return {"rate_limit_waiting": "\n".join(self.waits) or "none"}


@dataclass
class HttpClient:
    """`name` is the service ("GitHub"), `token_env` the variable(s) that hold its credentials."""

    name: str
    token_env: str
    url_env: str = ""  # the variable that holds the base URL, named when the service cannot be reached
    session: requests.Session = field(default_factory=requests.Session)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    stats: ApiStats = field(default_factory=ApiStats)
    sleep: Callable[[float], None] = time.sleep
    pacing: RateLimitPacing = field(default_factory=RateLimitPacing.from_env)

    def request_json(self, method: str, url: str, raise_statuses: Collection[int] = (),
                     decode: Callable[[requests.Response], Any] | None = None, **kwargs: Any
                     ) -> tuple[Any, requests.structures.CaseInsensitiveDict]:
        """Send a request, retrying what is worth retrying; returns (decoded JSON body, headers).

        A status in `raise_statuses` raises ApiServerError at once (the caller changes the request first:
        GitHub's GraphQL client asks for a smaller page after a 502/504 timeout). `decode` reads a body that
        is not one JSON document (NDJSON); a ValueError from it is retried like a truncated body."""
        kwargs.setdefault("timeout", self.policy.timeout_s)
        started = time.monotonic()
        attempt = 0
        last_problem = ""
        while True:
            attempt += 1
            self.stats.requests += 1
            wait: float | None = None
            try:
                response = self.session.request(method, url, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_problem = f"could not reach {url}: {type(exc).__name__}"
                if attempt == 1 and isinstance(exc, requests.ConnectionError) and _is_refused(exc):
                    # A refused connection on the first try is almost always a wrong URL; still retry briefly.
                    last_problem = f"could not connect to {url} (connection refused)"
            except DROPPED_BODY_ERRORS as exc:
                last_problem = f"the connection to {url} dropped in the middle of the answer ({type(exc).__name__})"
            else:
                status = response.status_code
                if status == 401:
                    raise ApiAuthError(
                        f"{self.name} rejected the credentials in {self.token_env} (401 from {url}). "
                        f"Check that {self.token_env} is set to a valid, unexpired token."
                    )
                if status in (403, 429):
                    wait = self._rate_limit_wait(response, attempt)
                    if wait is None:
                        raise ApiAuthError(
                            f"{self.name} refused access (403 from {url}): the token in {self.token_env} "
                            f"lacks a permission or scope this request needs.{_permission_hint(response)}"
                        )
                    last_problem = f"rate limited ({status}) by {url}"
                    self.stats.rate_limit_waits += 1
                    self.stats.rate_limit_wait_s += wait
                    self.pacing.wait(self.name, wait, self.sleep)
                    started += wait  # a rate limit's wait is not a retry budget's time
                    self.stats.retries += 1
                    if attempt >= self.policy.max_attempts:
                        raise ApiUnreachableError(f"{self.name}: still rate limited by {url} after {attempt} "
                                                  "waits; run this partition again later.")
                    continue
                elif status == 404:
                    raise ApiNotFoundError(f"{self.name} answered 404 for {url}: check the URL and the names in the config.")
                elif status == 410:
                    raise ApiError(f"{self.name} answered 410 Gone for {url}: that endpoint was removed.")
                elif status in raise_statuses:
                    try:
                        detail = response.json()
                    except ValueError:
                        detail = None
                    raise ApiServerError(f"{self.name} answered {status} for {url}", status, detail)
                elif status >= 500:
                    last_problem = f"{url} answered {status}"
                elif status >= 400:
                    raise ApiError(f"{self.name} answered {status} for {url}: {_short(response.text)}")
                else:
                    try:
                        body = decode(response) if decode else response.json() if response.content else None
                        return body, response.headers
                    except (ValueError, json.JSONDecodeError):
                        last_problem = f"{url} answered a truncated or non-JSON body"
            elapsed = time.monotonic() - started
            if attempt >= self.policy.max_attempts or elapsed >= self.policy.max_elapsed_s:
                where = f" (check {self.url_env})" if self.url_env else ""
                raise ApiUnreachableError(
                    f"{self.name}: gave up after {attempt} attempts in {elapsed:.0f}s; last problem: {last_problem}. "
                    f"Check that the URL is right{where} and the service is up."
                )
            if wait is None:
                wait = min(self.policy.max_delay_s, self.policy.base_delay_s * 2 ** (attempt - 1))
                wait = random.uniform(wait / 2, wait)  # jitter
            wait = min(wait, max(0.0, self.policy.max_elapsed_s - elapsed))
            self.stats.retries += 1
            self.sleep(wait)

    def _rate_limit_wait(self, response: requests.Response, attempt: int) -> float | None:
        headers = response.headers
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return self.policy.secondary_rate_limit_s
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
            try:
                return max(0.0, float(headers["x-ratelimit-reset"]) - time.time()) + 1.0
            except ValueError:
                return self.policy.secondary_rate_limit_s
        text = response.text.lower() if response.status_code == 403 else ""
        if response.status_code == 429 or "rate limit" in text:
            return min(self.policy.max_delay_s * 10, self.policy.secondary_rate_limit_s * 2 ** (attempt - 1))
        return None


def _permission_hint(response: requests.Response) -> str:
    """GitHub names what a GitHub App or fine-grained token lacks in `X-Accepted-GitHub-Permissions`
    (`actions=read`; alternatives separated by `;`)."""
    accepted = response.headers.get("x-accepted-github-permissions")
    if not accepted:
        return ""
    grants = " or ".join(", ".join(f"{p.split('=')[0].strip()}: {p.split('=')[-1].strip()}" for p in option.split(","))
                         for option in accepted.split(";") if option.strip())
    return (f" GitHub says it needs {grants}: grant it (a GitHub App: its settings, Permissions & events, then "
            "accept the new permissions on the installation; a fine-grained token: its repository permissions).")


def _is_refused(exc: Exception) -> bool:
    return "refused" in str(exc).lower()


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


class PagingError(ApiError):
    """Paging that does not end: a repeated cursor/token, or more pages or items than the total allows."""


@dataclass
class PageGuard:
    """Stops paging that would never end, for any cursor- or token-paged endpoint (GitHub, Jira).

    Call `page()` once per page received, with the cursor/token it gives for the next page (None on the last
    page), the keys of its items, and the total the API reported when it reports one. It raises PagingError
    naming `endpoint` when a cursor comes back a second time, when a page holds only items already seen, or
    when more pages (or items) arrive than the reported total allows.
    """

    endpoint: str
    tokens: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    pages: int = 0
    smallest_page: int | None = None

    def page(self, next_token: str | None, keys: Iterable[Any] = (), total: int | None = None,
             page_size: int | None = None) -> None:
        self.pages += 1
        page_keys = [str(k) for k in keys]
        if page_keys and all(k in self.keys for k in page_keys) and next_token is not None:
            self._stop(f"page {self.pages} holds only items of earlier pages")
        self.keys.update(page_keys)
        if page_size:
            self.smallest_page = min(page_size, self.smallest_page or page_size)
        if total is not None and next_token is not None:
            # One more page than the total needs at the smallest page size, for items added while paging.
            allowed = -(-max(total, 0) // (self.smallest_page or 1)) + 1
            if self.pages > allowed or len(self.keys) > total + (self.smallest_page or 0):
                self._stop(f"{self.pages} pages and {len(self.keys)} items, more than the reported total of "
                           f"{total} allows")
        if next_token is None:
            return
        if next_token in self.tokens:
            self._stop(f"the same next-page cursor came back twice (after page {self.pages})")
        self.tokens.add(next_token)

    def _stop(self, why: str) -> None:
        raise PagingError(f"paging of {self.endpoint} does not end: {why}. Stopped instead of looping; nothing "
                          "was written for this partition. Try again later; if it persists, the API (or a proxy "
                          "in front of it) is returning broken pages.")
