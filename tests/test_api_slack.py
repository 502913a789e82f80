"""`POST /slack/summaries` against the mock Slack Web API over HTTP (slack_sdk's WebClient inside the API),
on the hand-made warehouse of tests/fixtures/api.py: bearer auth, the 503s that name what to configure,
the post then the update of the same message, shared with the scheduled post."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

from api.main import create_app
from mock_apis.server import MockApi
from tests.fixtures.api import API_TOKEN, build_api_warehouse, stored_post, write_config

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = build_api_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{path}")
    monkeypatch.setenv("EMD_CONFIG", str(write_config(tmp_path / "config.yaml")))
    for name in ("EMD_API_TOKEN", "SLACK_BOT_TOKEN", "SLACK_CHANNEL_ID", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def slack(live: Path, mock_api: MockApi, monkeypatch: pytest.MonkeyPatch) -> MockApi:
    """EMD_API_TOKEN set and Slack pointed at the mock."""
    monkeypatch.setenv("EMD_API_TOKEN", API_TOKEN)
    for key in ("SLACK_API_URL", "SLACK_BOT_TOKEN", "SLACK_CHANNEL_ID"):
        monkeypatch.setenv(key, mock_api.env()[key])
    return mock_api


@pytest.fixture
def client(live: Path) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def messages(api: MockApi) -> list[dict]:
    return requests.get(api.url + "/_mock/slack/messages", timeout=5).json()


def test_without_emd_api_token_the_route_is_unavailable(client: TestClient) -> None:
    answer = client.post("/slack/summaries", json={"team": "platform"}, headers=AUTH)
    assert answer.status_code == 503
    assert "EMD_API_TOKEN is not set" in answer.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"},
                                     {"Authorization": f"Basic {API_TOKEN}"},
                                     {"Authorization": f"Bearer {API_TOKEN}x"}])
def test_a_missing_or_wrong_token_is_401(slack: MockApi, client: TestClient, headers: dict) -> None:
    answer = client.post("/slack/summaries", json={"team": "platform"}, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert API_TOKEN not in answer.text
    assert messages(slack) == []


def test_without_slack_settings_the_post_is_unavailable(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMD_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "test-slack-bot-secret")
    answer = client.post("/slack/summaries", json={"team": "platform"}, headers=AUTH)
    assert answer.status_code == 503
    assert "SLACK_BOT_TOKEN" in answer.json()["detail"] and "SLACK_CHANNEL_ID" in answer.json()["detail"]
    assert "test-slack-bot-secret" not in answer.text


def test_post_then_update_the_same_message(slack: MockApi, client: TestClient, live: Path) -> None:
    first = client.post("/slack/summaries", json={"team": "platform"}, headers=AUTH)
    assert first.status_code == 200, first.text
    body = first.json()
    # The team's latest card: API Sprint 2 (id 2), never posted before.
    assert (body["period_id"], body["period_name"], body["action"], body["channel"]) == (
        "2", "API Sprint 2", "posted", "C0MOCKCHAN")
    posted = messages(slack)
    assert len(posted) == 1 and posted[0]["ts"] == body["ts"]
    blocks = posted[0]["blocks"]
    assert blocks[0]["text"]["text"] == "Sprint Health: platform \u00b7 API Sprint 2"
    # The blob's two metrics in the card's order (catalogue.CARD_METRICS): cycle time 30 h, +114.3% (16 / 14),
    # worse; change failure rate 37.5%, +4.2 points (0.0417 x 100), worse.
    assert [f["text"] for f in blocks[1]["fields"]] == [
        "*PR cycle time p50*\n30 h  \u2191 +114.3% :red_circle: worse\n_n=5_",
        "*Change failure rate*\n37.5%  \u2191 +4.2 pts :red_circle: worse\n_n=8_",
    ]
    assert "\u2022 API Sprint 2 finished 80% of its commitment." in blocks[3]["text"]["text"]
    # The dashboard link: the sprint's days (03-02 09:00 .. 03-13 17:00).
    assert "<http://dash.example:8501/drilldown?team=platform&start=2026-03-02&end=2026-03-13&sprint=2|Open in the dashboard>" in (
        blocks[-1]["elements"][0]["text"])
    assert stored_post(live, "2") == ("C0MOCKCHAN", body["ts"])

    again = client.post("/slack/summaries", json={"team": "platform", "sprint": "2"}, headers=AUTH)
    assert again.status_code == 200, again.text
    assert (again.json()["action"], again.json()["ts"]) == ("updated", body["ts"])
    after = messages(slack)
    assert len(after) == 1 and after[0]["edits"] == 1


def test_the_scheduled_post_updates_the_message_the_api_posted(slack: MockApi, client: TestClient) -> None:
    from dagster import materialize

    from orchestration.defs.insights.definitions import sprint_health_slack_post
    from orchestration.defs.insights.resources import SlackResource
    from orchestration.resources import ProjectConfigResource, WarehouseResource

    ts = client.post("/slack/summaries", json={"team": "platform"}, headers=AUTH).json()["ts"]
    result = materialize([sprint_health_slack_post],
                         resources={"project_config": ProjectConfigResource(), "warehouse": WarehouseResource(),
                                    "slack": SlackResource()})
    assert result.success
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("sprint_health_slack_post")[0]
                .metadata.items()}
    assert (metadata["posted"], metadata["updated"]) == (0, 1)
    after = messages(slack)
    assert [m["ts"] for m in after] == [ts] and after[0]["edits"] == 1
    # And the other way round: the API updates what the scheduled post recorded.
    assert client.post("/slack/summaries", json={"team": "platform"}, headers=AUTH).json()["action"] == "updated"


def test_an_earlier_sprint_by_name(slack: MockApi, client: TestClient, live: Path) -> None:
    answer = client.post("/slack/summaries", json={"team": "platform", "sprint": "API Sprint 1"}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["period_id"], answer.json()["action"]) == ("1", "posted")
    assert stored_post(live, "1")[1] == answer.json()["ts"] and stored_post(live, "2") == (None, None)


def test_unknown_team_is_422_and_unknown_sprint_404(slack: MockApi, client: TestClient) -> None:
    team = client.post("/slack/summaries", json={"team": "nosuchteam"}, headers=AUTH)
    assert team.status_code == 422 and team.json()["detail"][0]["loc"] == ["body", "team"]
    sprint = client.post("/slack/summaries", json={"team": "platform", "sprint": "99"}, headers=AUTH)
    assert sprint.status_code == 404 and "2 (API Sprint 2)" in sprint.json()["detail"]
    missing = client.post("/slack/summaries", json={}, headers=AUTH)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "team"]
    assert messages(slack) == []


def test_slack_rejecting_the_bot_token_is_502_naming_the_variable(slack: MockApi, client: TestClient,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "revoked-slack-bot-secret")
    answer = client.post("/slack/summaries", json={"team": "platform"}, headers=AUTH)
    assert answer.status_code == 502
    assert "SLACK_BOT_TOKEN" in answer.json()["detail"] and "revoked-slack-bot-secret" not in answer.text


def test_card_text_is_escaped_for_slack(tmp_path: Path, mock_api: MockApi, monkeypatch: pytest.MonkeyPatch) -> None:
    path = build_api_warehouse(tmp_path / "warehouse.duckdb", injected_insight="<!channel> see <http://evil|here> & act")
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{path}")
    monkeypatch.setenv("EMD_CONFIG", str(write_config(tmp_path / "config.yaml")))
    monkeypatch.setenv("EMD_API_TOKEN", API_TOKEN)
    for key in ("SLACK_API_URL", "SLACK_BOT_TOKEN", "SLACK_CHANNEL_ID"):
        monkeypatch.setenv(key, mock_api.env()[key])
    with TestClient(create_app()) as client:
        assert client.post("/slack/summaries", json={"team": "platform"}, headers=AUTH).status_code == 200
    message = messages(mock_api)[0]
    insights = message["blocks"][3]["text"]["text"]
    assert "\u2022 &lt;!channel&gt; see &lt;http://evil|here&gt; &amp; act" in insights
    assert "<!channel>" not in message["text"]


HOLD_WRITE_LOCK = """
import sys, time
import duckdb
conn = duckdb.connect(sys.argv[1])  # read-write: DuckDB's one-writer lock on the file, as a dbt build holds it
conn.execute("create table if not exists held_by_another_process (a integer)")
print("holding", flush=True)
sys.stdin.read()  # until the test closes stdin
"""


def test_a_post_while_another_process_holds_the_warehouse_and_its_ts_survives_a_rebuild(
        slack: MockApi, client: TestClient, live: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The card records live in the record store beside the warehouse (emd/records.py), so `POST
    /slack/summaries` never opens the live DuckDB file: it posts and records while another process (a dbt build)
    holds the file's write lock. The recorded ts outlives a rebuild of the warehouse from scratch: the next
    publish shows it, and the next post edits that message instead of posting a second one."""
    import subprocess
    import sys

    import duckdb

    from emd.records import records_path
    from emd.settings import parse_database_url
    from emd.snapshot import publish_build
    from emd.warehouse import Warehouse
    from tests.fixtures.api import build_api_warehouse

    monkeypatch.setenv("EMD_WAREHOUSE_LOCK_WAIT_SECONDS", "1")  # had the route opened the file, it fails in 1 s
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, str(live)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(duckdb.IOException, match="lock"):  # the lock is really held (else this proves nothing)
            duckdb.connect(str(live), read_only=True)
        first = client.post("/slack/summaries", json={"team": "platform"}, headers=AUTH)
        assert first.status_code == 200, first.text
        ts = first.json()["ts"]
        assert (first.json()["action"], stored_post(live, "2")) == ("posted", ("C0MOCKCHAN", ts))
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert records_path(parse_database_url(f"duckdb:///{live}")) == live.with_name("warehouse.records.sqlite")

    # A rebuild from scratch: the live file deleted and built again (its marts, and a stale card table of the
    # kind a warehouse held before the record store), then published.
    live.unlink()
    build_api_warehouse(live)
    assert stored_post(live, "2") == ("C0MOCKCHAN", ts)
    published = client.get("/insights/sprint-health", params={"team": "platform", "sprint": "2"})
    assert published.status_code == 200, published.text
    assert (published.json()["slack"]["channel"], published.json()["slack"]["ts"]) == ("C0MOCKCHAN", ts)
    again = client.post("/slack/summaries", json={"team": "platform"}, headers=AUTH)
    assert (again.json()["action"], again.json()["ts"]) == ("updated", ts)
    assert [m["ts"] for m in messages(slack)] == [ts] and messages(slack)[0]["edits"] == 1
    # And a publish that changed nothing keeps the build (the cards come from the store, not the live file).
    assert publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")))["unchanged"] is False  # the post
    assert publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")))["unchanged"] is True
