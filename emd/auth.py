"""Sign-in: the OpenID Connect settings, bearer JWT checks against the issuer's JWKS, and a user's team scope.

- `oidc_settings()`: None without `EMD_OIDC_ISSUER` (sign-in off); else the issuer, client, audience, cookie
  secret and tenant claim, or a SettingsError naming the missing variable.
- `TokenVerifier`: the issuer's keys, fetched at start (an unreachable issuer is a SettingsError naming
  EMD_OIDC_ISSUER) and cached; a token whose `kid` is unknown refetches them at most once every
  `REFETCH_INTERVAL_SECONDS`, and a failed refetch keeps the cached keys serving. Only the asymmetric
  algorithms a JWKS can publish are accepted (never `none`, never HMAC, which would take the public key as a
  shared secret); `iss`, `exp` (with `LEEWAY_SECONDS`) and `aud` containing EMD_OIDC_AUDIENCE are required.
- `principal_from_claims(claims, access)`: the user's groups (config `access.groups_claim`) -> roles and the
  teams they see (DESIGN.md "Sign-in, roles and team scopes"). A missing groups claim is an empty scope.

Tokens and secrets never appear in messages: errors say what is wrong with a token, never its content.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from emd import settings
from emd.config import AccessConfig
from emd.settings import SettingsError

log = logging.getLogger(__name__)

# The algorithms a JWKS publishes public keys for. HS* (a shared secret) and `none` are never accepted.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                   "ES256", "ES384", "ES512", "EdDSA"})
REFETCH_INTERVAL_SECONDS = 5.0
LEEWAY_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 5.0
DEFAULT_TENANT_CLAIM = "tenant"


class AuthError(Exception):
    """A request that is not signed in (401): the message says what is wrong, never the token."""


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str | None
    audience: str
    cookie_secret: str
    tenant_claim: str

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def sign_in_enabled() -> bool:
    return settings.env("EMD_OIDC_ISSUER") is not None


def oidc_settings() -> OidcSettings | None:
    """The sign-in settings, or None when EMD_OIDC_ISSUER is unset (sign-in off)."""
    issuer = settings.env("EMD_OIDC_ISSUER")
    if issuer is None:
        return None
    if not issuer.startswith(("https://", "http://")):
        raise SettingsError(f"EMD_OIDC_ISSUER must be the issuer's URL (https://...), got {issuer[:40]!r}")
    client_id = settings.env("EMD_OIDC_CLIENT_ID")
    if client_id is None:
        raise SettingsError("EMD_OIDC_CLIENT_ID is required with EMD_OIDC_ISSUER: the client id the provider "
                            "registered for this deployment (the default audience of API tokens)")
    cookie_secret = settings.env("EMD_COOKIE_SECRET")
    if cookie_secret is None:
        raise SettingsError("EMD_COOKIE_SECRET is required with EMD_OIDC_ISSUER: a long random string that signs "
                            "the dashboard's sign-in cookie (e.g. `python -c 'import secrets; "
                            "print(secrets.token_urlsafe(32))'`)")
    return OidcSettings(issuer=issuer, client_id=client_id, client_secret=settings.env("EMD_OIDC_CLIENT_SECRET"),
                        audience=settings.env("EMD_OIDC_AUDIENCE") or client_id, cookie_secret=cookie_secret,
                        tenant_claim=settings.env("EMD_OIDC_TENANT_CLAIM") or DEFAULT_TENANT_CLAIM)


class TokenVerifier:
    """Checks bearer JWTs of one issuer against its JWKS (see the module's docstring)."""

    def __init__(self, oidc: OidcSettings, refetch_interval: float = REFETCH_INTERVAL_SECONDS) -> None:
        self.oidc = oidc
        self.refetch_interval = refetch_interval
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._jwks_uri: str | None = None
        self._last_fetch = float("-inf")
        self._lock = threading.Lock()

    def start(self) -> TokenVerifier:
        """Discovery and the first JWKS fetch; SettingsError naming EMD_OIDC_ISSUER when they fail."""
        try:
            with httpx.Client(timeout=HTTP_TIMEOUT_SECONDS) as client:
                found = client.get(self.oidc.discovery_url)
                found.raise_for_status()
                document = found.json()
                if str(document.get("issuer", "")).rstrip("/") != self.oidc.issuer.rstrip("/"):
                    raise SettingsError(f"EMD_OIDC_ISSUER={self.oidc.issuer} does not match the `issuer` its "
                                        f"discovery document names ({document.get('issuer')!r}): use that URL")
                self._jwks_uri = str(document["jwks_uri"])
                self._fetch_keys(client)
        except SettingsError:
            raise
        except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWTError) as exc:
            raise SettingsError(f"EMD_OIDC_ISSUER={self.oidc.issuer}: cannot read its OpenID configuration or "
                                f"keys at {self.oidc.discovery_url} ({type(exc).__name__}: {exc}). Check the URL "
                                "and that the provider is reachable from this server.") from None
        return self

    def _fetch_keys(self, client: httpx.Client) -> None:
        self._last_fetch = time.monotonic()
        assert self._jwks_uri is not None
        answer = client.get(self._jwks_uri)
        answer.raise_for_status()
        keys: dict[str | None, jwt.PyJWK] = {}
        for data in answer.json().get("keys", []):
            if data.get("use", "sig") != "sig" or data.get("kty") == "oct":
                continue  # encryption keys, and symmetric keys a JWKS should never publish
            try:
                keys[data.get("kid")] = jwt.PyJWK(data)
            except jwt.PyJWTError as exc:
                log.warning("skipping a JWKS key of %s that PyJWT cannot use: %s", self.oidc.issuer, exc)
        if not keys:
            raise ValueError(f"{self._jwks_uri} publishes no signing key")
        self._keys = keys

    def _key(self, kid: str | None) -> jwt.PyJWK | None:
        keys = self._keys
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        if kid in keys:
            return keys[kid]
        with self._lock:  # an unknown kid: a rotated key set, refetched at most once per interval
            if kid not in self._keys and time.monotonic() - self._last_fetch >= self.refetch_interval:
                try:
                    with httpx.Client(timeout=HTTP_TIMEOUT_SECONDS) as client:
                        self._fetch_keys(client)
                except (httpx.HTTPError, ValueError) as exc:  # the cached keys keep serving
                    log.warning("refetching the keys of EMD_OIDC_ISSUER=%s failed (%s); the cached keys keep "
                                "serving", self.oidc.issuer, type(exc).__name__)
            return self._keys.get(kid)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or AuthError saying why it is refused."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("the bearer token is not a JWT") from None
        alg = header.get("alg")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise AuthError(f"the token's algorithm {str(alg)[:20]!r} is not accepted (only the issuer's "
                            "public-key algorithms are)")
        kid = header.get("kid")
        key = self._key(kid if isinstance(kid, str) else None)
        if key is None:
            raise AuthError("the token is signed by a key the issuer does not publish")
        declared = key._jwk_data.get("alg")
        if declared is not None and declared != alg:
            raise AuthError("the token's algorithm does not match its key's")
        try:
            return jwt.decode(token, key=key.key, algorithms=[alg], audience=self.oidc.audience,
                              issuer=self.oidc.issuer, leeway=LEEWAY_SECONDS,
                              options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("the token is not meant for this API (its `aud` lacks EMD_OIDC_AUDIENCE)") from None
        except jwt.InvalidIssuerError:
            raise AuthError("the token was issued by another issuer than EMD_OIDC_ISSUER") from None
        except jwt.InvalidSignatureError:
            raise AuthError("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"the token is not valid ({type(exc).__name__})") from None


@dataclass(frozen=True)
class Principal:
    """Who is asking. `teams` None: every team (org-wide); else the teams the user's groups grant."""

    subject: str
    name: str | None = None
    groups: tuple[str, ...] = ()
    teams: tuple[str, ...] | None = ()
    admin: bool = False
    tenant: str | None = None
    machine: bool = False

    @property
    def org_wide(self) -> bool:
        return self.teams is None


ANONYMOUS = Principal(subject="anonymous", teams=None)  # sign-in off: the loopback setup of before
MACHINE = Principal(subject="EMD_API_TOKEN", teams=None, admin=True, machine=True)


def principal_from_claims(claims: Mapping[str, Any], access: AccessConfig,
                          tenant_claim: str = DEFAULT_TENANT_CLAIM) -> Principal:
    raw = claims.get(access.groups_claim)
    groups = tuple(g for g in raw if isinstance(g, str)) if isinstance(raw, list) else ()
    admin = any(g in access.admins for g in groups)
    org_wide = admin or any(g in access.org_wide for g in groups)
    teams = None if org_wide else tuple(sorted({t for g in groups for t in access.teams.get(g, ())}))
    tenant = claims.get(tenant_claim)
    name = claims.get("name") or claims.get("email") or claims.get("preferred_username")
    return Principal(subject=str(claims.get("sub", "")), name=str(name) if name else None, groups=groups,
                     teams=teams, admin=admin, tenant=tenant if isinstance(tenant, str) else None)


def is_api_token(token: str) -> bool:
    """Whether `token` is the EMD_API_TOKEN machine credential (constant-time)."""
    expected = settings.env("EMD_API_TOKEN")
    return expected is not None and hmac.compare_digest(token.encode(), expected.encode())
