"""Sign-in on the metrics API as it runs: `emd api` (a real uvicorn process) with EMD_OIDC_ISSUER pointing at a
real OpenID provider on loopback (tests/fixtures/oidc.py), and the provider's own tokens over real HTTP.

The warehouse is tests/fixtures/api.py's (teams platform: acme/api, web: acme/web, data: acme/data-pipeline);
the config grants eng-platform -> platform, eng-web -> web, eng-leadership org-wide, emd-admins admin.
Hand-computed from tests/fixtures/marts.py DEPLOYMENTS over 2026-03-02..2026-03-15 (14 days):
- platform: d1 d2 d3 dbot d4 = 5 deployments -> 5/14 per day; d2 and d4 failed -> change failure rate 2/5;
- web: d5 d6 = 2 -> 2/14 per day; d6 failed -> 1/2;
- every team: d1..d7 and dbot = 8 -> 8/14 per day; d2 d4 d6 failed -> 3/8.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from pathlib import Path

import httpx
import hypothesis
import jwt
import pytest
import schemathesis
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.main import create_app
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi, MockState
from tests.fixtures.api import API_TOKEN, build_api_warehouse, running_api, write_config
from tests.fixtures.browser import free_port
from tests.fixtures.oidc import API_AUDIENCE, Provider, start_provider

WINDOW = {"from": "2026-03-02", "to": "2026-03-15"}
ACCESS = {"org_wide": ["eng-leadership"], "admins": ["emd-admins"],
          "teams": {"eng-platform": ["platform"], "eng-web": ["web"]}}
DENIED = {"detail": "outside your access: ask for a team your groups grant (filters.scope)"}


@dataclass
class Api:
    url: str

    def get(self, path: str, token: str | None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=30)

    def post(self, path: str, token: str | None, body: dict, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(self.url + path, params=params, json=body, headers=headers, timeout=30)


def signed_in_config(path: Path) -> Path:
    write_config(path)
    config = yaml.safe_load(path.read_text())
    config["access"] = ACCESS
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def api_env(provider: Provider, folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "EMD_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": f"duckdb:///{folder / 'warehouse.duckdb'}",
                "EMD_CONFIG": str(folder / "config.yaml"), "EMD_API_TOKEN": API_TOKEN,
                **provider.env(EMD_OIDC_AUDIENCE=API_AUDIENCE), **extra})
    return env


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signed-in-api")
    build_api_warehouse(path / "warehouse.duckdb")
    signed_in_config(path / "config.yaml")
    return path


@pytest.fixture(scope="module")
def api(oidc_provider: Provider, folder: Path) -> Iterator[Api]:
    with running_api(folder, api_env(oidc_provider, folder)) as url:
        yield Api(url)


def deployments(answer: httpx.Response) -> tuple[float, float]:
    tiles = {t["key"]: t["value"] for t in answer.json()["tiles"]}
    return tiles["deployment_frequency_per_day"], tiles["change_failure_rate"]


# ---------------------------------------------------------------------------------------------------------
# Route x scope: every route the app serves (enumerated from its router, so a new route without a case here
# fails test_every_served_route_has_a_scope_case) meets a one-team user's token for their own team, another
# team, another tenant and no team at all.


@dataclass(frozen=True)
class Surface:
    """One route and what it serves: `team` (numbers or rows of the teams asked for), `org` (org-wide
    counters: org-wide users and the scraper only), `write` (a POST: admins and EMD_API_TOKEN only), `docs`
    (the API's own description, no data, but behind sign-in), `open` (/healthz only)."""

    method: str
    route: str  # the route's template, as the router has it
    kind: str
    params: dict = field(default_factory=dict)
    path: str | None = None  # a concrete path for a template
    body: dict | None = None

    @property
    def url(self) -> str:
        return self.path or self.route

    def call(self, api: Api, token: str | None, **params: str) -> httpx.Response:
        if self.method == "POST":
            return api.post(self.url, token, {**(self.body or {}), **{k: v for k, v in params.items() if k == "team"}},
                            **{k: v for k, v in {**self.params, **params}.items() if k != "team"})
        return api.get(self.url, token, **{**self.params, **params})


SURFACES = [
    Surface("GET", "/metrics/tiles", "team", WINDOW),
    Surface("GET", "/metrics/series/{metric}", "team", WINDOW, path="/metrics/series/deployment_frequency_per_day"),
    Surface("GET", "/insights/sprint-health", "team", {"team": "platform"}),
    Surface("GET", "/slos", "team", WINDOW),
    Surface("GET", "/ai/impact", "team", WINDOW),
    Surface("GET", "/prometheus", "org"),
    Surface("POST", "/slack/summaries", "write", body={"team": "platform"}),
    Surface("GET", "/healthz", "open"),
    Surface("GET", "/openapi.json", "docs"),
    Surface("GET", "/docs", "docs"),
    Surface("GET", "/docs/oauth2-redirect", "docs"),
    Surface("GET", "/redoc", "docs"),
]
DATA_ROUTES = [(s.url, s.params) for s in SURFACES if s.kind == "team"]
PLATFORM_ONLY = {"platform", "acme/api"}


def served_routes(routes: list) -> set[tuple[str, str]]:
    """(method, path template) of every route, through included routers (FastAPI keeps them as a branch
    holding the original router) as well as plain ones."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            found |= {(method, prefix + path) for method, path in served_routes(included.routes)}
        elif hasattr(route, "path"):
            found |= {(method, route.path) for method in getattr(route, "methods", None) or () if method != "HEAD"}
    return found


def test_every_served_route_has_a_scope_case() -> None:
    assert served_routes(create_app().routes) == {(s.method, s.route) for s in SURFACES}


@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: f"{s.method} {s.route}")
def test_route_by_scope(api: Api, oidc_provider: Provider, surface: Surface) -> None:
    alice, nobody = oidc_provider.access_token("alice"), oidc_provider.access_token("nobody")
    anonymous = surface.call(api, None, team="platform")
    if surface.kind == "open":
        assert anonymous.status_code == 200
        return
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    if surface.kind == "docs":  # the API's description: any signed-in user, whatever their teams
        assert surface.call(api, alice).status_code == 200 and surface.call(api, nobody).status_code == 200
        return
    own = surface.call(api, alice, team="platform")
    other = surface.call(api, alice, team="web")
    other_tenant = surface.call(api, alice, team="platform", tenant="gold")
    no_team = surface.call(api, nobody, team="platform")
    if surface.kind == "team":
        assert own.status_code == 200, own.text
        assert own.json()["filters"]["scope"] == ["platform"] and _named(own.json()) <= PLATFORM_ONLY
        assert (other.status_code, other.json()) == (403, DENIED)
        assert other_tenant.status_code == 404  # one config file: no other tenant exists
        assert (no_team.status_code, no_team.json()) == (403, DENIED)
    elif surface.kind == "org":  # org-wide counters: never for a scoped user, whatever they ask
        for answer in (own, other, no_team):
            assert (answer.status_code, answer.json()) == (403, DENIED)
        assert other_tenant.status_code == 404
        for token in (oidc_provider.access_token("lead"), API_TOKEN):
            assert "emd_api_requests_total" in surface.call(api, token).text
    else:  # a write: admins and the machine credential only (test_posting_is_for_admins_and_the_machine_token)
        for answer in (own, other, other_tenant, no_team):
            assert answer.status_code == 403 and "access.admins" in answer.json()["detail"]
    for answer in (own, other, other_tenant, no_team):
        assert answer.status_code != 200 or surface.kind == "team"
        assert "acme/web" not in answer.text and "acme/data-pipeline" not in answer.text


def test_a_one_team_user_sees_exactly_their_team(api: Api, oidc_provider: Provider) -> None:
    alice = oidc_provider.access_token("alice")  # eng-platform -> platform
    # No team named: computed over the scope, which for a one-team user equals team=platform.
    mine = api.get("/metrics/tiles", alice, **WINDOW)
    assert mine.status_code == 200
    assert mine.json()["filters"]["scope"] == ["platform"] and mine.json()["filters"]["tenant"] is None
    assert deployments(mine) == (pytest.approx(5 / 14), pytest.approx(2 / 5))
    own = api.get("/metrics/tiles", alice, team="platform", **WINDOW)
    assert own.status_code == 200 and deployments(own) == deployments(mine)
    series = api.get("/metrics/series/deployment_frequency_per_day", alice, **WINDOW).json()
    assert series["filters"]["scope"] == ["platform"]
    assert sum(p["sample_size"] for p in series["points"]) == 5
    slos = api.get("/slos", alice, **WINDOW)
    assert slos.status_code == 200 and slos.json()["filters"]["scope"] == ["platform"]
    card = api.get("/insights/sprint-health", alice, team="platform")
    assert card.status_code == 200 and card.json()["filters"]["scope"] == ["platform"]
    assert api.get("/docs", alice).status_code == 200 and api.get("/openapi.json", alice).status_code == 200


@pytest.mark.parametrize(("path", "params"), [
    ("/metrics/tiles", {"team": "web", **WINDOW}),
    ("/metrics/tiles", {"repo": "acme/web", **WINDOW}),
    ("/metrics/tiles", {"team": "platform", "repo": "acme/web", **WINDOW}),
    ("/metrics/series/deployment_frequency_per_day", {"team": "data", **WINDOW}),
    ("/metrics/series/deployment_frequency_per_day", {"repo": "acme/data-pipeline", **WINDOW}),
    ("/insights/sprint-health", {"team": "web"}),
    ("/slos", {"team": "web", **WINDOW}),
    ("/slos", {"repo": "acme/web", **WINDOW}),
    ("/ai/impact", {"team": "web", **WINDOW}),
])
def test_another_team_is_403_and_reveals_nothing(api: Api, oidc_provider: Provider, path: str,
                                                 params: dict[str, str]) -> None:
    answer = api.get(path, oidc_provider.access_token("alice"), **params)
    assert answer.status_code == 403 and answer.json() == DENIED
    # An unknown name answers exactly the same: existence is not revealed.
    unknown = {k: ("nosuchteam" if k == "team" else "acme/nosuch" if k == "repo" else v) for k, v in params.items()}
    ghost = api.get(path, oidc_provider.access_token("alice"), **unknown)
    assert (ghost.status_code, ghost.json()) == (403, DENIED)


def test_another_tenant_is_404(api: Api, oidc_provider: Provider) -> None:
    # A single config file: no tenant but this one exists, so `?tenant=` naming another is unknown.
    for path, params in DATA_ROUTES:
        assert api.get(path, oidc_provider.access_token("alice"), tenant="gold", **params).status_code == 404


@pytest.mark.parametrize("login", ["nobody", "nogroups"])
def test_no_team_or_no_groups_claim_is_an_empty_scope(api: Api, oidc_provider: Provider, login: str) -> None:
    token = oidc_provider.access_token(login)
    answer = api.get("/metrics/tiles", token, **WINDOW)
    assert answer.status_code == 200 and answer.json()["filters"]["scope"] == []
    assert deployments(answer) == (0.0, None)  # no deployment in an empty scope; a rate over 0 is null
    for path, params in DATA_ROUTES:
        assert api.get(path, token, **{**params, "team": "platform"}).status_code == 403


def test_org_wide_users_see_every_team(api: Api, oidc_provider: Provider) -> None:
    for login in ("lead", "admin"):
        token = oidc_provider.access_token(login)
        answer = api.get("/metrics/tiles", token, **WINDOW)
        assert answer.json()["filters"]["scope"] == ["data", "platform", "web"]
        assert deployments(answer) == (pytest.approx(8 / 14), pytest.approx(3 / 8))
        assert deployments(api.get("/metrics/tiles", token, team="web", **WINDOW)) == (
            pytest.approx(2 / 14), pytest.approx(1 / 2))
        # For org-wide users an unknown team stays a 422 naming the parameter.
        unknown = api.get("/metrics/tiles", token, team="nosuchteam", **WINDOW)
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["query", "team"]


def test_posting_is_for_admins_and_the_machine_token(api: Api, oidc_provider: Provider) -> None:
    def post(token: str) -> httpx.Response:
        return httpx.post(api.url + "/slack/summaries", json={"team": "platform"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)

    assert post(oidc_provider.access_token("alice")).status_code == 403
    assert post(oidc_provider.access_token("lead")).status_code == 403
    # Past sign-in and roles: Slack is not configured on this server, which is the next thing it says.
    for token in (oidc_provider.access_token("admin"), API_TOKEN):
        answer = post(token)
        assert answer.status_code == 503 and "SLACK_BOT_TOKEN" in answer.json()["detail"]
    machine = api.get("/metrics/tiles", API_TOKEN, **WINDOW)
    assert machine.json()["filters"]["scope"] == ["data", "platform", "web"]


# ---------------------------------------------------------------------------------------------------------
# Bad tokens: 401, never a 500, never data


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict, payload: dict, sign: bytes | None = None) -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = _b64(hmac.new(sign, head.encode(), hashlib.sha256).digest()) if sign is not None else ""
    return head + "." + signature


def test_bad_tokens_are_401(api: Api, oidc_provider: Provider, tmp_path: Path) -> None:
    real = oidc_provider.access_token("lead")
    header, claims = jwt.get_unverified_header(real), jwt.decode(real, options={"verify_signature": False})
    public_pem = jwt.PyJWK(oidc_provider.signing_jwk).key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM, format=serialization.PublicFormat.SubjectPublicKeyInfo)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "alg none": _forge({"alg": "none", "typ": "JWT"}, claims),
        "HS256 with the public key": _forge({**header, "alg": "HS256"}, claims, public_pem),
        "another key, same kid": jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": header["kid"]}),
        "wrong audience (the ID token)": oidc_provider.id_token("lead"),
        "not a JWT": "not-a-jwt",
        "tampered claims": real.split(".")[0] + "." + _b64(json.dumps({**claims, "groups": ["emd-admins"]}).encode())
        + "." + real.split(".")[2],
    }
    # A real provider with the same key but a clock two hours behind issues a token expired well past the
    # leeway; another with the same key signing as another issuer.
    with start_provider(tmp_path, oidc_provider.dashboard_port, oidc_provider.signing_jwk,
                        issuer=oidc_provider.issuer, clock_skew_seconds=-7200) as late:
        bad["expired"] = late.access_token("lead")
    with start_provider(tmp_path, oidc_provider.dashboard_port, oidc_provider.signing_jwk,
                        issuer="http://127.0.0.1:1/another-issuer") as other:
        bad["another issuer"] = other.access_token("lead")
    why = {"alg none": "algorithm 'none'", "HS256 with the public key": "algorithm 'HS256'",
           "another key, same kid": "signature", "wrong audience (the ID token)": "EMD_OIDC_AUDIENCE",
           "not a JWT": "not a JWT", "tampered claims": "signature", "expired": "expired",
           "another issuer": "another issuer"}
    for reason, token in bad.items():
        answer = api.get("/metrics/tiles", token, **WINDOW)
        assert answer.status_code == 401, (reason, answer.text)
        assert why[reason] in answer.json()["detail"], (reason, answer.text)
        assert answer.headers["www-authenticate"].startswith("Bearer"), reason
        assert "tiles" not in answer.json(), reason
    assert api.get("/metrics/tiles", real, **WINDOW).status_code == 200


def test_an_id_token_is_accepted_with_the_default_audience(oidc_provider: Provider, folder: Path) -> None:
    env = api_env(oidc_provider, folder)
    del env["EMD_OIDC_AUDIENCE"]  # default: the client id, the `aud` of the provider's ID tokens
    with running_api(folder, env) as url:
        served = Api(url)
        answer = served.get("/metrics/tiles", oidc_provider.id_token("walt"), **WINDOW)
        assert answer.status_code == 200 and answer.json()["filters"]["scope"] == ["web"]
        assert deployments(answer) == (pytest.approx(2 / 14), pytest.approx(1 / 2))
        assert served.get("/metrics/tiles", oidc_provider.access_token("walt"), **WINDOW).status_code == 401


def test_unknown_kids_refetch_the_keys_at_most_once_per_5_seconds(api: Api, oidc_provider: Provider) -> None:
    claims = jwt.decode(oidc_provider.access_token("lead"), options={"verify_signature": False})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    before = oidc_provider.jwks_hits()
    for n in range(4):
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": f"rotated-{n}"})
        assert api.get("/metrics/tiles", token, **WINDOW).status_code == 401
    assert oidc_provider.jwks_hits() - before <= 1
    assert api.get("/metrics/tiles", oidc_provider.access_token("lead"), **WINDOW).status_code == 200


def test_start_up_errors_name_the_variable(oidc_provider: Provider, folder: Path) -> None:
    def run(**overrides: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in api_env(oidc_provider, folder).items() if k not in overrides or overrides[k]}
        env.update({k: v for k, v in overrides.items() if v})
        return subprocess.run([sys.executable, "-m", "orchestration.cli", "api", "--port", str(free_port())],
                              cwd=folder, env=env, capture_output=True, text=True, timeout=60)

    unreachable = run(EMD_OIDC_ISSUER=f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 1 and "EMD_OIDC_ISSUER" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    no_cookie_secret = run(EMD_COOKIE_SECRET="")
    assert no_cookie_secret.returncode == 1 and "EMD_COOKIE_SECRET" in no_cookie_secret.stderr


def test_cached_keys_keep_serving_when_the_issuer_goes_away(tmp_path: Path, oidc_provider: Provider) -> None:
    from emd.auth import AuthError, OidcSettings, TokenVerifier

    with start_provider(tmp_path, oidc_provider.dashboard_port) as provider:
        oidc = OidcSettings(issuer=provider.issuer, client_id="emd-dashboard", client_secret=None,
                            audience=API_AUDIENCE, cookie_secret="x" * 32, tenant_claim="tenant")
        verifier = TokenVerifier(oidc, refetch_interval=0).start()
        token = provider.access_token("alice")
    # The provider has stopped: the cached key still checks its token, and an unknown kid is a clean AuthError.
    assert verifier.verify(token)["groups"] == ["eng-platform"]
    claims = jwt.decode(token, options={"verify_signature": False})
    stranger = jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                          algorithm="RS256", headers={"kid": "unknown"})
    with pytest.raises(AuthError, match="key the issuer does not publish"):
        verifier.verify(stranger)
    assert verifier.verify(token)["sub"] == "alice"


# ---------------------------------------------------------------------------------------------------------
# schemathesis over the whole OpenAPI surface, with a one-team user's token: no answer has another team's rows

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())  # the same document the server serves
WEB_ONLY = {"web", "acme/web"}


def _named(value: object, keys: tuple[str, ...] = ("team", "repo", "scope")) -> set[str]:
    """Every team or repo an answer names (under `team`, `repo`, `scope`, at any depth)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys:
                found |= {item} if isinstance(item, str) else {i for i in item if isinstance(i, str)} \
                    if isinstance(item, list) else set()
            found |= _named(item, keys)
    elif isinstance(value, list):
        for item in value:
            found |= _named(item, keys)
    return found


@schema.parametrize()
@hypothesis.settings(max_examples=25, deadline=None, suppress_health_check=list(hypothesis.HealthCheck),
                     derandomize=True)
def test_openapi_surface_with_a_one_team_token(case, api: Api, oidc_provider: Provider) -> None:
    response = case.call(base_url=api.url, headers={"Authorization": f"Bearer {oidc_provider.access_token('walt')}"})
    assert response.status_code < 500 or response.status_code == 503, response.text  # 503: Slack not configured
    if response.status_code == 200 and "json" in response.headers.get("content-type", ""):
        assert _named(response.json()) <= WEB_ONLY, response.text
    for other in ("acme/api", "acme/data-pipeline", "platform"):
        assert other not in response.text or case.path in ("/openapi.json", "/docs"), (other, response.text)


# ---------------------------------------------------------------------------------------------------------
# Tenants: EMD_CONFIG a folder of acme.yaml and gold.yaml, DATABASE_URL with {tenant}; one API serves both.
# gold's warehouse is the same fixture without deployment d4, so its platform deployed d1 d2 d3 dbot = 4 times
# (4/14 per day), d2 failed (1/4); every gold team: 7 deployments, d2 d6 failed (7/14, 2/7).
# Each tenant has its own Slack workspace (a mock server each, under ACME_SLACK_* and GOLD_SLACK_*); the plain
# SLACK_* name acme's, which with several tenants must serve nobody.

GOLD_DASHBOARD = "http://gold.example:8501"


@dataclass
class Tenants:
    api: Api
    root: Path
    slack: dict[str, MockApi]


@pytest.fixture(scope="module")
def tenants(oidc_provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    import duckdb

    from emd.settings import parse_database_url
    from emd.snapshot import publish_build
    from emd.warehouse import Warehouse
    from tests.fixtures.marts import PUBLISHED_AT

    root = tmp_path_factory.mktemp("tenants")
    (root / "config").mkdir()
    for tenant in ("acme", "gold"):
        signed_in_config(root / "config" / f"{tenant}.yaml")
    gold_config = yaml.safe_load((root / "config" / "gold.yaml").read_text())
    (root / "config" / "gold.yaml").write_text(yaml.safe_dump({**gold_config, "dashboard": {"url": GOLD_DASHBOARD}}))
    build_api_warehouse(root / "acme.duckdb")
    build_api_warehouse(root / "gold.duckdb")
    with duckdb.connect(str(root / "gold.duckdb")) as conn:
        conn.execute("delete from fct_deployments where deployment_id = 'd4'")
    # gold's build is published an hour after acme's, so each tenant's scrape shows its own.
    publish_build(Warehouse(parse_database_url(f"duckdb:///{root / 'gold.duckdb'}")),
                  now=PUBLISHED_AT + timedelta(hours=1))
    org = SyntheticOrg(seed=7, anchor=date(2026, 3, 31))
    with MockApi(MockState(org=org)) as acme_slack, MockApi(MockState(org=org)) as gold_slack:
        slack = {"acme": acme_slack, "gold": gold_slack}
        slack_env = {f"{tenant.upper()}_{k}": v for tenant, mock in slack.items() for k, v in mock.env().items()
                     if k.startswith("SLACK_")}
        env = api_env(oidc_provider, root, EMD_CONFIG=str(root / "config"),
                      DATABASE_URL=f"duckdb:///{root}/{{tenant}}.duckdb", **slack_env,
                      **{k: v for k, v in acme_slack.env().items() if k.startswith("SLACK_")})
        # With several tenants /healthz names one.
        with running_api(root, env, health="/healthz?tenant=acme") as url:
            yield Tenants(Api(url), root, slack)


def test_each_user_reaches_only_their_tenant(tenants: Tenants, oidc_provider: Provider) -> None:
    acme = tenants.api.get("/metrics/tiles", oidc_provider.access_token("alice"), **WINDOW)
    assert acme.json()["filters"]["tenant"] == "acme" and acme.json()["filters"]["scope"] == ["platform"]
    assert deployments(acme) == (pytest.approx(5 / 14), pytest.approx(2 / 5))
    gold = tenants.api.get("/metrics/tiles", oidc_provider.access_token("gold"), **WINDOW)
    assert gold.json()["filters"]["tenant"] == "gold" and gold.json()["filters"]["scope"] == ["platform"]
    assert deployments(gold) == (pytest.approx(4 / 14), pytest.approx(1 / 4))
    # Another tenant than the token's: 404 either way; a token naming no tenant: 403 and no data.
    for surface in SURFACES:
        if surface.kind in ("team", "org"):
            for token, other in (("alice", "gold"), ("gold", "acme"), ("lead", "gold")):
                answer = surface.call(tenants.api, oidc_provider.access_token(token), tenant=other)
                assert answer.status_code == 404, (surface.route, token, answer.text)
            assert surface.call(tenants.api, oidc_provider.access_token("notenant")).status_code == 403


def test_the_machine_token_names_its_tenant(tenants: Tenants) -> None:
    ambiguous = tenants.api.get("/metrics/tiles", API_TOKEN, **WINDOW)
    assert ambiguous.status_code == 422 and ambiguous.json()["detail"][0]["loc"] == ["query", "tenant"]
    gold = tenants.api.get("/metrics/tiles", API_TOKEN, tenant="gold", **WINDOW)
    assert gold.json()["filters"]["tenant"] == "gold"
    assert deployments(gold) == (pytest.approx(7 / 14), pytest.approx(2 / 7))


def slack_messages(mock: MockApi) -> list[dict]:
    return httpx.get(mock.url + "/_mock/slack/messages", timeout=5).json()


def test_posting_goes_to_the_tenants_own_slack_and_warehouse(tenants: Tenants, oidc_provider: Provider) -> None:
    from tests.fixtures.api import stored_post

    admin = oidc_provider.access_token("admin")  # emd-admins in tenant acme
    assert tenants.api.post("/slack/summaries", admin, {"team": "platform"}, tenant="gold").status_code == 404
    assert tenants.api.post("/slack/summaries", oidc_provider.access_token("gold"),
                            {"team": "platform"}).status_code == 403  # gold's user is not an admin
    ambiguous = tenants.api.post("/slack/summaries", API_TOKEN, {"team": "platform"})
    assert ambiguous.status_code == 422 and ambiguous.json()["detail"][0]["loc"] == ["query", "tenant"]
    assert slack_messages(tenants.slack["acme"]) == slack_messages(tenants.slack["gold"]) == []

    acme = tenants.api.post("/slack/summaries", admin, {"team": "platform"})
    assert acme.status_code == 200, acme.text
    assert [m["ts"] for m in slack_messages(tenants.slack["acme"])] == [acme.json()["ts"]]
    assert slack_messages(tenants.slack["gold"]) == []
    assert stored_post(tenants.root / "acme.duckdb", "2") == ("C0MOCKCHAN", acme.json()["ts"])
    assert stored_post(tenants.root / "gold.duckdb", "2") == (None, None)

    gold = tenants.api.post("/slack/summaries", API_TOKEN, {"team": "platform"}, tenant="gold")
    assert gold.status_code == 200 and gold.json()["action"] == "posted", gold.text
    posted = slack_messages(tenants.slack["gold"])
    assert [m["ts"] for m in posted] == [gold.json()["ts"]]
    assert GOLD_DASHBOARD in json.dumps(posted[0]["blocks"])  # the link lands on gold's dashboard
    assert len(slack_messages(tenants.slack["acme"])) == 1
    assert stored_post(tenants.root / "gold.duckdb", "2") == ("C0MOCKCHAN", gold.json()["ts"])
    assert stored_post(tenants.root / "acme.duckdb", "2") == ("C0MOCKCHAN", acme.json()["ts"])


def test_prometheus_with_several_tenants_is_the_scrapers(tenants: Tenants, oidc_provider: Provider) -> None:
    # A user's org-wide scope is one tenant's; the process's request counters span both: the scraper only.
    lead = tenants.api.get("/prometheus", oidc_provider.access_token("lead"))
    assert lead.status_code == 403 and "EMD_API_TOKEN" in lead.json()["detail"]
    ambiguous = tenants.api.get("/prometheus", API_TOKEN)
    assert ambiguous.status_code == 422 and ambiguous.json()["detail"][0]["loc"] == ["query", "tenant"]
    from prometheus_client.parser import text_string_to_metric_families

    from tests.fixtures.marts import PUBLISHED_AT

    for tenant, published in (("acme", PUBLISHED_AT), ("gold", PUBLISHED_AT + timedelta(hours=1))):
        scraped = tenants.api.get("/prometheus", API_TOKEN, tenant=tenant)
        assert scraped.status_code == 200
        refreshed = [sample.value for family in text_string_to_metric_families(scraped.text)
                     if family.name == "emd_last_refresh_timestamp_seconds" for sample in family.samples]
        aware = published if published.tzinfo else published.replace(tzinfo=UTC)
        assert refreshed == [aware.timestamp()], tenant
