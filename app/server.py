"""`emd dashboard`: serve the dashboard with Streamlit, as `emd api` serves the API.

With EMD_OIDC_ISSUER set, Streamlit's `st.login` reads its `[auth]` section from secrets: it is written here
from the environment (issuer, client id and secret, cookie secret) and the config's `dashboard.url` (the
redirect URI is `{dashboard.url}/oauth2callback`) into a private file (0600, in a 0700 folder, removed when the
server stops) that only this server is pointed at (STREAMLIT_SECRETS_FILES), never into the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from emd import tenants
from emd.auth import OidcSettings, TokenVerifier, oidc_settings
from emd.config import ConfigError, load_config
from emd.settings import SettingsError

ROOT = Path(__file__).resolve().parents[1]


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def dashboard_url() -> str:
    """The config's `dashboard.url` (the first tenant's with a folder: one dashboard serves them all)."""
    known = tenants.names()
    return load_config(tenants.config_path(known[0] if known else None)).dashboard_url.rstrip("/")


def public_url_is_https() -> bool:
    """Whether the dashboard is reached over https (config `dashboard.url`): then its cookies are Secure."""
    try:
        return dashboard_url().lower().startswith("https://")
    except (ConfigError, SettingsError):
        return False


def auth_secrets(oidc: OidcSettings, url: str) -> str:
    if oidc.client_secret is None:
        raise SettingsError("EMD_OIDC_CLIENT_SECRET is required for the dashboard's sign-in (the client secret the "
                            "provider issued with EMD_OIDC_CLIENT_ID)")
    return "\n".join([
        "[auth]",
        f"redirect_uri = {_toml(url + '/oauth2callback')}",
        f"cookie_secret = {_toml(oidc.cookie_secret)}",
        f"client_id = {_toml(oidc.client_id)}",
        f"client_secret = {_toml(oidc.client_secret)}",
        f"server_metadata_url = {_toml(oidc.discovery_url)}",
        # prompt=login: the provider asks who signs in, so a shared browser never reuses the last user's session.
        'client_kwargs = { scope = "openid profile email", prompt = "login" }',
        "",
    ])


def serve(host: str = "127.0.0.1", port: int = 8501) -> int:
    oidc = oidc_settings()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    private: Path | None = None
    if oidc is not None:
        TokenVerifier(oidc).start()  # an unreachable issuer: a SettingsError naming EMD_OIDC_ISSUER, now
        secrets = auth_secrets(oidc, dashboard_url())
        private = Path(tempfile.mkdtemp(prefix="emd-dashboard-"))  # mode 0700
        path = private / "secrets.toml"
        path.touch(mode=0o600)
        path.write_text(secrets, encoding="utf-8")
        env["STREAMLIT_SECRETS_FILES"] = str(path)
    server = subprocess.Popen(
        # app/asgi.py: app/streamlit_app.py as Streamlit's st.App, with Secure cookies on an https URL.
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "asgi.py"),
         "--server.address", host, "--server.port", str(port), "--server.headless", "true",
         "--client.toolbarMode", "viewer"],
        env=env)
    # Stopping `emd dashboard` stops its Streamlit server (and then removes the secrets file).
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait()
        return 0
    finally:
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
