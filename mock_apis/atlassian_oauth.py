"""Mock Atlassian OAuth 2.0 (3LO): the authorize page, the token endpoint with rotating refresh tokens,
`accessible-resources`, and the access-token check of the `/ex/jira/{cloudid}` prefix (mock_apis/jira.py).

- `GET /authorize?client_id&scope&redirect_uri&state&response_type=code`: the consent page; the mock
  stands in for the user's "Accept" and redirects to `redirect_uri?code=...&state=...`.
- `POST /oauth/token` (JSON): `authorization_code` (client_id, client_secret, code, redirect_uri) or
  `refresh_token`; answers `{access_token, expires_in: 3600, token_type: "Bearer", refresh_token, scope}`.
  Refresh tokens rotate: the one used stops working; a dead one answers 403 `invalid_grant` "Unknown or
  invalid refresh token." A wrong client answers 401 `access_denied`.
- `GET /oauth/token/accessible-resources` (Bearer): the sites the grant covers, `[{id, url, name, scopes}]`;
  the mock's site is the URL the request came to (what tests set as JIRA_BASE_URL), plus another site.
- `/ex/jira/{cloudid}/rest/...`: a live access token of a grant with the scope the endpoint needs (platform:
  `read:jira-work`, `/myself`: `read:jira-user`, Agile board: `read:board-scope:jira-software`, its
  configuration `read:board-scope.admin:jira-software`, sprints `read:sprint:jira-software`), else 401
  "Unauthorized; scope does not match" (or "Unauthorized" for a dead token); another cloud id is 404.

Switches: `{"jira_oauth_access_expires_after": N}`: each access token stops working after N requests (checked
on every request, so lowering it also ends tokens already issued; 0: every access token is dead);
`{"jira_oauth_granted_scopes": [...]}`: what the consent grants (default: what was asked);
`{"jira_oauth_revoke": true}`: every refresh token stops working (the user revoked the app).
A test may set `state.extra["atlassian_on_first_use"]` to a callable(access_token, refresh_token issued with
it), called when an access token is first used at `/ex/jira` (to see what the client had stored by then).
Counters: `atlassian:token:<grant>`, `atlassian:accessible_resources`.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlencode

from mock_apis.server import MockState, Request, Response, Router

CLIENT_ID = "mock-jira-oauth-client"
CLIENT_SECRET = "mock-jira-oauth-secret"  # noqa: S105 - the mock's fixed test credential
CLOUD_ID = "11111111-2222-4333-8444-555555555555"


def _scope_needed(path: str) -> str:
    if path.startswith("/rest/agile/1.0/board/"):
        return "read:board-scope.admin:jira-software" if path.endswith("/configuration") else (
            "read:sprint:jira-software" if path.endswith("/sprint") else "read:board-scope:jira-software")
    if path.startswith("/rest/agile/1.0/sprint/"):
        return "read:sprint:jira-software"
    if path == "/rest/api/3/myself":
        return "read:jira-user"
    return "read:jira-work"


def check_ex_jira(req: Request, state: MockState, cloud_id: str, rest_path: str) -> Response | None:
    """None when the request may go on; else Atlassian's answer."""
    if cloud_id != CLOUD_ID:
        return Response(404, {"code": 404, "message": "Not Found"})
    header = req.headers.get("authorization", "")
    token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
    with state.lock:
        grant = state.extra.setdefault("atlassian_access", {}).get(token)
        after = state.switches.get("jira_oauth_access_expires_after")  # read now: lowering it ends live tokens too
        first_use = state.extra.get("atlassian_on_first_use") if grant is not None and grant["used"] == 0 else None
        if grant is not None:
            grant["used"] += 1
            if after is not None and grant["used"] > int(after):
                grant = None
    if first_use is not None:  # a test's observer: what the client had stored when it first used this token
        first_use(token, grant.get("refresh_token"))
    if grant is None:
        return Response(401, {"code": 401, "message": "Unauthorized"})
    if _scope_needed(rest_path) not in grant["scopes"]:
        return Response(401, {"code": 401, "message": "Unauthorized; scope does not match"})
    return None


