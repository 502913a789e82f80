"""Outside text is text: a sprint name and a model answer carrying Slack mention/link syntax and `& < >` reach
Slack escaped (never a channel ping or a link), a model answer with mention or link syntax is rejected (retry,
then the deterministic card), and the Dagster metadata shows the names as text, not markdown.

Through the real path: the sprint_health and Slack post assets, the mock LLM and the mock Slack over HTTP."""

from __future__ import annotations

import html
import json
from pathlib import Path

import duckdb
import pytest

from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.text import markdown_escape, slack_escape
from emd.warehouse import Warehouse
from mock_apis.llm import ANGLE_BRACKETS, MENTIONS
from mock_apis.server import MockApi
from orchestration.defs.insights.card import FALLBACK_LABEL, mention_or_link_syntax, validate_card
from tests.fixtures.app import run_app
from tests.fixtures.marts import CURRENT, PUBLISHED_AT
from tests.fixtures.marts import build_duckdb_warehouse as build_fixture_warehouse
from tests.fixtures.mock import llm_requests, switch
from tests.fixtures.slack import post_metadata, run_job, slack_messages

# Sprint 104 ("Sprint 4") is platform's latest closed sprint in the hand-made marts (tests/fixtures/insights.py).
HOSTILE_NAME = "Sprint 4 <!channel> & <@U024BE7LH> <https://evil.example/x|win> > [click](https://evil.example)"
# The same, as Slack must receive it in mrkdwn and in the top-level text (&amp; &lt; &gt;; nothing else).
HOSTILE_NAME_SLACK = ("Sprint 4 &lt;!channel&gt; &amp; &lt;@U024BE7LH&gt; &lt;https://evil.example/x|win&gt; &gt; "
                      "[click](https://evil.example)")
# ... and as a markdown table cell in the Dagster metadata (every markdown character backslash-escaped).
HOSTILE_NAME_MD = (r"Sprint 4 \<\!channel\> & \<@U024BE7LH\> \<https\://evil\.example/x\|win\> \> "
                   r"\[click\]\(https\://evil\.example\)")


@pytest.fixture
def hostile_env(slack_env: MockApi, warehouse_path: Path) -> MockApi:  # noqa: F811 - the fixture above
    """The hand-made marts (platform's latest sprint renamed to HOSTILE_NAME), mock OPENAI_*/SLACK_* env."""
    with duckdb.connect(str(warehouse_path)) as conn:
        conn.execute("update mv_planning_by_sprint set sprint_name = ? where sprint_id = 104", [HOSTILE_NAME])
    return slack_env


def _platform_message(api: MockApi) -> dict:
    [message] = [m for m in slack_messages(api) if m["blocks"][0]["text"]["text"].startswith("Sprint Health: platform")]
    return message


def _mrkdwn_texts(message: dict) -> list[str]:
    texts = [message["text"]]
    for block in message["blocks"]:
        if block["type"] == "section":
            texts += [f["text"] for f in block.get("fields", [])] + ([block["text"]["text"]] if "text" in block else [])
        elif block["type"] == "context":
            texts += [e["text"] for e in block["elements"]]
    return texts


def test_validation_rejects_mentions_and_links_only() -> None:
    assert mention_or_link_syntax("Ping <!channel> and <!here>") == ["<!", "<!"]
    assert mention_or_link_syntax("ask <@U024BE7LH> or <#C01>") == ["<@", "<#"]
    assert mention_or_link_syntax("read <https://evil.example|the fix> or https://evil.example") == [
        "<https:", "https://"]
    assert mention_or_link_syntax("<mailto:a@b.example>") == ["<mailto:"]
    assert mention_or_link_syntax("Reviews & pickups: waiting < working, and merges > reverts.") == []
    card = {"insights": ["a", "b", "c <!here>"], "risks": ["d", "e"], "recommendations": ["f", "g", "h"]}
    assert validate_card(card, {"metrics": {}}) == [
        "the card contains Slack mention or link syntax (<!channel>, <!here>, <@user>, <https://...|...>) or a "
        "link: write plain sentences with no mentions and no links"]


