"""Jira Cloud over OAuth 2.0 (3LO): `emd connect jira` and the rotating refresh token at run time.

`emd connect jira` (JIRA_OAUTH_CLIENT_ID, JIRA_OAUTH_CLIENT_SECRET; the app's callback URL must be
`http://127.0.0.1:PORT/callback`, default port 8766) sends the browser to Atlassian's authorize URL with
`offline_access` and the read scopes below and a random `state`; the loopback callback refuses another
state, exchanges the code (`POST {ATLASSIAN_AUTH_URL}/oauth/token`, authorization_code), picks the site
whose URL is JIRA_BASE_URL from `GET {ATLASSIAN_API_URL}/oauth/token/accessible-resources`, and stores
the tokens and the site's cloud id in EMD_CREDENTIALS_FILE (emd.credentials: mode 0600, atomic).

At run time every Jira call goes to `{ATLASSIAN_API_URL}/ex/jira/{cloudid}/rest/...` with the access
token. When it is about to expire (or a call answers 401 without a scope problem), the refresh token is
exchanged (refresh_token grant). Atlassian rotates it: the old one stops working, so the new pair is
written to the file (temporary file, then rename) BEFORE the new access token is used; a crash can never
lose the only valid refresh token. The exchange holds the file's lock and re-reads it first, so another
process that rotated meanwhile is followed instead of spending a dead token.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import requests

from emd import settings
from emd.credentials import (
    CREDENTIALS_ENV,
    credentials_path,
    locked,
    read_credentials,
    write_atomically,
    write_section,
)
from emd.http import ApiAuthError, ApiError, HttpClient, RetryPolicy
from emd.loopback import send_page, text_page
from emd.settings import SettingsError

CLIENT_ID_ENV = "JIRA_OAUTH_CLIENT_ID"
CLIENT_SECRET_ENV = "JIRA_OAUTH_CLIENT_SECRET"
AUTH_URL_ENV = "ATLASSIAN_AUTH_URL"
API_URL_ENV = "ATLASSIAN_API_URL"
# Platform reads (search, changelogs, fields, statuses: read:jira-work; /myself: read:jira-user) and the Agile
# API's granular scopes (board, board configuration, sprints and their issues).
SCOPES = ("offline_access", "read:jira-work", "read:jira-user", "read:board-scope:jira-software",
          "read:board-scope.admin:jira-software", "read:sprint:jira-software")
DEFAULT_PORT = 8766
REFRESH_BEFORE_S = 60
CONNECT_AGAIN = "run `emd connect jira` again"


def auth_url() -> str:
    return (settings.env(AUTH_URL_ENV, "https://auth.atlassian.com") or "").rstrip("/")


def api_url() -> str:
    return (settings.env(API_URL_ENV, "https://api.atlassian.com") or "").rstrip("/")


def _client_credentials() -> tuple[str, str]:
    client_id, secret = settings.env(CLIENT_ID_ENV), settings.env(CLIENT_SECRET_ENV)
    if not client_id or not secret:
        raise SettingsError(f"{CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} must both be set for Jira OAuth 2.0 (the app's "
                            "Settings page in the Atlassian developer console)")
    return client_id, secret


def _token_request(http: HttpClient, payload: dict[str, str], what: str) -> dict[str, Any]:
    url = auth_url() + "/oauth/token"
    try:
        body, _ = http.request_json("POST", url, json=payload)
    except ApiAuthError:
        raise ApiAuthError(f"Atlassian refused {what} (from {url}): the refresh token is revoked or expired, or "
                           f"{CLIENT_ID_ENV}/{CLIENT_SECRET_ENV} changed; {CONNECT_AGAIN}.") from None
    except ApiError as exc:
        if "invalid_grant" in str(exc) or "unauthorized_client" in str(exc) or "access_denied" in str(exc):
            raise ApiAuthError(f"Atlassian refused {what} (from {url}): the refresh token is revoked or expired "
                               f"(unused for 90 days, or rotated and the new one lost); {CONNECT_AGAIN}.") from None
        raise
    if not isinstance(body, dict) or not body.get("access_token"):
        raise ApiError(f"Atlassian answered {what} at {url} without `access_token`")
    return body


def _granted(body: dict[str, Any]) -> None:
    granted = set(str(body.get("scope") or "").split())
    missing = [s for s in SCOPES if s not in granted]
    if granted and missing:
        raise ApiAuthError(f"the Jira OAuth app was granted no {', '.join(missing)}: add {'them' if len(missing) > 1 else 'it'}"
                           " to the app's Permissions in the Atlassian developer console, then " + CONNECT_AGAIN)


class JiraOAuth(requests.auth.AuthBase):
    """Bearer access token on every request; refreshed (and the rotated pair stored first) when needed."""

    def __init__(self, client_id: str, client_secret: str, policy: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.time):
        self.client_id, self._secret = client_id, client_secret
        self.clock = clock
        self.http = HttpClient(name="Atlassian OAuth", token_env=f"{CLIENT_ID_ENV}/{CLIENT_SECRET_ENV}",
                               url_env=AUTH_URL_ENV, policy=policy or RetryPolicy())
        stored = read_credentials().get("jira") or {}
        if not stored.get("refresh_token") or not stored.get("cloud_id"):
            raise SettingsError(f"{CLIENT_ID_ENV} is set but {CREDENTIALS_ENV} holds no Jira refresh token: "
                                f"run `emd connect jira` (once, in a browser)")
        # The file holds one Jira connection: never read another site than JIRA_BASE_URL's (another tenant's,
        # whose `emd connect jira` replaced this one's in a shared EMD_CREDENTIALS_FILE).
        site = (settings.env("JIRA_BASE_URL") or "").rstrip("/")
        connected = str(stored.get("site_url") or "").rstrip("/")
        if site and connected and connected != site:
            raise SettingsError(
                f"{CREDENTIALS_ENV} ({credentials_path()}) holds the Jira OAuth connection of {connected}, not of "
                f"JIRA_BASE_URL ({site}): run `emd connect jira` for {site} (each Jira site, e.g. each tenant's, "
                f"needs its own {CREDENTIALS_ENV})")
        self.cloud_id, self.site_url = str(stored["cloud_id"]), connected
        self._access = str(stored.get("access_token") or "")
        self._expires_at = float(stored.get("expires_at") or 0)
        self.lock = threading.Lock()
        self.refreshes = 0

    @property
    def base_url(self) -> str:
        return f"{api_url()}/ex/jira/{self.cloud_id}"

    def _refresh(self, failed: str | None) -> None:
        """Exchange the refresh token; `failed` is an access token that a 401 said is dead."""
        path = credentials_path()
        with locked(path):  # held for the whole read-exchange-write (write_section would take it again: deadlock)
            data = read_credentials(path)
            stored = data.get("jira") or {}
            access, expires = str(stored.get("access_token") or ""), float(stored.get("expires_at") or 0)
            if access and access != failed and self.clock() < expires - REFRESH_BEFORE_S:
                self._access, self._expires_at = access, expires  # another process refreshed meanwhile
                return
            if not stored.get("refresh_token"):
                raise SettingsError(f"{CREDENTIALS_ENV} holds no Jira refresh token: {CONNECT_AGAIN}")
            if str(stored.get("cloud_id")) != self.cloud_id:
                raise SettingsError(
                    f"{CREDENTIALS_ENV} ({path}) now holds the Jira OAuth connection of another site "
                    f"({stored.get('site_url')}): `emd connect jira` was run for it meanwhile; run it again for "
                    f"{self.site_url or 'this site'} (each Jira site needs its own {CREDENTIALS_ENV})")
            body = _token_request(self.http, {"grant_type": "refresh_token", "client_id": self.client_id,
                                              "client_secret": self._secret,
                                              "refresh_token": str(stored["refresh_token"])},
                                  "the Jira refresh token")
            expires = self.clock() + float(body.get("expires_in") or 3600)
            # The new refresh token is on disk before the new access token is used.
            data["jira"] = {**stored, "access_token": body["access_token"], "expires_at": expires,
                            "refresh_token": body.get("refresh_token") or stored["refresh_token"],
                            "scope": body.get("scope") or stored.get("scope")}
            write_atomically(path, data)
            self._access, self._expires_at = str(body["access_token"]), expires
            self.refreshes += 1

    def header(self) -> str:
        with self.lock:
            if not self._access or self.clock() >= self._expires_at - REFRESH_BEFORE_S:
                self._refresh(None)
            return f"Bearer {self._access}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.header()
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or getattr(response.request, "_emd_refreshed", False):
            return response
        if "scope does not match" in response.text:
            raise ApiAuthError(
                f"Jira answered 401 'scope does not match' for {urlparse(response.url).path}: the OAuth app lacks a "
                f"scope this call needs (it asks for {' '.join(SCOPES)}); add the missing one to the app's "
                f"Permissions in the Atlassian developer console, then {CONNECT_AGAIN}.")
        sent = (response.request.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self.lock:
            self._refresh(sent)
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        retry = response.request.copy()
        retry._emd_refreshed = True  # type: ignore[attr-defined]
        retry.headers["Authorization"] = f"Bearer {self._access}"
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again

    def metadata(self) -> dict[str, Any]:
        return {"auth": "oauth", "oauth_refreshes": self.refreshes, "auth_requests": self.http.stats.requests}


_AUTHS: dict[tuple[str, str, str, str], JiraOAuth] = {}


def jira_oauth() -> JiraOAuth | None:
    """The process's Jira OAuth when JIRA_OAUTH_CLIENT_ID is set (it wins over JIRA_EMAIL/JIRA_API_TOKEN)."""
    if not settings.env(CLIENT_ID_ENV):
        return None
    client_id, secret = _client_credentials()
    # The site is part of the key: two tenants may share one OAuth app (client id) and run in one process.
    key = (client_id, str(credentials_path().resolve()), api_url(), (settings.env("JIRA_BASE_URL") or "").rstrip("/"))
    if key not in _AUTHS:
        _AUTHS[key] = JiraOAuth(client_id, secret)
    return _AUTHS[key]


