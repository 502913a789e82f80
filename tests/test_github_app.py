"""GitHub App authentication against the mock GitHub over real HTTP (issue 18): the JWT the mock verifies
with the App's public key, the installation looked up on the org, installation tokens renewed before they
expire and once on a 401, what the metadata says, bad input named, and no secret in any message."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emd.github_auth import AppAuth, TokenAuth, github_auth, load_private_key
from emd.http import ApiAuthError, RetryPolicy
from emd.settings import SettingsError
from mock_apis.github_app import app_private_key_pem, installation_id
from mock_apis.github_data import github_data
from mock_apis.server import MockApi
from orchestration.defs.github.resource import GitHubClient

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_elapsed_s=60, timeout_s=60)
DAY = datetime(2026, 3, 30, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)


def counts(api: MockApi) -> dict[str, int]:
    return requests.get(api.url + "/_mock/counts", timeout=10).json()


def switch(api: MockApi, **values) -> None:
    requests.post(api.url + "/_mock/switch", json=values, timeout=10).raise_for_status()


def app_env(monkeypatch: pytest.MonkeyPatch, api: MockApi, **extra: str) -> None:
    monkeypatch.setenv("GITHUB_API_URL", api.url)
    monkeypatch.setenv("GITHUB_TOKEN", api.state.github_token)  # both set: the App must win
    monkeypatch.setenv("GITHUB_APP_ID", str(api.state.github_app_id))
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY", app_private_key_pem())
    monkeypatch.delenv("GITHUB_APP_INSTALLATION_ID", raising=False)
    monkeypatch.delenv("GITHUB_APP_PRIVATE_KEY_FILE", raising=False)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


def app_client(api: MockApi, owners=("acme",)) -> GitHubClient:
    return GitHubClient(None, api.url, policy=FAST, auth=github_auth(lambda: owners, api.url))


def test_the_app_wins_over_the_token_and_reads_the_same_pull_requests(mock_api: MockApi, monkeypatch) -> None:
    app_env(monkeypatch, mock_api)
    repos = sorted(github_data(mock_api.state.org).repos)
    by_token = GitHubClient(mock_api.state.github_token, mock_api.url, policy=FAST).pull_requests_updated_between(
        repos, *DAY)
    client = app_client(mock_api)
    assert isinstance(client.auth, AppAuth)
    by_app = client.pull_requests_updated_between(repos, *DAY)
    assert by_app == by_token and by_app
    seen = counts(mock_api)
    # One installation lookup on the org and one token, whatever the number of GraphQL requests.
    assert seen["github:app:installation"] == 1 and seen["github:app:access_tokens"] == 1
    meta = client.auth_metadata()
    assert meta["auth"] == "github_app"
    assert meta["github_app_installation_id"] == str(installation_id(mock_api.state))
    assert meta["auth_requests"] == 2 and meta["installation_tokens_created"] == 1
    assert meta["rate_limit_limit"] == 5000 and meta["rate_limit_remaining"] < 5000
    assert meta["github_app_permissions_missing"] == "none"
    # The same process's next client (the next asset or day) reuses the token: no auth request at all.
    again = app_client(mock_api)
    again.pull_requests_updated_between(repos, *DAY)
    assert again.auth_metadata()["auth_requests"] == 0
    assert GitHubClient(mock_api.state.github_token, mock_api.url).auth_metadata() == {"auth": "token"}


def test_given_installation_id_skips_the_lookup(mock_api: MockApi, monkeypatch) -> None:
    app_env(monkeypatch, mock_api, GITHUB_APP_INSTALLATION_ID=str(installation_id(mock_api.state)))
    # Several owners would make a lookup impossible; the given id makes it unnecessary.
    app_client(mock_api, owners=("acme", "other")).releases_between(["acme/api"], *DAY)
    assert "github:app:installation" not in counts(mock_api)


def test_a_token_revoked_mid_run_is_renewed_once_and_the_request_sent_again(mock_api: MockApi, monkeypatch) -> None:
    app_env(monkeypatch, mock_api)
    switch(mock_api, github_app_token_expires_after=3)
    repos = sorted(github_data(mock_api.state.org).repos)
    client = app_client(mock_api)
    for _ in range(4):  # 4 x (1 or more) GraphQL requests: each token serves 3
        client.releases_between(repos, *DAY)
    meta = client.auth_metadata()
    assert meta["installation_tokens_renewed_on_401"] >= 1
    assert meta["installation_tokens_created"] == 1 + meta["installation_tokens_renewed_on_401"]
    assert counts(mock_api)["github:app:tokens"] == meta["installation_tokens_created"]


def test_the_token_is_renewed_five_minutes_before_it_expires(mock_api: MockApi) -> None:
    switch(mock_api, github_app_token_lifetime_s=302)  # the mock's tokens live 302 s instead of an hour
    auth = AppAuth(str(mock_api.state.github_app_id), load_private_key(app_private_key_pem(), "key"), mock_api.url,
                   owners=lambda: ["acme"], policy=FAST)
    first = auth.header()
    assert auth.header() == first  # more than 300 s left: kept
    time.sleep(2.1)  # now less than 300 s left: renewed before GitHub would refuse it
    assert auth.header() != first
    assert auth.tokens_created == 2 and counts(mock_api)["github:app:tokens"] == 2


def test_bad_input_names_what_to_fix(mock_api: MockApi, monkeypatch) -> None:
    app_env(monkeypatch, mock_api, GITHUB_APP_PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\nnot a key\n")
    with pytest.raises(SettingsError, match="GITHUB_APP_PRIVATE_KEY is not a GitHub App private key"):
        github_auth(lambda: ["acme"], mock_api.url)

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()
    app_env(monkeypatch, mock_api, GITHUB_APP_PRIVATE_KEY=other_key)
    with pytest.raises(ApiAuthError, match="check that GITHUB_APP_ID is the App's id") as wrong_key:
        app_client(mock_api).releases_between(["acme/api"], *DAY)

    app_env(monkeypatch, mock_api, GITHUB_APP_ID="999")
    with pytest.raises(ApiAuthError, match="check that GITHUB_APP_ID"):
        app_client(mock_api).releases_between(["acme/api"], *DAY)

    app_env(monkeypatch, mock_api, GITHUB_APP_INSTALLATION_ID="12")
    with pytest.raises(ApiAuthError, match="no installation 12 .*check GITHUB_APP_INSTALLATION_ID"):
        app_client(mock_api).releases_between(["acme/api"], *DAY)

    app_env(monkeypatch, mock_api)
    switch(mock_api, github_app_not_installed=True)
    with pytest.raises(ApiAuthError, match="not installed on the organization acme: install it"):
        app_client(mock_api).releases_between(["acme/api"], *DAY)
    with pytest.raises(SettingsError, match="GITHUB_APP_INSTALLATION_ID is not set .* 2 owners"):
        app_client(mock_api, owners=("acme", "other")).releases_between(["acme/api"], *DAY)
    switch(mock_api, github_app_not_installed=False, github_app_permissions={"metadata": "read"})
    with pytest.raises(ApiAuthError, match="grant contents: read, pull_requests: read"):
        app_client(mock_api).releases_between(["acme/api"], *DAY)

    monkeypatch.delenv("GITHUB_APP_ID")
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(SettingsError, match="neither GITHUB_TOKEN nor GITHUB_APP_ID"):
        github_auth(lambda: ["acme"], mock_api.url)
    assert "PRIVATE KEY" not in str(wrong_key.value)


def test_the_private_key_file_is_read(mock_api: MockApi, monkeypatch, tmp_path) -> None:
    pem = tmp_path / "app.pem"
    pem.write_text(app_private_key_pem())
    app_env(monkeypatch, mock_api)
    monkeypatch.delenv("GITHUB_APP_PRIVATE_KEY")
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY_FILE", str(pem))
    assert isinstance(github_auth(lambda: ["acme"], mock_api.url), AppAuth)
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(SettingsError, match="GITHUB_APP_PRIVATE_KEY_FILE names .*missing.pem"):
        github_auth(lambda: ["acme"], mock_api.url)
    monkeypatch.delenv("GITHUB_APP_ID")
    assert isinstance(github_auth(lambda: ["acme"], mock_api.url), TokenAuth)


def test_jwt_claims_are_what_github_asks(mock_api: MockApi) -> None:
    import jwt

    key = load_private_key(app_private_key_pem(), "key")
    auth = AppAuth("4242", key, mock_api.url, clock=lambda: 1_800_000_000.0)
    claims = jwt.decode(auth.app_jwt(), key.public_key(), algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False})
    assert claims == {"iat": 1_800_000_000 - 60, "exp": 1_800_000_000 + 540, "iss": "4242"}
    assert timedelta(seconds=claims["exp"] - 1_800_000_000) <= timedelta(minutes=10)


def test_a_permission_the_app_lacks_is_named_not_taken_for_a_repository_problem(mock_api: MockApi,
                                                                                monkeypatch) -> None:
    """Without `deployments`, GitHub answers the deployments field FORBIDDEN "Resource not accessible by
    integration": the whole read fails naming the permission (so the partition keeps its data), instead of
    leaving the repository out as if it were behind SSO and writing the day without its deployments."""
    app_env(monkeypatch, mock_api)
    switch(mock_api, github_app_permissions={"metadata": "read", "contents": "read", "pull_requests": "read"})
    repos = ["acme/infra"]
    week = DAY[0] - timedelta(days=7), DAY[1]
    assert GitHubClient(mock_api.state.github_token, mock_api.url, policy=FAST).deployments_between(repos, *week)
    client = app_client(mock_api)
    with pytest.raises(ApiAuthError) as failed:
        client.deployments_between(repos, *week)
    message = str(failed.value)
    assert "Resource not accessible by integration" in message and "lacks deployments: read" in message, message
    assert "Permissions & events" in message and "accept the new permissions on the installation" in message
    assert client.repo_problems == {}
    assert client.auth_metadata()["github_app_permissions_missing"] == "issues, actions, deployments, members"
    # Releases need only `contents`, which the App has.
    client.releases_between(["acme/web"], *week)


def test_a_rest_403_names_the_permission_github_asks_for(mock_api: MockApi, monkeypatch) -> None:
    """REST: GitHub answers 403 "Resource not accessible by integration" with X-Accepted-GitHub-Permissions;
    the error names it (a workflow's runs need `actions: read`)."""
    from orchestration.defs.github.actions import workflow_runs

    app_env(monkeypatch, mock_api)
    switch(mock_api, github_app_permissions={"metadata": "read", "contents": "read", "pull_requests": "read"})
    with pytest.raises(ApiAuthError) as failed:
        workflow_runs(app_client(mock_api), "acme/infra", "deploy.yml", None, *DAY)
    message = str(failed.value)
    assert message.startswith("GitHub refused access (403 from ") and "/repos/acme/infra/actions/workflows/" in message
    assert "GitHub says it needs actions: read: grant it (a GitHub App: its settings, Permissions & events" in message
