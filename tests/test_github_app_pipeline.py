"""Issue 18's "done when", end to end: a 14-day backfill read with a GitHub App (whose installation tokens stop
working mid-run) and Jira OAuth 2.0 (3LO: connected with the real `emd connect jira`, access tokens expiring and
refresh tokens rotating mid-run) builds the same marts and raw rows as the same backfill read with a personal
token and Jira e-mail + API token. Each rotated refresh token is on disk (EMD_CREDENTIALS_FILE, 0600) before
its access token is first used; the requests spent on authentication are counted at the mock; the token scan
finds no private key, JWT, installation token, Jira access or refresh token or client secret in the warehouse,
the process's output, Dagster's runs (config, events, metadata) or any file but the credentials file. Then
the App loses a permission: the day run again fails naming the permission, and keeps its data.

Both backfills run in one test (the App and 3LO together), so the expensive part (14 days of Dagster runs and a
dbt build) is paid twice, not four times. The default synthetic org is the smallest that has pull requests and
deployments on most of the 14 days."""

from __future__ import annotations

import json
import stat
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import requests
import yaml
from dagster import AssetKey, DagsterInstance

from emd.snapshot import MART_TABLES
from emd.warehouse import RAW_TABLES
from mock_apis.atlassian_oauth import CLIENT_ID, CLIENT_SECRET, CLOUD_ID
from mock_apis.github_app import PERMISSIONS, app_private_key_pem
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi, MockState
from orchestration.pipeline import INGESTION_JOB, MARTS_JOB, PipelineError, run_pipeline
from tests.fixtures.compare import (
    assert_same_rows,
    dagster_texts,
    files_with_secrets,
    find_secrets,
    table_rows,
    warehouse_text,
)
from tests.fixtures.oauth import connect_jira_cli

ANCHOR = date(2026, 3, 31)
END = ANCHOR
DAYS = 14  # the backfill
START = END - timedelta(days=DAYS - 1)
TOKEN_LIFE_REQUESTS = 4  # each GitHub installation token stops working after this many GitHub requests
ACCESS_LIFE_REQUESTS = 8  # each Jira access token stops working after this many Jira requests
REPO_ROOT = Path(__file__).resolve().parents[1]
CREDENTIAL_VARIABLES = ("GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_INSTALLATION_ID",
                        "GITHUB_APP_PRIVATE_KEY_FILE", "JIRA_OAUTH_CLIENT_ID", "JIRA_OAUTH_CLIENT_SECRET",
                        "ATLASSIAN_AUTH_URL", "ATLASSIAN_API_URL")


