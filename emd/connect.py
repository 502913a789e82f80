"""`emd connect github --org ORG`: GitHub's App manifest flow, run from a loopback web page.

1. A server on 127.0.0.1 (a free port) serves a page whose form posts a manifest (read-only permissions:
   metadata, contents, pull requests, issues, actions, deployments, members; no webhook) with a random
   `state` to `{GitHub web}/organizations/ORG/settings/apps/new`. The command opens it in the browser (and
   prints its URL); the page submits itself.
2. The user confirms on GitHub ("Create GitHub App for ORG"); GitHub redirects to the loopback
   `/callback?code=...&state=...`. A `state` that is not ours is refused (403) and nothing is stored.
3. The code is converted (`POST {GitHub API}/app-manifests/{code}/conversions`, no auth; a code works
   once, for an hour) into the App's id, slug and private key, which are stored in EMD_CREDENTIALS_FILE
   (mode 0600, emd.credentials). The command prints where to install the App and the variables to set.

GitHub web URL: GITHUB_WEB_URL, else derived from GITHUB_API_URL (`https://api.github.com` -> `https://github.com`;
GitHub Enterprise Server `https://HOST/api/v3` -> `https://HOST`; any other URL, e.g. a mock, as is).
"""

from __future__ import annotations

import html
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

from emd import settings
from emd.credentials import CREDENTIALS_ENV, write_section
from emd.github_auth import APP_ID_ENV, INSTALLATION_ENV
from emd.http import ApiError, ApiNotFoundError, HttpClient, RetryPolicy
from emd.loopback import send_page, text_page

WEB_URL_ENV = "GITHUB_WEB_URL"
MANIFEST_PERMISSIONS = {"metadata": "read", "contents": "read", "pull_requests": "read", "issues": "read",
                        "actions": "read", "deployments": "read", "members": "read"}


def github_web_url(api_url: str | None = None) -> str:
    given = settings.env(WEB_URL_ENV)
    if given:
        return given.rstrip("/")
    api_url = (api_url or settings.github_api_url()).rstrip("/")
    if urlparse(api_url).netloc == "api.github.com":
        return "https://github.com"
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/api/v3")]
    return api_url


def app_manifest(org: str, base_url: str) -> dict[str, Any]:
    """A read-only App without a webhook (`hook_attributes.active: false`), redirecting to our callback."""
    return {"name": f"engineering-metrics-{org}"[:34], "url": "https://github.com/", "public": False,
            "hook_attributes": {"url": base_url + "/no-webhook", "active": False},
            "redirect_url": base_url + "/callback", "default_permissions": MANIFEST_PERMISSIONS,
            "default_events": [], "description": "Read-only access for the engineering metrics pipeline."}


@dataclass
class ConnectedApp:
    app_id: int
    slug: str
    html_url: str
    credentials_file: Path
    install_url: str


class _Flow:
    def __init__(self, org: str, web_url: str, api_url: str, credentials_file: Path | None):
        self.org, self.web_url, self.api_url = org, web_url, api_url
        self.credentials_file = credentials_file
        self.state = secrets.token_urlsafe(24)
        self.done = threading.Event()
        self.result: ConnectedApp | None = None
        self.error: str | None = None

    def page(self, base_url: str) -> str:
        action = f"{self.web_url}/organizations/{quote(self.org, safe='')}/settings/apps/new?state={self.state}"
        manifest = json.dumps(app_manifest(self.org, base_url))
        return ("<!doctype html><meta charset='utf-8'><title>Connect GitHub</title>"
                f"<form id='f' method='post' action='{html.escape(action)}'>"
                f"<input type='hidden' name='manifest' value='{html.escape(manifest)}'>"
                f"<p>Creating a read-only GitHub App for {html.escape(self.org)}…</p>"
                "<button type='submit'>Continue to GitHub</button></form>"
                "<script>document.getElementById('f').submit()</script>")

    def callback(self, query: dict[str, list[str]]) -> tuple[int, str]:
        if (query.get("state") or [""])[0] != self.state:
            return 403, "The state does not match this `emd connect github` run; nothing was stored. Start it again."
        code = (query.get("code") or [""])[0]
        if not code:
            return 400, "GitHub sent no code; nothing was stored. Start `emd connect github` again."
        http = HttpClient(name="GitHub", token_env="(none: the manifest code)", url_env="GITHUB_API_URL",
                          policy=RetryPolicy(max_attempts=3))
        try:
            body, _ = http.request_json("POST", f"{self.api_url}/app-manifests/{quote(code, safe='')}/conversions",
                                        headers={"Accept": "application/vnd.github+json"})
        except ApiNotFoundError:
            self.error = "GitHub did not know the code (it works once, for an hour): run `emd connect github` again"
            return 400, self.error
        except ApiError as exc:
            self.error = f"converting the code failed: {exc}"
            return 502, self.error
        if not isinstance(body, dict) or not body.get("id") or not body.get("pem"):
            self.error = "GitHub answered the manifest conversion without the App's `id` or `pem`"
            return 502, self.error
        path = write_section("github_app", {"app_id": int(body["id"]), "slug": body.get("slug"),
                                            "client_id": body.get("client_id"), "pem": body["pem"],
                                            "client_secret": body.get("client_secret"), "org": self.org},
                             self.credentials_file)
        slug = str(body.get("slug") or "")
        html_url = str(body.get("html_url") or f"{self.web_url}/apps/{slug}")
        self.result = ConnectedApp(int(body["id"]), slug, html_url, path, f"{html_url}/installations/new")
        return 200, (f"The App {slug} was created. Install it on {self.org}: {self.result.install_url} — then "
                     "return to the terminal.")


def connect_github(org: str, open_browser: Callable[[str], Any] | None = None, port: int = 0,
                   timeout_s: float = 600.0, credentials_file: Path | None = None) -> ConnectedApp:
    """Run the manifest flow; returns the created App (stored in EMD_CREDENTIALS_FILE) or raises ApiError."""
    flow = _Flow(org, github_web_url(), settings.github_api_url(), credentials_file)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the code is a secret: no access log
            return

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parsed = urlparse(self.path)
            if parsed.path == "/":
                status, text = 200, flow.page(base_url)
            elif parsed.path == "/callback":
                status, text = flow.callback(parse_qs(parsed.query))
                if status == 200 or flow.error:
                    flow.done.set()
                text = text_page(text)
            else:
                status, text = 404, "not found"
            send_page(self, status, text)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        print(f"Open {base_url}/ in a browser signed in to GitHub as an owner of {org} (opening it now).", flush=True)
        if open_browser is not None:
            open_browser(base_url + "/")
        if not flow.done.wait(timeout_s):
            raise ApiError(f"no answer from GitHub within {timeout_s:.0f}s; run `emd connect github --org {org}` again")
    finally:
        server.shutdown()
        server.server_close()
    if flow.result is None:
        raise ApiError(flow.error or "the App was not created")
    return flow.result


def github_instructions(app: ConnectedApp) -> str:
    return (f"Created the GitHub App {app.slug} (id {app.app_id}); its private key is in {app.credentials_file} "
            f"({CREDENTIALS_ENV}, mode 0600).\n"
            f"1. Install it on the organization, choosing the repositories in github.repos: {app.install_url}\n"
            f"2. Set {APP_ID_ENV}={app.app_id} (the key is read from {CREDENTIALS_ENV}; or set GITHUB_APP_PRIVATE_KEY_FILE)."
            f"\n   Optional: {INSTALLATION_ENV} (else the installation is looked up on the organization).")
