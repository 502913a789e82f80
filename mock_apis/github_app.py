"""Mock GitHub's App endpoints (REST), as GitHub documents them, and the one credentials check of every mock
GitHub route (GraphQL and REST).

- `GET /orgs/{org}/installation` (JWT): the App's installation on the org (`id`, `account`, `app_id`,
  `permissions`, ...), 404 "Not Found" when the App is not installed there.
- `POST /app/installations/{id}/access_tokens` (JWT): 201 `{token, expires_at, permissions,
  repository_selection}`; a token lives an hour.
- `POST /app-manifests/{code}/conversions` (no auth): 201 with the new App's `id`, `slug`, `client_id`,
  `client_secret`, `webhook_secret` and `pem`; a code works once.
- `GET|POST /organizations/{org}/settings/apps/new?state=...` with the form field `manifest`: where a
  user's browser posts the manifest. GitHub shows a confirmation page; the mock stands in for the user's
  click on "Create GitHub App" and redirects at once to the manifest's `redirect_url` with `code` and `state`.

A JWT is checked as GitHub checks it: RS256 signature against the App's public key (`state.github_app_id`
and the mock's key pair, `app_private_key_pem()`), `iss` the App id, `iat` not in the future (60 s of
drift allowed), `exp` in the future and at most 10 minutes after `iat`... measured from now; else 401 with
GitHub's messages.

Switches: `{"github_app_token_expires_after": N}` makes each new installation token stop working (401 "Bad
credentials") after N requests, as a token revoked or expired early; `{"github_app_not_installed": true}`
answers 404 to the installation lookup; `{"github_app_permissions": {...}}` replaces the permissions an
installation token carries (a token keeps the permissions it was created with, as on GitHub; a GraphQL field
that needs one it lacks, e.g. `Repository.deployments` without `deployments`, is a FORBIDDEN error "Resource not
accessible by integration"); `{"github_app_token_lifetime_s": S}` shortens a token's life from an hour.
Counters: `github:app:<endpoint>` per App request, `github:app:tokens`.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mock_apis.server import MockState, Request, Response, Router

DOCS = "https://docs.github.com/rest/apps/apps"
TOKEN_LIFETIME_S = 3600
PERMISSIONS = {"metadata": "read", "contents": "read", "pull_requests": "read", "issues": "read",
               "actions": "read", "deployments": "read", "members": "read"}


@functools.lru_cache(maxsize=1)
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def app_private_key_pem() -> str:
    """The mock App's private key (what GitHub's settings page would let the owner download)."""
    return _key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode("ascii")


def _unauthorized(message: str) -> Response:
    return Response(401, {"message": message, "documentation_url": DOCS, "status": "401"})


def _jwt_problem(req: Request, state: MockState) -> str | None:
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "A JSON web token could not be decoded"
    with state.lock:  # kept so tests can look for them where they must never be
        state.extra.setdefault("github_app_jwts", []).append(token.strip())
    try:
        claims = jwt.decode(token.strip(), _key().public_key(), algorithms=["RS256"],
                            options={"verify_exp": False, "verify_iat": False, "require": ["iat", "exp", "iss"]})
    except jwt.PyJWTError:
        return "A JSON web token could not be decoded"
    now = time.time()
    if not isinstance(claims["iat"], int) or claims["iat"] > now + 60:
        return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
    if not isinstance(claims["exp"], int) or claims["exp"] <= now:
        return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
    if claims["exp"] - now > 600 + 1:
        return "'Expiration time' claim ('exp') is too far in the future"
    if str(claims["iss"]) != str(state.github_app_id):
        return "Integration not found"
    return None


def authorized(req: Request, state: MockState) -> bool:
    """The PAT, or a live installation token (spending one of its requests when the expiry switch is on)."""
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() not in ("bearer", "token") or not token:
        return False
    if token == state.github_token:
        return True
    with state.lock:
        issued = state.extra.setdefault("github_app_tokens", {}).get(token)
        if issued is None or time.time() >= issued["expires_at"]:
            return False
        if issued["requests_left"] is not None:
            if issued["requests_left"] <= 0:
                return False
            issued["requests_left"] -= 1
        return True


def token_permissions(req: Request, state: MockState) -> dict[str, str] | None:
    """The permissions of the installation token a request carries; None for the PAT (it reads everything)."""
    token = req.headers.get("authorization", "").partition(" ")[2].strip()
    with state.lock:
        issued = state.extra.setdefault("github_app_tokens", {}).get(token)
    return None if issued is None else dict(issued.get("permissions") or {})


def installation_id(state: MockState) -> int:
    return int(state.github_app_id) * 10 + 7


def register(router: Router, state: MockState) -> None:
    def installation(req: Request, m: re.Match[str]) -> Response:
        state.count("github:app:installation")
        problem = _jwt_problem(req, state)
        if problem:
            return _unauthorized(problem)
        owners = {repo.split("/", 1)[0].lower() for repo in state.org.config()["github"]["repos"]}
        with state.lock:
            missing = state.switches.get("github_app_not_installed")
        if missing or m["org"].lower() not in owners:
            return Response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
        return Response(200, {"id": installation_id(state), "app_id": state.github_app_id, "app_slug": "emd-mock",
                              "target_type": "Organization", "target_id": 1,
                              "account": {"login": m["org"], "id": 1, "type": "Organization"},
                              "repository_selection": "selected", "permissions": PERMISSIONS, "events": [],
                              "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"})

    def access_tokens(req: Request, m: re.Match[str]) -> Response:
        state.count("github:app:access_tokens")
        problem = _jwt_problem(req, state)
        if problem:
            return _unauthorized(problem)
        if int(m["id"]) != installation_id(state):
            return Response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
        token = "ghs_" + secrets.token_urlsafe(27)
        with state.lock:
            expires = time.time() + float(state.switches.get("github_app_token_lifetime_s") or TOKEN_LIFETIME_S)
            after = state.switches.get("github_app_token_expires_after")
            permissions = state.switches.get("github_app_permissions") or PERMISSIONS
            state.extra.setdefault("github_app_tokens", {})[token] = {
                "expires_at": expires, "requests_left": int(after) if after is not None else None,
                "permissions": dict(permissions)}
        state.count("github:app:tokens")
        return Response(201, {"token": token, "permissions": permissions, "repository_selection": "selected",
                               "expires_at": datetime.fromtimestamp(int(expires), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})

    def new_app(req: Request, m: re.Match[str]) -> Response:
        state.count("github:app:manifest_form")
        form = parse_qs(req.body.decode("utf-8")) if req.body else req.query
        import json  # noqa: PLC0415

        try:
            manifest = json.loads((form.get("manifest") or [""])[0])
        except ValueError:
            return Response(422, "<p>Invalid GitHub App configuration: the manifest is not JSON</p>",
                            {"Content-Type": "text/html"})
        redirect = manifest.get("redirect_url") if isinstance(manifest, dict) else None
        if not redirect or not manifest.get("url"):
            return Response(422, "<p>Invalid GitHub App configuration: url and redirect_url are required</p>",
                            {"Content-Type": "text/html"})
        code = secrets.token_hex(10)
        with state.lock:
            state.extra.setdefault("github_app_manifests", {})[code] = {"org": m["org"], "manifest": manifest}
        query = {"code": code}
        given_state = req.arg("state")
        if given_state is not None:
            query["state"] = given_state
        return Response(302, b"", {"Location": f"{redirect}?{urlencode(query)}"})

    def conversion(_req: Request, m: re.Match[str]) -> Response:
        state.count("github:app:conversions")
        with state.lock:
            created = state.extra.setdefault("github_app_manifests", {}).pop(m["code"], None)
        if created is None:
            return Response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
        manifest = created["manifest"]
        slug = re.sub(r"[^a-z0-9]+", "-", str(manifest.get("name") or "app").lower()).strip("-")
        return Response(201, {
            "id": state.github_app_id, "slug": slug, "node_id": "A_mock", "name": manifest.get("name"),
            "owner": {"login": created["org"], "type": "Organization"},
            "html_url": f"https://github.com/apps/{slug}", "permissions": manifest.get("default_permissions", {}),
            "events": manifest.get("default_events", []), "client_id": "Iv1.mock" + slug[:8],
            "client_secret": secrets.token_hex(20), "webhook_secret": None, "pem": app_private_key_pem(),
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"})

    for prefix in ("", "/api/v3"):
        router.add("GET", prefix + r"/orgs/(?P<org>[^/]+)/installation", installation)
        router.add("POST", prefix + r"/app/installations/(?P<id>\d+)/access_tokens", access_tokens)
        router.add("POST", prefix + r"/app-manifests/(?P<code>[^/]+)/conversions", conversion)
    for method in ("GET", "POST"):
        router.add(method, r"/organizations/(?P<org>[^/]+)/settings/apps/new", new_app)
