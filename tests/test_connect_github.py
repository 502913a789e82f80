"""`emd connect github --org ORG` end to end, with plain HTTP as a user's browser goes: the loopback page,
its form posted to the mock GitHub's "new App" URL, GitHub's redirect to the loopback callback, the code
converted, the App's key stored mode 0600 -- and then usable: GITHUB_APP_ID alone reads GitHub."""

from __future__ import annotations

import json
import re
import stat
import threading
from html import unescape
from pathlib import Path

import pytest
import requests

from emd.connect import MANIFEST_PERMISSIONS, connect_github, github_instructions, github_web_url
from emd.github_auth import AppAuth, github_auth
from mock_apis.server import MockApi


def browser(opened: list[str], state_override: str | None = None):
    """What a browser does with the page: load it, submit its form, follow GitHub's redirect."""
    def open_page(url: str) -> None:
        def go() -> None:
            page = requests.get(url, timeout=10).text
            action = unescape(re.search(r"action='([^']+)'", page).group(1))
            manifest = unescape(re.search(r"name='manifest' value='([^']+)'", page).group(1))
            opened.append(json.dumps({"action": action, "manifest": json.loads(manifest)}))
            answer = requests.post(action, data={"manifest": manifest}, allow_redirects=False, timeout=10)
            location = answer.headers["Location"]
            if state_override is not None:
                location = re.sub(r"state=[^&]+", f"state={state_override}", location)
            opened.append(str(requests.get(location, timeout=30).status_code))
        threading.Thread(target=go, daemon=True).start()
    return open_page


def test_the_manifest_flow_creates_a_read_only_app_and_stores_its_key(mock_api: MockApi, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", mock_api.url)
    monkeypatch.delenv("GITHUB_WEB_URL", raising=False)
    store = tmp_path / ".emd" / "credentials.json"
    monkeypatch.setenv("EMD_CREDENTIALS_FILE", str(store))
    opened: list[str] = []
    app = connect_github("acme", browser(opened), timeout_s=60)

    sent = json.loads(opened[0])
    assert sent["action"].startswith(f"{mock_api.url}/organizations/acme/settings/apps/new?state=")
    assert sent["manifest"]["default_permissions"] == MANIFEST_PERMISSIONS
    assert set(MANIFEST_PERMISSIONS.values()) == {"read"}
    assert sent["manifest"]["hook_attributes"]["active"] is False
    assert sent["manifest"]["redirect_url"].startswith("http://127.0.0.1:")
    assert opened[1] == "200"
    assert app.app_id == mock_api.state.github_app_id
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    stored = json.loads(store.read_text())["github_app"]
    assert stored["app_id"] == mock_api.state.github_app_id and "PRIVATE KEY" in stored["pem"]
    text = github_instructions(app)
    assert f"GITHUB_APP_ID={app.app_id}" in text and "/installations/new" in text and stored["pem"] not in text

    # The stored key is found from GITHUB_APP_ID alone, and the App reads GitHub.
    monkeypatch.setenv("GITHUB_APP_ID", str(app.app_id))
    for name in ("GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_PRIVATE_KEY_FILE", "GITHUB_APP_INSTALLATION_ID"):
        monkeypatch.delenv(name, raising=False)
    auth = github_auth(lambda: ["acme"], mock_api.url)
    assert isinstance(auth, AppAuth) and auth.header().startswith("token ghs_")


def test_a_callback_with_another_state_is_refused_and_nothing_is_stored(mock_api: MockApi, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", mock_api.url)
    store = tmp_path / "credentials.json"
    monkeypatch.setenv("EMD_CREDENTIALS_FILE", str(store))
    opened: list[str] = []
    with pytest.raises(Exception, match="no answer from GitHub within 3s"):
        connect_github("acme", browser(opened, state_override="forged"), timeout_s=3)
    assert opened[1] == "403"
    assert not store.exists()


def test_the_web_url_follows_the_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_WEB_URL", raising=False)
    assert github_web_url("https://api.github.com") == "https://github.com"
    assert github_web_url("https://ghe.acme.example/api/v3") == "https://ghe.acme.example"
    monkeypatch.setenv("GITHUB_WEB_URL", "https://github.example/")
    assert github_web_url("https://api.github.com") == "https://github.example"
