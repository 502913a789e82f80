"""The dashboard's cookies behind https: `emd dashboard` whose config `dashboard.url` is https (as behind a TLS
proxy; the server itself speaks HTTP on loopback) signs a user in through the real OpenID provider
(tests/fixtures/oidc.py) over HTTP, and every cookie of the sign-in -- Streamlit's session cookie with the
sign-in's state, `_streamlit_user` and `_streamlit_user_tokens` -- is `Secure` and `HttpOnly` (app/cookies.py).
With an http URL they are not Secure (a browser would drop them on plain HTTP).

The request a "Sign in" click makes (`/auth/login?provider=<token>`) is made here by hand: the token is what
Streamlit's page puts in it, an HS256 JWT naming the provider, signed with EMD_COOKIE_SECRET. The click itself
is tests/test_auth_dashboard_browser.py's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
import yaml

from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.warehouse import Warehouse
from tests.fixtures.browser import dashboard, free_port
from tests.fixtures.marts import PUBLISHED_AT, build_duckdb_warehouse
from tests.fixtures.oidc import COOKIE_SECRET, Provider, start_provider

ACCESS = {"org_wide": ["eng-leadership"], "teams": {"eng-platform": ["platform"]}}
SIGN_IN_COOKIES = ("_streamlit_session", "_streamlit_user", "_streamlit_user_tokens")


@pytest.fixture(scope="module")
def https_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, str, str]]:
    """(provider, the dashboard's public https URL, where it listens on loopback over HTTP)."""
    folder = tmp_path_factory.mktemp("https-dashboard")
    live = folder / "warehouse.duckdb"
    build_duckdb_warehouse(live)
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")), now=PUBLISHED_AT)
    port = free_port()
    public = f"https://127.0.0.1:{port}"
    config = {"org": "acme", "github": {"repos": ["acme/api"]}, "teams": {"platform": {"repos": ["acme/api"]}},
              "dashboard": {"url": public}, "access": ACCESS}
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    cleared = {k: "" for k in os.environ if k.startswith("EMD_")}
    with start_provider(folder, port, dashboard_url=public) as provider, \
            dashboard(f"duckdb:///{live}", folder / "dashboard.log", port=port, emd_dashboard=True,
                      extra_env={**cleared, "EMD_CONFIG": str(folder / "config.yaml"), **provider.env()}) as url:
        yield provider, public, url


def set_cookies(answer: httpx.Response) -> dict[str, list[str]]:
    """Each Set-Cookie of an answer: name -> its attributes, lower-case (`secure`, `httponly`, `path=/`...)."""
    found = {}
    for header in answer.headers.get_list("set-cookie"):
        name_value, *attributes = [part.strip() for part in header.split(";")]
        found[name_value.split("=", 1)[0]] = [a.lower() for a in attributes]
    return found


def test_sign_in_cookies_are_secure_and_http_only_behind_https(https_deployment: tuple[Provider, str, str]) -> None:
    provider, public, url = https_deployment
    click = jwt.encode({"provider": "default", "exp": int(time.time()) + 120}, COOKIE_SECRET, algorithm="HS256")
    with httpx.Client(timeout=30) as client:
        login = client.get(f"{url}/auth/login", params={"provider": click})
        assert login.status_code in (302, 303, 307), login.text[:300]
        session = set_cookies(login)["_streamlit_session"]
        assert "secure" in session and "httponly" in session
        session_value = login.headers.get_list("set-cookie")[0].split(";")[0]
        assert session_value.startswith("_streamlit_session=")
        # The provider's login page, as the user would fill it in; it sends the browser to the https callback.
        back = provider.log_in(httpx.Client(timeout=10), login.headers["location"], "alice",
                               f"{public}/oauth2callback")
        query = parse_qs(urlparse(back).query)
        # The TLS proxy would pass the callback on to the server: here, straight over HTTP, with the session
        # cookie a browser holds (httpx keeps Secure cookies to https, so it is sent by hand).
        callback = client.get(f"{url}/oauth2callback", params={k: v[0] for k, v in query.items()},
                              headers={"Cookie": session_value})
    cookies = set_cookies(callback)
    assert {"_streamlit_user", "_streamlit_user_tokens"} <= set(cookies), (callback.status_code, cookies)
    for name in SIGN_IN_COOKIES[1:]:
        assert "secure" in cookies[name] and "httponly" in cookies[name], (name, cookies[name])


def test_cookies_are_not_secure_over_http(oidc_provider: Provider, tmp_path: Path) -> None:
    """The loopback setup over http (the sign-in browser test's): the same request, no Secure."""
    live = tmp_path / "warehouse.duckdb"
    build_duckdb_warehouse(live)
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")), now=PUBLISHED_AT)
    config = {"org": "acme", "github": {"repos": ["acme/api"]}, "teams": {"platform": {"repos": ["acme/api"]}},
              "dashboard": {"url": f"http://127.0.0.1:{oidc_provider.dashboard_port}"}, "access": ACCESS}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    cleared = {k: "" for k in os.environ if k.startswith("EMD_")}
    click = jwt.encode({"provider": "default", "exp": int(time.time()) + 120}, COOKIE_SECRET, algorithm="HS256")
    with dashboard(f"duckdb:///{live}", tmp_path / "dashboard.log", port=oidc_provider.dashboard_port,
                   emd_dashboard=True, extra_env={**cleared, "EMD_CONFIG": str(tmp_path / "config.yaml"),
                                                  **oidc_provider.env()}) as url:
        login = httpx.get(f"{url}/auth/login", params={"provider": click}, timeout=30)
    session = set_cookies(login)["_streamlit_session"]
    assert "secure" not in session and "httponly" in session