# -- emd connect jira ----------------------------------------------------------------------------------------

def connect_jira(open_browser: Callable[[str], Any] | None = None, port: int = DEFAULT_PORT,
                 timeout_s: float = 600.0) -> dict[str, Any]:
    """Run the authorization-code flow; stores and returns the site (`cloud_id`, `site_url`) connected."""
    client_id, secret = _client_credentials()
    site = (settings.env("JIRA_BASE_URL") or "").rstrip("/")
    if not site:
        raise SettingsError("JIRA_BASE_URL must name the Jira site to connect (e.g. https://your-site.atlassian.net)")
    state = secrets.token_urlsafe(24)
    done = threading.Event()
    outcome: dict[str, Any] = {}
    http = HttpClient(name="Atlassian OAuth", token_env=f"{CLIENT_ID_ENV}/{CLIENT_SECRET_ENV}", url_env=AUTH_URL_ENV,
                      policy=RetryPolicy(max_attempts=3))

    def finish(query: dict[str, list[str]]) -> tuple[int, str]:
        if (query.get("state") or [""])[0] != state:
            return 403, "The state does not match this `emd connect jira` run; nothing was stored."
        if query.get("error"):
            outcome["error"] = f"Atlassian answered {query['error'][0]} (consent declined?); {CONNECT_AGAIN}"
            return 400, outcome["error"]
        body = _token_request(http, {"grant_type": "authorization_code", "client_id": client_id,
                                     "client_secret": secret, "code": (query.get("code") or [""])[0],
                                     "redirect_uri": redirect}, "the authorization code")
        _granted(body)
        resources, _ = http.request_json("GET", api_url() + "/oauth/token/accessible-resources",
                                         headers={"Authorization": f"Bearer {body['access_token']}",
                                                  "Accept": "application/json"})
        match = [r for r in resources or [] if str(r.get("url", "")).rstrip("/") == site]
        if not match:
            sites = ", ".join(str(r.get("url")) for r in resources or []) or "none"
            outcome["error"] = (f"the authorization covers no site {site} (JIRA_BASE_URL); it covers: {sites}. "
                                f"Choose that site on Atlassian's consent page, or fix JIRA_BASE_URL; {CONNECT_AGAIN}")
            return 400, outcome["error"]
        stored = {"cloud_id": match[0]["id"], "site_url": site, "refresh_token": body.get("refresh_token"),
                  "access_token": body["access_token"], "scope": body.get("scope"),
                  "expires_at": time.time() + float(body.get("expires_in") or 3600)}
        if not stored["refresh_token"]:
            outcome["error"] = f"Atlassian gave no refresh token: the app must allow offline_access; {CONNECT_AGAIN}"
            return 400, outcome["error"]
        path = write_section("jira", stored)
        outcome.update(cloud_id=stored["cloud_id"], site_url=site, credentials_file=str(path))
        return 200, f"Connected {site}. You can close this page."

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the code is a secret: no access log
            return

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parsed = urlparse(self.path)
            if parsed.path != "/callback":
                status, text = 404, "not found"
            else:
                try:
                    status, text = finish(parse_qs(parsed.query))
                except (ApiError, SettingsError) as exc:
                    outcome["error"] = str(exc)
                    status, text = 400, str(exc)
                if status != 403:
                    done.set()
            send_page(self, status, text_page(text))

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    redirect = f"http://127.0.0.1:{server.server_address[1]}/callback"
    authorize = auth_url() + "/authorize?" + urlencode({
        "audience": "api.atlassian.com", "client_id": client_id, "scope": " ".join(SCOPES), "redirect_uri": redirect,
        "state": state, "response_type": "code", "prompt": "consent"})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        print(f"Open this URL in a browser and allow access to {site}:\n{authorize}", flush=True)
        if open_browser is not None:
            open_browser(authorize)
        if not done.wait(timeout_s):
            raise ApiError(f"no answer from Atlassian within {timeout_s:.0f}s; {CONNECT_AGAIN}")
    finally:
        server.shutdown()
        server.server_close()
    if "error" in outcome:
        raise ApiAuthError(outcome["error"])
    return outcome