def _issue(state: MockState, scopes: list[str]) -> dict[str, Any]:
    access, refresh = "mock-at-" + secrets.token_urlsafe(24), "mock-rt-" + secrets.token_urlsafe(24)
    with state.lock:
        state.extra.setdefault("atlassian_access", {})[access] = {
            "scopes": scopes, "used": 0, "refresh_token": refresh if "offline_access" in scopes else None}
        state.extra.setdefault("atlassian_refresh", {})[refresh] = scopes
        state.extra.setdefault("atlassian_issued", []).extend([access, refresh])
    return {"access_token": access, "expires_in": 3600, "token_type": "Bearer", "refresh_token": refresh,
            "scope": " ".join(scopes)}


def register(router: Router, state: MockState) -> None:
    def authorize(req: Request, _m: re.Match[str]) -> Response:
        state.count("atlassian:authorize")
        asked = (req.arg("scope") or "").split()
        with state.lock:
            granted = state.switches.get("jira_oauth_granted_scopes")
            code = secrets.token_hex(8)
            state.extra.setdefault("atlassian_codes", {})[code] = {
                "scopes": [s for s in asked if granted is None or s in granted], "redirect": req.arg("redirect_uri")}
        if req.arg("client_id") != CLIENT_ID or req.arg("response_type") != "code" or not req.arg("redirect_uri"):
            return Response(400, "<p>Something went wrong: invalid client or request</p>", {"Content-Type": "text/html"})
        query = urlencode({"code": code, "state": req.arg("state") or ""})
        return Response(302, b"", {"Location": f"{req.arg('redirect_uri')}?{query}"})

    def token(req: Request, _m: re.Match[str]) -> Response:
        body = req.json() or {}
        grant = str(body.get("grant_type"))
        state.count(f"atlassian:token:{grant}")
        if body.get("client_id") != CLIENT_ID or body.get("client_secret") != CLIENT_SECRET:
            return Response(401, {"error": "access_denied", "error_description": "Unauthorized"})
        with state.lock:
            if grant == "authorization_code":
                issued = state.extra.setdefault("atlassian_codes", {}).pop(str(body.get("code")), None)
                if issued is None or issued["redirect"] != body.get("redirect_uri"):
                    return Response(403, {"error": "invalid_grant", "error_description": "Invalid authorization code"})
                scopes = issued["scopes"]
            elif grant == "refresh_token":
                refresh = state.extra.setdefault("atlassian_refresh", {})
                scopes = refresh.pop(str(body.get("refresh_token")), None)  # rotation: a token works once
                if scopes is None or state.switches.get("jira_oauth_revoke"):
                    return Response(403, {"error": "invalid_grant",
                                          "error_description": "Unknown or invalid refresh token."})
            else:
                return Response(400, {"error": "unsupported_grant_type"})
        answer = _issue(state, scopes)
        if "offline_access" not in scopes:
            answer.pop("refresh_token")
        return Response(200, answer)

    def resources(req: Request, _m: re.Match[str]) -> Response:
        state.count("atlassian:accessible_resources")
        header = req.headers.get("authorization", "")
        with state.lock:
            grant = state.extra.setdefault("atlassian_access", {}).get(header.removeprefix("Bearer "))
        if grant is None:
            return Response(401, {"code": 401, "message": "Unauthorized"})
        site = f"http://{req.headers.get('host', '127.0.0.1')}"
        jira_scopes = [s for s in grant["scopes"] if s != "offline_access"]
        return Response(200, [
            {"id": "99999999-0000-4000-8000-000000000000", "url": "https://other-site.atlassian.net",
             "name": "other-site", "scopes": jira_scopes, "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/flag.png"},
            {"id": CLOUD_ID, "url": site, "name": "acme", "scopes": jira_scopes,
             "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png"}])

    router.add("GET", "/authorize", authorize)
    router.add("POST", "/oauth/token", token)
    router.add("GET", "/oauth/token/accessible-resources", resources)
