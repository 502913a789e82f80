"""How every GitHub request (GraphQL and REST, github.com and GitHub Enterprise Server) is authenticated.

Two ways, chosen by `github_auth()` from the environment (DESIGN.md "Connecting GitHub and Jira without
personal tokens"): a GitHub App installation when `GITHUB_APP_ID` is set (it wins over `GITHUB_TOKEN`), else
a token in `GITHUB_TOKEN`. Both are `requests` auth objects the client's session carries, so every call
site is covered; both keep the rate-limit figures of the last answer for the assets' metadata.

The App: a JWT (RS256, `iat` 60 s in the past, `exp` 9 minutes ahead, `iss` the App id) signed with the
App's private key (`GITHUB_APP_PRIVATE_KEY` as PEM text, else `GITHUB_APP_PRIVATE_KEY_FILE`, else the key
`emd connect github` stored for that App id in EMD_CREDENTIALS_FILE) authenticates two calls only:
`GET /orgs/{org}/installation` (skipped when `GITHUB_APP_INSTALLATION_ID` is set; the org is the owner of
`github.repos`) and `POST /app/installations/{id}/access_tokens`. The installation token it returns (one
hour) is used for everything else; it is renewed five minutes before it expires, and once more when an
answer is 401 (revoked early), the request then sent again. One App auth is kept per process, so the days
of a backfill share a token instead of spending two requests each.

Secrets (the key, JWTs, installation tokens) are never put in messages, metadata or logs.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from emd import settings
from emd.credentials import CREDENTIALS_ENV, read_credentials
from emd.http import ApiAuthError, ApiError, ApiNotFoundError, HttpClient, RetryPolicy
from emd.settings import SettingsError

TOKEN_ENV = "GITHUB_TOKEN"
APP_ID_ENV = "GITHUB_APP_ID"
KEY_ENV = "GITHUB_APP_PRIVATE_KEY"
KEY_FILE_ENV = "GITHUB_APP_PRIVATE_KEY_FILE"
INSTALLATION_ENV = "GITHUB_APP_INSTALLATION_ID"
APP_CREDENTIALS = f"{APP_ID_ENV}/{KEY_ENV}"
JWT_BACKDATE_S = 60  # GitHub's advice: allow for clock drift
JWT_LIFETIME_S = 540  # GitHub refuses an `exp` more than 10 minutes ahead
RENEW_BEFORE_S = 300  # renew an installation token this long before its `expires_at`
# What the pipeline cannot work without; the others (actions, deployments, issues, members) are needed only
# by the config keys that use them, and are named in the metadata when missing.
REQUIRED_PERMISSIONS = ("metadata", "contents", "pull_requests")
READ_PERMISSIONS = ("metadata", "contents", "pull_requests", "issues", "actions", "deployments", "members")
RATE_HEADERS = ("limit", "remaining", "used", "resource")


class GitHubAuth(requests.auth.AuthBase):
    """Sets `Authorization` on each request and keeps the last answer's rate-limit figures."""

    kind = "token"
    credentials = TOKEN_ENV  # the variable(s) an error message tells the user to check

    def __init__(self) -> None:
        self.rate: dict[str, str] = {}
        self.lock = threading.Lock()

    def header(self) -> str:
        raise NotImplementedError

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.header()
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, **_kwargs: Any) -> requests.Response:
        self._observe(response)
        return response

    def _observe(self, response: requests.Response) -> None:
        figures = {name: response.headers.get(f"x-ratelimit-{name}") for name in RATE_HEADERS}
        if figures["remaining"] is not None:
            self.rate = {k: v for k, v in figures.items() if v is not None}

    def counters(self) -> dict[str, int]:
        return {}

    def metadata(self, since: dict[str, int] | None = None) -> dict[str, Any]:
        """`auth` says which credentials were used; the rate-limit figures are the budget they draw on."""
        out: dict[str, Any] = {"auth": self.kind}
        for name in RATE_HEADERS:
            if name in self.rate:
                value = self.rate[name]
                out[f"rate_limit_{name}"] = int(value) if value.isdigit() else value
        before = since or {}
        out.update({name: value - before.get(name, 0) for name, value in self.counters().items()})
        return out


class TokenAuth(GitHubAuth):
    """A personal access token (or any token) from GITHUB_TOKEN."""

    def __init__(self, token: str):
        super().__init__()
        self._token = token

    def header(self) -> str:
        return f"bearer {self._token}"


