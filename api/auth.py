"""Sign-in for the API: with EMD_OIDC_ISSUER set, every route but `/healthz` (and `/docs`, `/openapi.json`)
needs `Authorization: Bearer <JWT>` from that issuer (emd/auth.py checks it) or the EMD_API_TOKEN machine
credential; anything else is a 401 with `WWW-Authenticate: Bearer`. The signed-in user (`request.state.principal`,
and `request.state.subject` for the access log) carries the team scope every route's filters take.

Without EMD_OIDC_ISSUER the API is the loopback setup of before: every GET is open (the user is org-wide) and
POST routes take EMD_API_TOKEN.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from emd import tenants
from emd.auth import (
    ANONYMOUS,
    MACHINE,
    AuthError,
    OidcSettings,
    Principal,
    TokenVerifier,
    is_api_token,
    oidc_settings,
    principal_from_claims,
)
from emd.config import load_config

OPEN_PATHS = frozenset({"/healthz"})


@dataclass
class SignIn:
    oidc: OidcSettings
    verifier: TokenVerifier


def start_sign_in() -> SignIn | None:
    """None with sign-in off; else the verifier with the issuer's keys fetched (SettingsError naming
    EMD_OIDC_ISSUER, EMD_OIDC_CLIENT_ID or EMD_COOKIE_SECRET when that cannot be done)."""
    oidc = oidc_settings()
    if oidc is None:
        return None
    return SignIn(oidc, TokenVerifier(oidc).start())


def unauthorized(reason: str) -> JSONResponse:
    return JSONResponse(status_code=401, content={"detail": f"sign-in required: {reason}"},
                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def principal_of(sign_in: SignIn, token: str) -> Principal:
    """The user a token stands for (AuthError when it is not valid): roles and teams from their tenant's
    config `access:`; a token naming no configured tenant gets an empty scope in no tenant."""
    if is_api_token(token):
        return MACHINE
    claims = sign_in.verifier.verify(token)
    tenant = tenants.tenant_of_claims(claims, sign_in.oidc.tenant_claim)
    if isinstance(tenant, tenants.NoTenant):
        return Principal(subject=str(claims.get("sub", "")), teams=(), tenant=None)
    access = load_config(tenants.config_path(tenant)).access
    user = principal_from_claims(claims, access, sign_in.oidc.tenant_claim)
    return Principal(subject=user.subject, name=user.name, groups=user.groups, teams=user.teams, admin=user.admin,
                     tenant=tenant)


async def require_sign_in(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    if not hasattr(request.app.state, "sign_in"):  # served without its lifespan (e.g. a bare TestClient)
        request.app.state.sign_in = await run_in_threadpool(start_sign_in)
    sign_in: SignIn | None = request.app.state.sign_in
    if sign_in is None:
        request.state.principal = ANONYMOUS
        return await call_next(request)
    if request.url.path in OPEN_PATHS:
        return await call_next(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return unauthorized("send `Authorization: Bearer <token>` (an access or ID token of EMD_OIDC_ISSUER)")
    try:
        principal = await run_in_threadpool(principal_of, sign_in, token.strip())
    except AuthError as exc:
        return unauthorized(str(exc))
    request.state.principal = principal
    request.state.subject = principal.subject
    return await call_next(request)


def current_principal(request: Request) -> Principal:
    return getattr(request.state, "principal", ANONYMOUS)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
