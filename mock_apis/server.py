"""`emd mock-api`: one loopback HTTP server that plays GitHub, Jira, Slack, PagerDuty, Notion, Google Drive/Slides
and an OpenAI-compatible LLM.

Vendor behaviour lives in one module each (`github.py` + `github_actions.py` (REST) + `github_app.py` (App
endpoints), `jira.py` + `atlassian_oauth.py`, `slack.py`,
`pagerduty.py`, `llm.py`); each exposes
`register(router, state)`. This module owns routing, fault injection and request counting.

Fault injection (`--fault-rate 0.2 --fault-seed 1`): before a vendor handler runs, a request may instead
get a 500/502/503, a 403/429 with Retry-After, a dropped connection, a slow answer, or a body cut short.
A cut body alternates between its two forms (no extra random draw, so a seed picks the same requests and
kinds as before): a `Content-Length` that matches a half body (a truncated JSON document), and a
`Content-Length` of the whole body with only part of it written before the connection closes (what a
dropped connection mid-body looks like: urllib3's IncompleteRead, requests' ChunkedEncodingError).
Requests whose path is under `/_mock/` are never faulted (tests use them to inspect state).

`POST /_mock/switch {"fault_plan": [{"kind": "cut", "path": "/rest/api/3/search/jql"}, ...]}` forces faults
on the next requests whose path starts with `path` (any path when it is left out), one entry per request,
in order; kinds: 500 502 503 504 403 429 reset truncated cut slow.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from mock_apis.org import SyntheticOrg


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


Handler = Callable[[Request, "re.Match[str]"], Response]


@dataclass
class FaultConfig:
    rate: float = 0.0
    seed: int = 1
    slow_s: float = 0.3
    retry_after_s: int = 1
    plan: list[dict[str, Any]] = field(default_factory=list)  # forced faults: [{"kind": ..., "path": prefix}]


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def resolve(self, method: str, path: str) -> tuple[Handler, re.Match[str]] | None:
        for m, pattern, handler in self.routes:
            if m == method:
                match = pattern.match(path)
                if match:
                    return handler, match
        return None


@dataclass
class MockState:
    """Everything the vendor modules share: the org, credentials, counters and switches."""

    org: SyntheticOrg
    github_token: str = "mock-github-token"
    github_app_id: int = 4242  # the mock GitHub App (mock_apis/github_app.py holds its key pair)
    jira_email: str = "bot@acme.example"
    jira_token: str = "mock-jira-token"
    jira_timezone: str = "America/Los_Angeles"
    slack_token: str = "xoxb-mock-slack-token"
    openai_key: str = "mock-openai-key"
    pagerduty_token: str = "mock-pagerduty-token"
    github_rate_limit: int = 5000  # GitHub's GraphQL points per window (`--rate-limit`)
    github_rate_window_s: float = 3600.0  # GitHub's window is an hour; pacing tests shorten it
    faults: FaultConfig = field(default_factory=FaultConfig)
    counts: dict[str, int] = field(default_factory=dict)
    switches: dict[str, Any] = field(default_factory=dict)  # per-vendor behaviour toggles, set via /_mock/switch
    lock: threading.Lock = field(default_factory=threading.Lock)
    extra: dict[str, Any] = field(default_factory=dict)  # vendor modules keep their data here

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1


def build_router(state: MockState) -> Router:
    router = Router()
    from mock_apis import (  # noqa: PLC0415 - vendor modules register routes
        atlassian_oauth,
        github,
        github_actions,
        github_ai,
        github_app,
        google,
        jira,
        llm,
        notion,
        pagerduty,
        prometheus,
        slack,
    )

    for vendor in (github, github_actions, github_app, jira, atlassian_oauth, slack, llm, pagerduty, prometheus,
                   notion, github_ai, google):
        vendor.register(router, state)

    def counts(_req: Request, _m: re.Match[str]) -> Response:
        with state.lock:
            return Response(body=dict(state.counts))

    def reset(_req: Request, _m: re.Match[str]) -> Response:
        with state.lock:
            state.counts.clear()
        return Response(body={"ok": True})

    def switch(req: Request, _m: re.Match[str]) -> Response:
        body = req.json() or {}
        with state.lock:
            if "fault_rate" in body:
                state.faults.rate = float(body.pop("fault_rate"))
            if "fault_seed" in body:
                state.faults.seed = int(body.pop("fault_seed"))
            if "fault_plan" in body:
                state.faults.plan = [dict(entry) for entry in body.pop("fault_plan") or []]
            state.switches.update(body)
        return Response(body={"ok": True, "switches": state.switches, "fault_rate": state.faults.rate})

    router.add("GET", "/_mock/counts", counts)
    router.add("POST", "/_mock/reset", reset)
    router.add("POST", "/_mock/switch", switch)
    return router


class _FaultPicker:
    def __init__(self, state: MockState):
        self.state = state
        self.rng = random.Random(state.faults.seed)
        self.seed = state.faults.seed
        self.lock = threading.Lock()
        self.cut_bodies = 0

    def pick(self, path: str) -> str | None:
        with self.lock:
            plan = self.state.faults.plan
            for i, entry in enumerate(plan):
                if path.startswith(str(entry.get("path") or "/")):
                    return str(plan.pop(i)["kind"])
            if self.state.faults.seed != self.seed:
                self.seed = self.state.faults.seed
                self.rng = random.Random(self.seed)
            if self.state.faults.rate <= 0 or self.rng.random() >= self.state.faults.rate:
                return None
            fault = self.rng.choice(["500", "502", "503", "403", "429", "reset", "truncated", "slow"])
            if fault == "truncated":  # every other cut body is a connection dropped mid-body
                self.cut_bodies += 1
                fault = "cut" if self.cut_bodies % 2 == 0 else fault
            return fault


def make_server(state: MockState, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    router = build_router(state)
    faults = _FaultPicker(state)

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; without TCP_NODELAY each keep-alive answer waits ~40 ms
        # for the client's delayed ACK (Nagle), which would dominate every benchmark.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
            return

        def _handle(self) -> None:
            parsed = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            req = Request(self.command, parsed.path, parse_qs(parsed.query),
                          {k.lower(): v for k, v in self.headers.items()}, body)
            resolved = router.resolve(self.command, parsed.path)
            if resolved is None:
                self._send(Response(404, {"message": f"mock-api: no route for {self.command} {parsed.path}"}))
                return
            handler, match = resolved
            fault = None if parsed.path.startswith("/_mock/") else faults.pick(parsed.path)
            if fault == "403" and parsed.path.startswith(("/v1/", "/slack/", "/pagerduty/", "/google/")):
                fault = "429"  # a 403 rate limit is GitHub's and Jira's way; OpenAI, Slack, PagerDuty, Google send 429
            if fault is not None:
                state.count(f"fault:{fault}")
                state.count(f"faulted:/{parsed.path.split('/')[1]}")  # which API: graphql, rest, v1, slack
            if fault in ("500", "502", "503", "504"):
                self._send(Response(int(fault), {"message": "injected server error"}))
                return
            if fault in ("403", "429"):
                self._send(Response(int(fault), {"message": "You have exceeded a secondary rate limit."},
                                    {"Retry-After": str(state.faults.retry_after_s)}))
                return
            if fault == "reset":
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            try:
                response = handler(req, match)
            except Exception as exc:  # a bug in the mock must show up as a 500, not a hang
                response = Response(500, {"message": f"mock-api error: {type(exc).__name__}: {exc}"})
            if fault == "slow":
                time.sleep(state.faults.slow_s)
            if fault == "truncated":
                data = response.encoded()
                self._send(response, data[: max(1, len(data) // 2)], declared=len(data) // 2)
                return
            if fault == "cut":
                # Headers promise the whole body; part of it is written, then the connection closes.
                data = response.encoded()
                self.close_connection = True
                self._send(response, data[: len(data) // 2], declared=len(data))
                self.wfile.flush()
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            self._send(response)

        def _send(self, response: Response, data: bytes | None = None, declared: int | None = None) -> None:
            payload = response.encoded() if data is None else data
            self.send_response(response.status)
            headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(declared if declared is not None else len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    return server


class MockApi:
    """Run the mock in a background thread (tests, `emd demo`). `url` is its base URL."""

    def __init__(self, state: MockState, host: str = "127.0.0.1", port: int = 0):
        self.state = state
        self.server = make_server(state, host, port)
        self.thread = threading.Thread(target=self.server.serve_forever, name="mock-api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def __enter__(self) -> MockApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def env(self) -> dict[str, str]:
        """The environment variables that point the product at this mock."""
        return mock_environment(self.url, self.state)


def mock_environment(url: str, state: MockState | None = None) -> dict[str, str]:
    """The environment variables that point the product at a mock served at `url` (default credentials
    unless `state` says otherwise). These are the mock's fixed test credentials, not secrets."""
    from mock_apis import google, notion  # noqa: PLC0415 - they import this module

    creds = state if state is not None else MockState  # dataclass defaults are class attributes
    return {
        "GITHUB_API_URL": url,
        "GITHUB_TOKEN": creds.github_token,
        "JIRA_BASE_URL": url,
        "JIRA_EMAIL": creds.jira_email,
        "JIRA_API_TOKEN": creds.jira_token,
        "SLACK_API_URL": url + "/slack/api/",
        "SLACK_BOT_TOKEN": creds.slack_token,
        "SLACK_CHANNEL_ID": "C0MOCKCHAN",
        "OPENAI_BASE_URL": url + "/v1",
        "OPENAI_API_KEY": creds.openai_key,
        "EMD_LLM_MODEL": "mock-model",
        "PAGERDUTY_API_URL": url + "/pagerduty",
        "PAGERDUTY_API_TOKEN": creds.pagerduty_token,
        "PROMETHEUS_URL": url + "/prometheus",
        "NOTION_API_URL": url + "/notion",
        "NOTION_TOKEN": notion.TOKEN,
        "NOTION_PARENT_PAGE_ID": notion.PARENT_PAGE_ID,
        # Google Slides: GOOGLE_APPLICATION_CREDENTIALS is a key file, written by mock_apis.google.write_key_file.
        "GOOGLE_API_URL": url + "/google",
        "EMD_SLIDES_TEMPLATE_ID": google.TEMPLATE_ID,
        "EMD_DRIVE_FOLDER_ID": google.FOLDER_ID,
    }