def test_answer_with_mentions_is_retried_then_replaced_and_nothing_pings(hostile_env: MockApi) -> None:
    switch(hostile_env, llm_mentions=True)  # every answer carries <!channel>, <!here>, <@U…>, <https://…|…>
    result = run_job()
    assert result.success
    message = _platform_message(hostile_env)
    retries = [r for r in llm_requests(hostile_env) if len(r["messages"]) == 4]  # the second try of a card
    assert retries and "Slack mention or link syntax" in retries[0]["messages"][3]["content"]
    # the header is plain_text: Slack shows it as written and parses nothing in it
    assert message["blocks"][0] == {"type": "header", "text": {"type": "plain_text",
                                                                "text": f"Sprint Health: platform \u00b7 {HOSTILE_NAME}"[:150]}}
    # the deterministic card replaced the model's: labelled as such, no model text in the post
    context = message["blocks"][-1]["elements"][0]["text"]
    assert context.endswith(FALLBACK_LABEL)
    insights = next(b for b in message["blocks"] if b["type"] == "section" and b.get("text", {}).get("text", "")
                    .startswith("*Insights*"))["text"]["text"]
    first_insight = insights.split("\n")[1].removeprefix("\u2022 ")
    raw = f"Sprint Health: platform \u00b7 {HOSTILE_NAME}: {html.unescape(first_insight)}"[:300]
    assert message["text"] == slack_escape(raw)
    assert message["text"].startswith(f"Sprint Health: platform \u00b7 {HOSTILE_NAME_SLACK}: ")
    for text in _mrkdwn_texts(message):
        assert "<!" not in text and "<@" not in text and "<https://evil" not in text, text
        assert MENTIONS.strip()[:10] not in text
    # Dagster metadata: the markdown table shows the name as text
    assert f"| platform | {HOSTILE_NAME_MD} | posted |" in post_metadata(result)["messages"]


def test_answer_with_angle_brackets_is_kept_and_escaped(hostile_env: MockApi) -> None:
    switch(hostile_env, llm_angle_brackets=True)  # "& < >" as plain comparisons: a valid card
    assert run_job().success
    message = _platform_message(hostile_env)
    assert message["blocks"][-1]["elements"][0]["text"].endswith("Written by mock-model from aggregate metrics only")
    insights = next(b for b in message["blocks"] if b["type"] == "section" and b.get("text", {}).get("text", "")
                    .startswith("*Insights*"))["text"]["text"]
    first = insights.split("\n")[1]
    assert first.endswith(" Reviews &amp; pickups: waiting &lt; working, and merges &gt; reverts.")
    assert ANGLE_BRACKETS.strip() not in first
    assert message["text"].startswith(f"Sprint Health: platform \u00b7 {HOSTILE_NAME_SLACK}: ")
    assert message["text"].endswith("Reviews &amp; pickups: waiting &lt; working, and merges &gt; reverts.")
    for text in _mrkdwn_texts(message):
        # every < and > left in a mrkdwn text is our own dashboard link <http://dash.example...|Open in the dashboard>
        assert text.replace("<http://dash.example", "").count("<") == 0, text


def test_dashboard_shows_the_card_and_the_sprint_name_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live = tmp_path / "warehouse.duckdb"
    build_fixture_warehouse(live)
    hostile_item = "See [the fix](https://evil.example) ![x](https://evil.example/p.png) **now** <b>"
    with duckdb.connect(str(live)) as conn:
        card = {"insights": [hostile_item] * 3, "risks": ["r"] * 2, "recommendations": ["x"] * 3}
        conn.execute("update sprint_health set card_json = ?, period_name = ? where period_id = '2'",
                     [json.dumps(card), HOSTILE_NAME])
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")), now=PUBLISHED_AT)
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{live}")
    monkeypatch.setenv("EMD_CONFIG", str(tmp_path / "no-config.yaml"))
    at = run_app(CURRENT, page="app_pages/sprint_health.py")
    markdown = "\n".join(m.value for m in at.markdown)
    # every markdown character of the outside text is escaped: no link, image or bold a reader did not ask for
    assert f"- {markdown_escape(hostile_item)}" in markdown
    assert "](https://evil.example)" not in markdown and "**now**" not in markdown
    assert any(c.value.startswith(f"{markdown_escape(HOSTILE_NAME)} (sprint 2)") for c in at.caption)