class AppAuth(GitHubAuth):
    """A GitHub App installation: JWT -> installation (looked up on the org unless given) -> installation token."""

    kind = "github_app"
    credentials = f"the GitHub App ({APP_ID_ENV}, {KEY_ENV})"

    def __init__(self, app_id: str, private_key: RSAPrivateKey, api_url: str, installation_id: str | None = None,
                 owners: Callable[[], Sequence[str]] = tuple, clock: Callable[[], float] = time.time,
                 policy: RetryPolicy | None = None):
        super().__init__()
        self.app_id = app_id
        self._key = private_key
        self.api_url = api_url.rstrip("/")
        self.installation_id = installation_id
        self._owners = owners
        self.clock = clock
        self.http = HttpClient(name="GitHub App", token_env=APP_CREDENTIALS, url_env="GITHUB_API_URL",
                               policy=policy or RetryPolicy())
        self.http.session.headers.update({"Accept": "application/vnd.github+json",
                                          "User-Agent": "engineering-metrics"})
        self._token: str | None = None
        self._expires_at = 0.0
        self.permissions: dict[str, str] = {}
        self.tokens_created = 0
        self.renewed_on_401 = 0

    # -- the App's own calls (JWT) -----------------------------------------------------------------------
    def app_jwt(self) -> str:
        now = int(self.clock())
        payload = {"iat": now - JWT_BACKDATE_S, "exp": now + JWT_LIFETIME_S, "iss": self.app_id}
        return jwt.encode(payload, self._key, algorithm="RS256")

    def _app_request(self, method: str, path: str, what: str) -> Any:
        url = self.api_url + path
        try:
            body, _headers = self.http.request_json(method, url, headers={"Authorization": f"Bearer {self.app_jwt()}"})
        except ApiAuthError:
            raise ApiAuthError(
                f"GitHub rejected the App's JWT (401 from {url}) while {what}: check that {APP_ID_ENV} is the App's "
                f"id (its settings page, 'App ID') and that the private key in {KEY_ENV} / {KEY_FILE_ENV} is one of "
                "that App's keys (not revoked), and that this machine's clock is right.") from None
        if not isinstance(body, dict):
            raise ApiError(f"GitHub answered {url} with something that is not a JSON object while {what}")
        return body

    def _find_installation(self) -> str:
        if self.installation_id:
            return self.installation_id
        owners = sorted({o.lower() for o in self._owners()})
        if len(owners) != 1:
            raise SettingsError(
                f"{INSTALLATION_ENV} is not set and `github.repos` in {settings.config_path()} names "
                f"{len(owners)} owners ({', '.join(owners) or 'none'}), so the App's installation cannot be looked "
                f"up: set {INSTALLATION_ENV} (the number at the end of the installation's settings URL).")
        org = owners[0]
        try:
            body = self._app_request("GET", f"/orgs/{org}/installation", f"looking up its installation on {org}")
        except ApiNotFoundError:
            raise ApiAuthError(
                f"the GitHub App {self.app_id} is not installed on the organization {org}: install it there (the "
                f"App's page, 'Install App', choose {org} and the repositories in `github.repos`), or set "
                f"{INSTALLATION_ENV} to its installation id.") from None
        if body.get("id") is None:
            raise ApiError(f"GitHub answered the installation of App {self.app_id} on {org} without `id`")
        self.installation_id = str(body["id"])
        return self.installation_id

    def _create_token(self) -> None:
        installation = self._find_installation()
        try:
            body = self._app_request("POST", f"/app/installations/{installation}/access_tokens",
                                     f"creating an installation token for installation {installation}")
        except ApiNotFoundError:
            raise ApiAuthError(
                f"GitHub has no installation {installation} of the App {self.app_id}: check {INSTALLATION_ENV} "
                "(or unset it to look the installation up on the organization), and that the App is still "
                "installed.") from None
        token, expires = body.get("token"), body.get("expires_at")
        if not token or not expires:
            raise ApiError(f"GitHub answered the installation token of App {self.app_id} without `token` or "
                           "`expires_at`")
        permissions = body.get("permissions") or {}
        missing = [p for p in REQUIRED_PERMISSIONS if p not in permissions]
        if missing:
            raise ApiAuthError(
                f"the GitHub App {self.app_id}'s installation {installation} lacks read access to "
                f"{', '.join(missing)}: grant {', '.join(f'{p}: read' for p in missing)} in the App's settings "
                "(Permissions & events), then accept the new permissions on the installation.")
        self.permissions = {str(k): str(v) for k, v in permissions.items()}
        self._token = str(token)
        self._expires_at = datetime.fromisoformat(str(expires).replace("Z", "+00:00")).timestamp()
        self.tokens_created += 1

    # -- the installation token on every other request ---------------------------------------------------
    def header(self) -> str:
        with self.lock:
            if self._token is None or self.clock() >= self._expires_at - RENEW_BEFORE_S:
                self._create_token()
            return f"token {self._token}"

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """A 401 with a token that should still be valid (revoked, or expired early): renew once, send again."""
        self._observe(response)
        request = response.request
        if response.status_code != 401 or getattr(request, "_emd_renewed", False):
            return response
        sent = request.headers.get("Authorization")
        with self.lock:
            if sent == f"token {self._token}":  # not already renewed by another request
                self._token = None
        self.renewed_on_401 += 1
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        retry = request.copy()
        retry._emd_renewed = True  # type: ignore[attr-defined]
        retry.headers["Authorization"] = self.header()
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        self._observe(again)
        return again

    def counters(self) -> dict[str, int]:
        return {"auth_requests": self.http.stats.requests, "installation_tokens_created": self.tokens_created,
                "installation_tokens_renewed_on_401": self.renewed_on_401}

    def metadata(self, since: dict[str, int] | None = None) -> dict[str, Any]:
        out = super().metadata(since)
        out["github_app_id"] = self.app_id
        out["github_app_installation_id"] = self.installation_id or "unknown"
        missing = [p for p in READ_PERMISSIONS if p not in self.permissions]
        if self.permissions:
            out["github_app_permissions_missing"] = ", ".join(missing) or "none"
        return out


