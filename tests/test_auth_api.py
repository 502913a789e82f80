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
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.fixtures.api import API_TOKEN, build_api_warehouse, write_config
from tests.fixtures.browser import free_port
from tests.fixtures.oidc import API_AUDIENCE, Provider, start_provider

WINDOW = {"from": "2026-03-02", "to": "2026-03-15"}
ACCESS = {"org_wide": ["eng-leadership"], "admins": ["emd-admins"],
          "teams": {"eng-platform": ["platform"], "eng-web": ["web"]}}
DENIED = {"detail": "outside your access: ask for a team your groups grant (filters.scope)"}


@dataclass
class Api:
    url: str
    process: subprocess.Popen

    def get(self, path: str, token: str | None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=30)


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


def start_api(env: dict[str, str], cwd: Path, health: str = "/healthz") -> Api:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "api", "--port", str(port)],
                               cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(url + health, timeout=2).status_code == 200:
                return Api(url, process)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop(process)
            raise AssertionError(f"emd api did not answer {health} within 60 s")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signed-in-api")
    build_api_warehouse(path / "warehouse.duckdb")
    signed_in_config(path / "config.yaml")
    return path


@pytest.fixture(scope="module")
def api(oidc_provider: Provider, folder: Path) -> Iterator[Api]:
    served = start_api(api_env(oidc_provider, folder), folder)
    try:
        yield served
    finally:
        stop(served.process)


def deployments(answer: httpx.Response) -> tuple[float, float]:
    tiles = {t["key"]: t["value"] for t in answer.json()["tiles"]}
    return tiles["deployment_frequency_per_day"], tiles["change_failure_rate"]


DATA_ROUTES = [("/metrics/tiles", WINDOW), ("/metrics/series/deployment_frequency_per_day", WINDOW),
               ("/insights/sprint-health", {"team": "platform"}), ("/slos", WINDOW),
               ("/ai/impact", WINDOW)]
GET_ROUTES = [*DATA_ROUTES, ("/docs", {}), ("/openapi.json", {})]


def test_every_route_but_healthz_needs_a_token(api: Api) -> None:
    assert api.get("/healthz", None).status_code == 200
    for path, params in GET_ROUTES:
        answer = api.get(path, None, **params)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"].startswith("Bearer")
    posted = httpx.post(api.url + "/slack/summaries", json={"team": "platform"}, timeout=10)
    assert posted.status_code == 401 and posted.headers["www-authenticate"].startswith("Bearer")


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
    served = start_api(env, folder)
    try:
        answer = served.get("/metrics/tiles", oidc_provider.id_token("walt"), **WINDOW)
        assert answer.status_code == 200 and answer.json()["filters"]["scope"] == ["web"]
        assert deployments(answer) == (pytest.approx(2 / 14), pytest.approx(1 / 2))
        assert served.get("/metrics/tiles", oidc_provider.access_token("walt"), **WINDOW).status_code == 401
    finally:
        stop(served.process)


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


@pytest.fixture(scope="module")
def tenants_api(oidc_provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    import duckdb

    from emd.settings import parse_database_url
    from emd.snapshot import publish_build
    from emd.warehouse import Warehouse
    from tests.fixtures.marts import PUBLISHED_AT, build_duckdb_warehouse

    root = tmp_path_factory.mktemp("tenants")
    (root / "config").mkdir()
    for tenant in ("acme", "gold"):
        signed_in_config(root / "config" / f"{tenant}.yaml")
    build_api_warehouse(root / "acme.duckdb")
    build_duckdb_warehouse(root / "gold.duckdb")
    with duckdb.connect(str(root / "gold.duckdb")) as conn:
        conn.execute("delete from fct_deployments where deployment_id = 'd4'")
    publish_build(Warehouse(parse_database_url(f"duckdb:///{root / 'gold.duckdb'}")), now=PUBLISHED_AT)
    env = api_env(oidc_provider, root, EMD_CONFIG=str(root / "config"),
                  DATABASE_URL=f"duckdb:///{root}/{{tenant}}.duckdb")
    served = start_api(env, root, health="/healthz?tenant=acme")  # with several tenants /healthz names one
    try:
        yield served
    finally:
        stop(served.process)


def test_each_user_reaches_only_their_tenant(tenants_api: Api, oidc_provider: Provider) -> None:
    acme = tenants_api.get("/metrics/tiles", oidc_provider.access_token("alice"), **WINDOW)
    assert acme.json()["filters"]["tenant"] == "acme" and acme.json()["filters"]["scope"] == ["platform"]
    assert deployments(acme) == (pytest.approx(5 / 14), pytest.approx(2 / 5))
    gold = tenants_api.get("/metrics/tiles", oidc_provider.access_token("gold"), **WINDOW)
    assert gold.json()["filters"]["tenant"] == "gold" and gold.json()["filters"]["scope"] == ["platform"]
    assert deployments(gold) == (pytest.approx(4 / 14), pytest.approx(1 / 4))
    # Another tenant than the token's: 404; a token naming no tenant: 403 and no data.
    for path, params in DATA_ROUTES:
        assert tenants_api.get(path, oidc_provider.access_token("alice"), tenant="gold", **params).status_code == 404
        assert tenants_api.get(path, oidc_provider.access_token("notenant"), **params).status_code == 403


def test_the_machine_token_names_its_tenant(tenants_api: Api) -> None:
    ambiguous = tenants_api.get("/metrics/tiles", API_TOKEN, **WINDOW)
    assert ambiguous.status_code == 422 and ambiguous.json()["detail"][0]["loc"] == ["query", "tenant"]
    gold = tenants_api.get("/metrics/tiles", API_TOKEN, tenant="gold", **WINDOW)
    assert gold.json()["filters"]["tenant"] == "gold"
    assert deployments(gold) == (pytest.approx(7 / 14), pytest.approx(2 / 7))
