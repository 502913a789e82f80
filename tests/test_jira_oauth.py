"""Jira OAuth 2.0 (3LO) against the mock Atlassian over real HTTP (issue 18): `emd connect jira` as a browser
goes (authorize URL, consent redirect, loopback callback with its state), the site's cloud id, every call
through `/ex/jira/{cloudid}`, rotating refresh tokens stored (0600) before use, and the errors that name the
fix (a revoked refresh token, a missing scope)."""

from __future__ import annotations

import json
import re
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from emd.http import ApiAuthError
from emd.jira_oauth import SCOPES, connect_jira
from emd.settings import SettingsError
from mock_apis.atlassian_oauth import CLIENT_ID, CLIENT_SECRET, CLOUD_ID
from mock_apis.jira_data import jira_data
from mock_apis.server import MockApi
from orchestration.defs.jira.resource import JiraClient, JiraResource


def counts(api: MockApi) -> dict[str, int]:
    return requests.get(api.url + "/_mock/counts", timeout=10).json()


def switch(api: MockApi, **values) -> None:
    requests.post(api.url + "/_mock/switch", json=values, timeout=10).raise_for_status()


def browser(seen: list[str], forged_state: bool = False):
    def open_url(url: str) -> None:
        def go() -> None:
            seen.append(url)
            answer = requests.get(url, allow_redirects=False, timeout=10)
            location = answer.headers["Location"]
            if forged_state:
                location = re.sub(r"state=[^&]+", "state=forged", location)
            seen.append(str(requests.get(location, timeout=30).status_code))
        threading.Thread(target=go, daemon=True).start()
    return open_url