# -- from the environment ----------------------------------------------------------------------------------

def load_private_key(text: str, source: str) -> RSAPrivateKey:
    """The App's RSA key from PEM text (`\\n` written as two characters is accepted, as .env files do)."""
    pem = text.strip().replace("\\n", "\n")
    try:
        key = load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, RSAPrivateKey):
        raise SettingsError(
            f"{source} is not a GitHub App private key: it must be the whole .pem file the App's settings page "
            "generated ('Private keys', 'Generate a private key'), from its -----BEGIN RSA PRIVATE KEY----- line to "
            "its -----END RSA PRIVATE KEY----- line, unencrypted.")
    return key


def _private_key(app_id: str) -> RSAPrivateKey:
    text = settings.env(KEY_ENV)
    if text:
        return load_private_key(text, KEY_ENV)
    path = settings.env(KEY_FILE_ENV)
    if path:
        try:
            return load_private_key(Path(path).read_text(encoding="utf-8"), f"{KEY_FILE_ENV} ({path})")
        except OSError as exc:
            raise SettingsError(f"{KEY_FILE_ENV} names {path}, which cannot be read ({exc.strerror})") from None
    stored = read_credentials().get("github_app") or {}
    if str(stored.get("app_id")) == app_id and stored.get("pem"):
        return load_private_key(str(stored["pem"]), f"the `github_app.pem` of {CREDENTIALS_ENV}")
    raise SettingsError(
        f"{APP_ID_ENV} is set, but no private key was found: set {KEY_ENV} (the .pem text) or {KEY_FILE_ENV} (its "
        f"path), or run `emd connect github --org ORG`, which stores the key in {CREDENTIALS_ENV}.")


_APP_AUTHS: dict[tuple[str, ...], AppAuth] = {}
_APP_AUTHS_LOCK = threading.Lock()


def github_auth(owners: Callable[[], Sequence[str]] = tuple, api_url: str | None = None) -> GitHubAuth:
    """The App when GITHUB_APP_ID is set (it wins over GITHUB_TOKEN), else GITHUB_TOKEN; SettingsError naming
    the variables when neither is set. `owners` gives the owners of `github.repos` (read only when the App's
    installation has to be looked up)."""
    api_url = (api_url or settings.github_api_url()).rstrip("/")
    app_id = settings.env(APP_ID_ENV)
    if app_id:
        if not app_id.isdigit():
            raise SettingsError(f"{APP_ID_ENV} must be the App's numeric id (its settings page, 'App ID')")
        installation = settings.env(INSTALLATION_ENV)
        if installation is not None and not installation.isdigit():
            raise SettingsError(f"{INSTALLATION_ENV} must be a number (the end of the installation's settings URL)")
        key = _private_key(app_id)
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

        fingerprint = hashlib.sha256(key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
        cache_key = (app_id, api_url, installation or "", fingerprint)
        with _APP_AUTHS_LOCK:
            auth = _APP_AUTHS.get(cache_key)
            if auth is None:
                auth = _APP_AUTHS[cache_key] = AppAuth(app_id, key, api_url, installation, owners)
            else:
                auth._owners = owners
        return auth
    token = settings.env(TOKEN_ENV)
    if not token:
        raise SettingsError(
            f"neither {TOKEN_ENV} nor {APP_ID_ENV} is set: GitHub is read with a GitHub App ({APP_ID_ENV} and its "
            f"private key; `emd connect github --org ORG` creates one) or a token with read access to the "
            f"configured repos ({TOKEN_ENV}).")
    return TokenAuth(token)
