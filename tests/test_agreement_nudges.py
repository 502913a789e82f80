"""The working-agreement nudges against the mock Slack Web API over HTTP (slack_sdk), on a hand-made
fct_agreement_breaches: two refreshes post each new breach exactly once; re-runs edit, never repost."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import requests
import yaml
from dagster import materialize

from emd.config import load_config
from emd.slack import SlackPoster, slack_target
from emd.warehouse import Warehouse
from mock_apis.server import MockApi
from orchestration.defs.alerts.definitions import agreement_digest, agreement_nudges, post_digests
from orchestration.defs.alerts.store import read_nudges
from orchestration.resources import ProjectConfigResource, WarehouseResource

ROOT = Path(__file__).resolve().parents[1]
BREACH_COLUMNS = [
    ("team", "text"), ("rule", "text"), ("subject_type", "text"), ("subject_key", "text"), ("threshold", "double"),
    ("opened_at", "timestamp"), ("closed_at", "timestamp"), ("breach_id", "text"), ("is_proposed", "boolean"),
    ("is_open", "boolean"), ("subject_title", "text"), ("subject_url", "text"), ("author", "text"),
]
EVIL_TITLE = "Fix <!channel> & <https://evil.example|click> *now*"


def breach(breach_id: str, team: str, rule: str, subject_type: str, key: str, opened: str, closed: str | None = None,
           title: str | None = None, url: str | None = None, author: str | None = None,
           proposed: bool = False) -> tuple:
    threshold = {"first_review_within_hours": 8.0, "blocked_max_days": 3.0, "wip_max_issues": 2.0}[rule]
    return (team, rule, subject_type, key, threshold, opened, closed, breach_id, proposed, closed is None, title, url,
            author)


REFRESH_1 = [
    breach("b1", "platform", "first_review_within_hours", "pr", "acme/api#1", "2026-03-30 09:00:00",
           title=EVIL_TITLE, url="https://github.com/acme/api/pull/1", author="alice"),
    breach("b2", "platform", "blocked_max_days", "issue", "API-7", "2026-03-30 10:00:00", title="Blocked on infra"),
    breach("b3", "web", "first_review_within_hours", "pr", "acme/web#4", "2026-03-30 11:00:00",
           title="Web change", url="https://github.com/acme/web/pull/4", author="bob"),
    # proposed rules are history only; a breach that closed days ago is not news
    breach("b4", "platform", "wip_max_issues", "team", "platform", "2026-03-30 09:00:00", proposed=True),
    breach("b5", "platform", "blocked_max_days", "issue", "API-2", "2026-03-20 10:00:00", "2026-03-21 10:00:00"),
]
# the next refresh: b1 was reviewed (resolved), b2 still open, a new breach b6
REFRESH_2 = [REFRESH_1[0][:6] + ("2026-03-30 15:00:00",) + ("b1", False, False) + REFRESH_1[0][10:],
             *REFRESH_1[1:],
             breach("b6", "platform", "first_review_within_hours", "pr", "acme/api#9", "2026-03-30 16:00:00",
                    title="Second PR", url="https://github.com/acme/api/pull/9", author="dave")]


def write_breaches(path: Path, rows: list[tuple]) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("drop table if exists fct_agreement_breaches")
        conn.execute(f"create table fct_agreement_breaches ({', '.join(f'{n} {t}' for n, t in BREACH_COLUMNS)})")
        marks = ", ".join("?" * len(BREACH_COLUMNS))
        conn.executemany(f"insert into fct_agreement_breaches values ({marks})", rows)  # noqa: S608 - constants


@pytest.fixture
def nudge_env(mock_env: MockApi, config_path: Path, warehouse_path: Path) -> MockApi:
    config = yaml.safe_load(config_path.read_text())
    config["working_agreements"] = {
        "platform": {"first_review_within_hours": 8, "blocked_max_days": 3, "proposed": {"wip_max_issues": 2},
                     "working_hours": {"timezone": "Europe/Berlin", "start": "09:00", "end": "17:00"}},
        "web": {"first_review_within_hours": 8, "mention_authors": True},
    }
    config["dashboard"] = {"url": "http://dash.example:8501"}
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return mock_env


def run_nudges():
    result = materialize([agreement_nudges], resources={"project_config": ProjectConfigResource(),
                                                        "warehouse": WarehouseResource()})
    mat = result.asset_materializations_for_node("agreement_nudges")[0]
    return {k: v.value for k, v in mat.metadata.items()}


def slack_messages(api: MockApi) -> list[dict]:
    return requests.get(api.url + "/_mock/slack/messages", timeout=5).json()


def listed(message: dict) -> str:
    return "\n".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")


def test_the_breach_columns_are_the_marts(nudge_env: MockApi) -> None:
    models = yaml.safe_load((ROOT / "dbt_project/models/marts/agreements/_agreements__models.yml").read_text())
    mart = next(m for m in models["models"] if m["name"] == "fct_agreement_breaches")
    assert [c["name"] for c in mart["columns"]] == [n for n, _ in BREACH_COLUMNS]


def test_two_refreshes_post_each_new_breach_exactly_once(nudge_env: MockApi, warehouse_path: Path) -> None:
    write_breaches(warehouse_path, REFRESH_1)
    first = run_nudges()
    assert (first["posted"], first["updated"], first["new_breaches"]) == (2, 0, 3)
    messages = slack_messages(nudge_env)
    by_team = {m["blocks"][0]["text"]["text"]: m for m in messages}
    assert set(by_team) == {"Working agreements \u00b7 platform: 2 new breaches",
                            "Working agreements \u00b7 web: 1 new breach"}

    write_breaches(warehouse_path, REFRESH_2)
    second = run_nudges()
    # b6 is new: one more message; platform's first message is edited (b1 resolved); web's is unchanged
    assert (second["posted"], second["updated"], second["unchanged"], second["new_breaches"]) == (1, 1, 1, 1)
    messages = slack_messages(nudge_env)
    assert len(messages) == 3
    texts = [listed(m) for m in messages]
    for key in ("acme/api#1", "API-7", "acme/web#4", "acme/api#9"):
        assert sum(f"|{key}>" in t for t in texts) == 1, key
    assert not any("API-2" in t or "platform WIP" in t for t in texts)  # old, and proposed
    platform_first = next(m for m in messages if "acme/api#1" in listed(m))
    assert platform_first["edits"] == 1 and "resolved Mon 2026-03-30 15:00 UTC" in listed(platform_first)

    third = run_nudges()  # a re-run (or a restart) over the same breaches: nothing posted, nothing edited
    assert (third["posted"], third["updated"], third["new_breaches"]) == (0, 0, 0)
    assert len(slack_messages(nudge_env)) == 3
    stored = read_nudges(Warehouse())
    assert sorted(i for r in stored.values() for i in r.breach_ids) == ["b1", "b2", "b3", "b6"]


def test_links_escaping_and_author_names(nudge_env: MockApi, warehouse_path: Path) -> None:
    write_breaches(warehouse_path, REFRESH_1)
    run_nudges()
    platform = next(m for m in slack_messages(nudge_env) if "platform" in m["blocks"][0]["text"]["text"])
    web = next(m for m in slack_messages(nudge_env) if "web" in m["blocks"][0]["text"]["text"])
    text = listed(platform)
    assert ("\u2022 <https://github.com/acme/api/pull/1|acme/api#1> "
            "Fix &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; *now* \u2014 "
            "_First review within 8 working hours_ broken since Mon 2026-03-30 09:00 UTC") in text
    assert f"<{nudge_env.url}/browse/API-7|API-7> Blocked on infra" in text
    assert "<!channel>" not in str(platform) and "alice" not in str(platform)  # no mention_authors for platform
    assert "(by bob)" in listed(web)  # web turned mention_authors on
    assert "<http://dash.example:8501/agreements?team=platform|How often the agreements held>" in str(platform)


def test_daily_digest_at_the_teams_start_of_day(nudge_env: MockApi, warehouse_path: Path) -> None:
    write_breaches(warehouse_path, REFRESH_2)
    config, wh = load_config(), Warehouse()
    target = slack_target()
    assert target is not None
    poster = SlackPoster(target)
    # Mon 2026-03-30 06:30 UTC = 08:30 in Berlin (CEST): not yet platform's 09:00; web (no working hours)
    # starts at 09:00 UTC
    early = post_digests(wh, config, poster, datetime(2026, 3, 30, 6, 30))
    assert (early["posted"], early["not_due"]) == (0, 2)
    # 07:10 UTC = 09:10 Berlin: platform's digest lists its open breaches (b2, b6), not the resolved b1
    due = post_digests(wh, config, poster, datetime(2026, 3, 30, 7, 10))
    assert (due["posted"], due["not_due"]) == (1, 1)
    digest = slack_messages(nudge_env)[-1]
    assert digest["blocks"][0]["text"]["text"] == "Working agreements \u00b7 platform \u00b7 2026-03-30: 2 open breaches"
    assert "API-7" in listed(digest) and "acme/api#9" in listed(digest) and "acme/api#1" not in listed(digest)
    # the hourly schedule's next runs that day: same content, no new message, no edit
    again = post_digests(wh, config, poster, datetime(2026, 3, 30, 8, 5))
    assert (again["posted"], again["updated"], again["unchanged"]) == (0, 0, 1)
    # web at 09:00 UTC: its only breach (b3) is open
    web = post_digests(wh, config, poster, datetime(2026, 3, 30, 9, 0))
    assert web["posted"] == 1
    assert len(slack_messages(nudge_env)) == 2
    # Saturday: no digest
    weekend = post_digests(wh, config, poster, datetime(2026, 4, 4, 10, 0))
    assert weekend["not_due"] == 2


def test_digest_asset_and_no_slack(nudge_env: MockApi, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_breaches(warehouse_path, REFRESH_1)
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    for asset in (agreement_nudges, agreement_digest):
        result = materialize([asset], resources={"project_config": ProjectConfigResource(),
                                                 "warehouse": WarehouseResource()})
        mat = result.asset_materializations_for_node(asset.key.path[-1])[0]
        assert mat.metadata["posted"].value == 0 and "not both set" in mat.metadata["skipped"].value
    assert slack_messages(nudge_env) == []