def oauth_env(monkeypatch: pytest.MonkeyPatch, api: MockApi, store: Path) -> None:
    for key, value in api.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("JIRA_OAUTH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("JIRA_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ATLASSIAN_AUTH_URL", api.url)
    monkeypatch.setenv("ATLASSIAN_API_URL", api.url)
    monkeypatch.setenv("EMD_CREDENTIALS_FILE", str(store))


def test_connect_then_read_jira_through_rotations(mock_api: MockApi, tmp_path: Path, monkeypatch) -> None:
    store = tmp_path / "credentials.json"
    oauth_env(monkeypatch, mock_api, store)
    # Each access token serves 2 requests: the reads below go through several refreshes, each rotating.
    switch(mock_api, jira_oauth_access_expires_after=2)
    seen: list[str] = []
    site = connect_jira(browser(seen), port=0, timeout_s=60)
    assert seen[1] == "200"
    assert set(seen[0].split("scope=")[1].split("&")[0].replace("+", " ").replace("%3A", ":").split()) == set(SCOPES)
    assert site["cloud_id"] == CLOUD_ID  # the site whose URL is JIRA_BASE_URL, not the other one
    assert stat.S_IMODE(store.stat().st_mode) == 0o600

    client = JiraResource().client()
    assert client.base_url == f"{mock_api.url}/ex/jira/{CLOUD_ID}"
    basic = JiraClient(mock_api.url, mock_api.state.jira_email, mock_api.state.jira_token)
    board = jira_data(mock_api.state.org).sprints[next(iter(jira_data(mock_api.state.org).sprints))].board_id
    start, end = datetime(2026, 3, 16, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    projects = sorted({i.key.split("-")[0] for i in jira_data(mock_api.state.org).issues})
    assert client.sprints(board) == basic.sprints(board)
    assert client.statuses() == basic.statuses()
    by_oauth = client.issues_updated_between(projects, start, end)
    assert by_oauth.issues == basic.issues_updated_between(projects, start, end).issues and by_oauth.issues
    seen_counts = counts(mock_api)
    refreshes = seen_counts.get("atlassian:token:refresh_token", 0)
    assert refreshes, seen_counts
    assert refreshes >= 2 and client.auth_metadata()["oauth_refreshes"] == refreshes
    assert client.auth_metadata()["auth"] == "oauth" and basic.auth_metadata() == {"auth": "basic"}
    # The refresh token on disk is the one live at the mock (every older one was spent by rotation).
    stored = json.loads(store.read_text())["jira"]
    assert list(mock_api.state.extra["atlassian_refresh"]) == [stored["refresh_token"]]
    assert stat.S_IMODE(store.stat().st_mode) == 0o600

    # Revoked: a clear error telling to connect again, without any token in it.
    switch(mock_api, jira_oauth_revoke=True, jira_oauth_access_expires_after=0)
    with pytest.raises(ApiAuthError, match=r"refresh token is revoked or expired.*run `emd connect jira` again") as e:
        JiraResource().client().sprints(board)
    assert not any(token in str(e.value) for token in mock_api.state.extra["atlassian_issued"])


def test_a_missing_scope_and_a_forged_state_are_refused(mock_api: MockApi, tmp_path: Path, monkeypatch) -> None:
    store = tmp_path / "credentials.json"
    oauth_env(monkeypatch, mock_api, store)
    seen: list[str] = []
    with pytest.raises(Exception, match="no answer from Atlassian within 3s"):
        connect_jira(browser(seen, forged_state=True), port=0, timeout_s=3)
    assert seen[1] == "403" and not store.exists()

    switch(mock_api, jira_oauth_granted_scopes=[s for s in SCOPES if s != "read:sprint:jira-software"])
    with pytest.raises(ApiAuthError, match="granted no read:sprint:jira-software: add it .*emd connect jira"):
        connect_jira(browser([]), port=0, timeout_s=60)
    assert not store.exists()


def test_without_a_connection_the_error_says_to_connect(tmp_path: Path, monkeypatch, mock_api: MockApi) -> None:
    oauth_env(monkeypatch, mock_api, tmp_path / "none.json")
    with pytest.raises(Exception, match="holds no Jira refresh token: run `emd connect jira`"):
        JiraResource().client()


def test_emd_connect_jira_refuses_a_missing_scope_and_keeps_the_connection(mock_api: MockApi, tmp_path: Path,
                                                                          monkeypatch) -> None:
    """The real command (its own process), as a user's browser goes: connected once; then the consent grants
    one scope less (a scope removed from the app): the command fails naming it and what to run, and the
    credentials file keeps the working connection."""
    from tests.fixtures.oauth import connect_jira_cli

    store = tmp_path / "emd" / "credentials.json"
    oauth_env(monkeypatch, mock_api, store)
    first = connect_jira_cli(forge_state_first=False)
    assert first.returncode == 0 and first.callback_status == 200, first.stderr
    assert f"(cloud id {CLOUD_ID})" in first.stdout
    connected = store.read_bytes()

    switch(mock_api, jira_oauth_granted_scopes=[s for s in SCOPES if s != "read:board-scope.admin:jira-software"])
    again = connect_jira_cli(forge_state_first=False)
    assert again.returncode == 1 and again.callback_status == 400
    assert re.search(r"^emd connect jira: the Jira OAuth app was granted no read:board-scope\.admin:jira-software: "
                     r"add it to the app's Permissions in the Atlassian developer console, then run `emd connect "
                     r"jira` again", again.stderr), again.stderr
    assert store.read_bytes() == connected and stat.S_IMODE(store.stat().st_mode) == 0o600
    issued = mock_api.state.extra["atlassian_issued"]
    assert not any(token in again.stdout + again.stderr + first.stdout + first.stderr for token in issued)


def test_a_connection_of_another_site_is_never_read(mock_api: MockApi, tmp_path: Path, monkeypatch) -> None:
    """One credentials file holds one Jira connection. Another tenant's JIRA_BASE_URL (sharing the file and the
    OAuth app) is refused naming both sites, not served the connected site's issues; nor does the same
    process's cached client of the connected site serve it."""
    oauth_env(monkeypatch, mock_api, tmp_path / "credentials.json")
    connect_jira(browser([]), port=0, timeout_s=60)
    board = next(iter(jira_data(mock_api.state.org).sprints.values())).board_id
    assert JiraResource().client().sprints(board)  # connected: the site reads
    monkeypatch.setenv("JIRA_BASE_URL", "https://other-tenant.atlassian.net")
    with pytest.raises(SettingsError, match=rf"holds the Jira OAuth connection of {re.escape(mock_api.url)}, not of "
                                            r"JIRA_BASE_URL \(https://other-tenant\.atlassian\.net\): run `emd "
                                            r"connect jira` for https://other-tenant\.atlassian\.net"):
        JiraResource().client()