def point_at(api: MockApi, root: Path, org: SyntheticOrg, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The product's environment for one backfill under `root`; returns the credentials file's path."""
    root.mkdir()
    (root / "config.yaml").write_text(yaml.safe_dump(org.config(), sort_keys=False), encoding="utf-8")
    for key, value in api.env().items():
        monkeypatch.setenv(key, value)
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMD_CONFIG", str(root / "config.yaml"))
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{root / 'warehouse.duckdb'}")
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    store = root / "emd" / "credentials.json"
    monkeypatch.setenv("EMD_CREDENTIALS_FILE", str(store))
    return store


def switch(api: MockApi, **values: object) -> None:
    requests.post(api.url + "/_mock/switch", json=values, timeout=10).raise_for_status()


def counts(api: MockApi) -> dict[str, int]:
    return requests.get(api.url + "/_mock/counts", timeout=10).json()


def active_days(warehouse: Path) -> dict[str, int]:
    """On how many of the backfill's days something happened (the scale is small enough only if most have)."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        def days(sql: str) -> int:
            return int(conn.execute(sql, [START, END]).fetchone()[0])
        return {"pull requests merged": days("select count(distinct cast(merged_at as date)) from fct_pull_requests "
                                             "where cast(merged_at as date) between ? and ?"),
                "deployments": days("select count(distinct cast(deployed_at as date)) from fct_deployments "
                                    "where cast(deployed_at as date) between ? and ?")}


def metadata_by_day(asset: str) -> dict[str, dict]:
    with DagsterInstance.get() as instance:
        records = instance.fetch_materializations(AssetKey(asset), limit=100).records
        return {r.partition_key: {k: v.value for k, v in r.asset_materialization.metadata.items()} for r in records}


@pytest.mark.timeout(1500)  # two 14-day backfills and two dbt builds: 9-15 minutes on the shared 2-core machine
def test_a_14_day_backfill_with_an_app_and_jira_oauth_builds_the_same_marts_and_leaks_no_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    began = time.monotonic()
    org = SyntheticOrg(seed=7, anchor=ANCHOR)

    # 1. With a personal access token and Jira e-mail + API token.
    with MockApi(MockState(org=org)) as api:
        point_at(api, tmp_path / "token", org, monkeypatch)
        run_pipeline(START, END, steps=(INGESTION_JOB, MARTS_JOB), log=lambda _: None)
        token_counts = counts(api)
        token_meta = metadata_by_day("raw_github_pull_requests")
        token_jira_meta = metadata_by_day("raw_jira_issues")
    expected = table_rows(tmp_path / "token" / "warehouse.duckdb", MART_TABLES)
    expected_raw = table_rows(tmp_path / "token" / "warehouse.duckdb", tuple(RAW_TABLES))
    token_s = time.monotonic() - began
    days_with = active_days(tmp_path / "token" / "warehouse.duckdb")
    assert days_with["pull requests merged"] >= DAYS // 2 and days_with["deployments"] >= DAYS // 2, days_with

    # 2. With the GitHub App and Jira OAuth 2.0; the personal credentials stay set: the App and OAuth must win.
    root = tmp_path / "app"
    with MockApi(MockState(org=org)) as api:
        store = point_at(api, root, org, monkeypatch)
        monkeypatch.setenv("GITHUB_APP_ID", str(api.state.github_app_id))
        monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY", app_private_key_pem())
        monkeypatch.setenv("JIRA_OAUTH_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("JIRA_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("ATLASSIAN_AUTH_URL", api.url)
        monkeypatch.setenv("ATLASSIAN_API_URL", api.url)

        # `emd connect jira`, as a user runs it: a forged callback is refused, the real one stores the site.
        connected = connect_jira_cli()
        assert connected.forged_state_status == 403 and connected.callback_status == 200, connected
        assert connected.returncode == 0, connected.stderr
        assert f"Connected Jira site {api.url} (cloud id {CLOUD_ID})" in connected.stdout
        assert stat.S_IMODE(store.stat().st_mode) == 0o600
        stored = json.loads(store.read_text(encoding="utf-8"))["jira"]
        assert stored["cloud_id"] == CLOUD_ID and stored["site_url"] == api.url  # JIRA_BASE_URL's, not the other site
        assert list(api.state.extra["atlassian_refresh"]) == [stored["refresh_token"]]
        assert counts(api)["atlassian:accessible_resources"] == 1

        # What the client had on disk when each access token first reached Jira (the mock calls this then).
        first_uses: list[tuple[bool, bool, int]] = []

        def on_first_use(access: str, refresh: str | None) -> None:
            on_disk = json.loads(store.read_text(encoding="utf-8"))["jira"]
            first_uses.append((on_disk["access_token"] == access, on_disk["refresh_token"] == refresh,
                               stat.S_IMODE(store.stat().st_mode)))

        api.state.extra["atlassian_on_first_use"] = on_first_use
        switch(api, github_app_token_expires_after=TOKEN_LIFE_REQUESTS,
               jira_oauth_access_expires_after=ACCESS_LIFE_REQUESTS)
        app_began = time.monotonic()
        run_pipeline(START, END, steps=(INGESTION_JOB, MARTS_JOB), log=lambda _: None)
        app_s = time.monotonic() - app_began
        app_counts = counts(api)
        app_meta = metadata_by_day("raw_github_pull_requests")
        oauth_meta = metadata_by_day("raw_jira_issues")
        warehouse = root / "warehouse.duckdb"

        # Same marts, same raw rows, row by row.
        assert_same_rows(table_rows(warehouse, MART_TABLES), expected)
        assert_same_rows(table_rows(warehouse, tuple(RAW_TABLES)), expected_raw)

        # GitHub: the installation token expired mid-run, several times; each time one new token carried on.
        renewals = app_counts["github:app:tokens"] - 1
        assert renewals >= 2, app_counts
        assert app_counts["github:app:access_tokens"] == 1 + renewals
        assert app_counts["github:app:installation"] == 1  # one lookup per process, not per day
        assert "github:app:installation" not in token_counts
        assert {m["auth"] for m in app_meta.values()} == {"github_app"} and len(app_meta) == DAYS
        assert {m["auth"] for m in token_meta.values()} == {"token"} and len(token_meta) == DAYS

        # Jira: every request carried a 3LO access token (none used basic auth, though JIRA_API_TOKEN is set) ...
        jira_requests = sum(v for k, v in app_counts.items() if k.startswith("jira:"))
        assert sum(g["used"] for g in api.state.extra["atlassian_access"].values()) == jira_requests > 0
        assert {m["auth"] for m in oauth_meta.values()} == {"oauth"} and len(oauth_meta) == DAYS
        assert {m["auth"] for m in token_jira_meta.values()} == {"basic"}
        # ... the access token expired and the refresh token rotated mid-run, several times: only the last
        # refresh token still works at the mock, and it is the one on disk.
        refreshes = app_counts["atlassian:token:refresh_token"]
        assert refreshes >= 2, app_counts
        stored = json.loads(store.read_text(encoding="utf-8"))["jira"]
        assert list(api.state.extra["atlassian_refresh"]) == [stored["refresh_token"]]
        assert stat.S_IMODE(store.stat().st_mode) == 0o600
        # Each new pair was on disk (0600) before its access token was first used: a crash loses nothing.
        assert len(first_uses) == 1 + refreshes  # the connect's access token, then one per refresh
        assert set(first_uses) == {(True, True, 0o600)}, first_uses

        # 3. The token scan.
        secrets = {f"installation token {i}": t for i, t in enumerate(api.state.extra["github_app_tokens"])}
        secrets.update({f"JWT {i}": t for i, t in enumerate(api.state.extra["github_app_jwts"])})
        key_lines = app_private_key_pem().splitlines()[1:-1]
        secrets.update({f"private key line {i}": line for i, line in enumerate(key_lines)})
        secrets.update({f"Atlassian token {i}": t for i, t in enumerate(api.state.extra["atlassian_issued"])})
        secrets["JIRA_OAUTH_CLIENT_SECRET"] = CLIENT_SECRET
        assert len(secrets) > len(key_lines) + 2 * (renewals + refreshes)  # issued, so the scan means something
        output = capfd.readouterr()
        logs = output.out + output.err + connected.stdout + connected.stderr
        assert "ingested" in logs or "dbt build" in logs  # the process's output really was captured
        assert find_secrets(logs, secrets) == []
        with DagsterInstance.get() as instance:
            scanned_events = 0
            for where, text in dagster_texts(instance):
                scanned_events += 1
                assert find_secrets(text, secrets) == [], where
        assert scanned_events > 100
        for path in (warehouse, root / "warehouse.published.duckdb"):
            for where, value in warehouse_text(path):
                assert find_secrets(str(value), secrets) == [], (path.name, where)
        read, found = files_with_secrets([tmp_path], secrets, skip=(store,))
        assert read > 10 and found == [], found
        recent = [p for p in (REPO_ROOT / "dbt_project").glob("*/**/*") if p.is_file()
                  and p.stat().st_mtime >= time.time() - (time.monotonic() - began)]
        assert recent  # dbt wrote its target/ files during the test
        assert [(str(p), find_secrets(p.read_text(errors="replace"), secrets)) for p in recent
                if find_secrets(p.read_text(errors="replace"), secrets)] == []

        # 4. The App loses `deployments` (its next token is created without it): the day run again fails
        # naming the permission to grant, and that day keeps its data.
        before = table_rows(warehouse, tuple(RAW_TABLES))
        assert before["raw_github_deployments"]
        switch(api, github_app_permissions={k: v for k, v in PERMISSIONS.items() if k != "deployments"})
        with api.state.lock:  # the live tokens end (as an hour passing would): the next is created as it is now
            for issued in api.state.extra["github_app_tokens"].values():
                issued["requests_left"] = 0
        with pytest.raises(PipelineError) as failed:
            run_pipeline(END, END, steps=(INGESTION_JOB,), log=lambda _: None)
        message = str(failed.value)
        assert "raw_github_deployments" in message and "lacks deployments: read" in message, message
        assert "Permissions & events" in message and "accept the new permissions" in message
        assert find_secrets(message, secrets) == []
        assert_same_rows(table_rows(warehouse, tuple(RAW_TABLES)), before)
        output = capfd.readouterr()  # the failed run's logs (its error included) hold no secret either
        assert "raw_github_deployments" in output.out + output.err
        assert find_secrets(output.out + output.err, secrets) == []

    github_requests = sum(v for k, v in app_counts.items() if k == "github:graphql" or k.startswith("github:rest:"))
    jira_auth = sum(v for k, v in app_counts.items() if k.startswith("atlassian:"))
    summary = (f"\n{DAYS} days: token run {token_s:.0f}s, App+3LO run {app_s:.0f}s, test {time.monotonic() - began:.0f}s"
          f"\nGitHub auth: {app_counts['github:app:installation']} installation lookup + "
          f"{app_counts['github:app:access_tokens']} token creations, for {github_requests} GraphQL/REST requests"
          f" (the token run: {sum(v for k, v in token_counts.items() if k == 'github:graphql')} GraphQL)"
          f"\nJira auth (run): {refreshes} refreshes; all Atlassian auth requests incl. connect: {jira_auth} "
          f"({ {k: v for k, v in app_counts.items() if k.startswith('atlassian:')} }), for {jira_requests} Jira requests"
          f"\ndays with activity of {DAYS}: {days_with}"
          f"\n{ {k: v for k, v in app_counts.items() if k.startswith(('github', 'jira'))} }")
    with capfd.disabled():  # the measured times and auth requests, shown with `pytest -s`
        print(summary)
