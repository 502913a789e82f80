"""The Slack post asset against the mock Slack Web API over HTTP (slack_sdk WebClient), on the hand-made marts.

Cards exist for platform's Sprints 1-4 and data's weeks 2026-W10..W13 (test_insights_marts.py); only
Sprint 4 and 2026-W13 are posted.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, Definitions, RunRequest, SkipReason, build_sensor_context

from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.warehouse import Warehouse
from mock_apis.server import MockApi
from orchestration.defs.insights.definitions import (
    insights_defs,
    post_when_sprint_completes,
)
from orchestration.resources import ProjectConfigResource, WarehouseResource
from tests.fixtures.insights import PEOPLE, TITLES, build_marts
from tests.fixtures.mock import counts, llm_requests, rows, switch
from tests.fixtures.slack import post_metadata, run_job, slack_messages


def failure_text(result) -> str:
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:
                error = error.cause
            texts.append(error.message if error else "")
    return " ".join(texts)


def test_only_each_teams_latest_period_is_posted(slack_env: MockApi, warehouse_path: Path) -> None:
    result = run_job()
    assert result.success
    messages = slack_messages(slack_env)
    headers = sorted(m["blocks"][0]["text"]["text"] for m in messages)
    assert headers == ["Sprint Health: data \u00b7 Week 2026-W13", "Sprint Health: platform \u00b7 Sprint 4"]
    posted = {(r["team"], r["period_id"]): r for r in rows(warehouse_path) if r["slack_ts"]}
    assert set(posted) == {("platform", "104"), ("data", "2026-W13")}
    assert all(r["slack_channel"] == "C0MOCKCHAN" and r["posted_at"] is not None for r in posted.values())
    assert (post_metadata(result)["posted"], post_metadata(result)["updated"]) == (2, 0)


def test_second_run_updates_the_same_message(slack_env: MockApi, warehouse_path: Path) -> None:
    assert run_job().success
    first = {m["ts"] for m in slack_messages(slack_env)}
    second = run_job()
    assert second.success
    messages = slack_messages(slack_env)
    assert {m["ts"] for m in messages} == first and len(messages) == 2
    assert [m["edits"] for m in messages] == [1, 1]
    c = counts(slack_env)
    assert (c["slack:chat.postMessage"], c["slack:chat.update"]) == (2, 2)
    assert (post_metadata(second)["posted"], post_metadata(second)["updated"]) == (0, 2)


def test_recomputed_history_keeps_posted_cards_unless_asked_to_rewrite(slack_env: MockApi,
                                                                       warehouse_path: Path) -> None:
    """Sprint 4's scope change recomputed after its card was posted (25 -> 40 %): the posted card and its
    message stay as they were (no model call); Sprint 3's card, never posted, is written anew; `emd cards
    --rewrite` (rewrite_posted) writes Sprint 4's card again and edits its message."""
    assert run_job().success
    posted = {(r["team"], r["period_id"]): r for r in rows(warehouse_path)}
    calls = counts(slack_env).get("llm:chat.completions", 0)
    with duckdb.connect(str(warehouse_path)) as conn:
        conn.execute("update mv_planning_by_sprint set scope_change_pct = 40 where sprint_id in (103, 104)")
    again = run_job()
    assert again.success
    after = {(r["team"], r["period_id"]): r for r in rows(warehouse_path)}
    kept, rewritten = after[("platform", "104")], after[("platform", "103")]
    assert (kept["card_json"], kept["metrics_hash"]) == (posted[("platform", "104")]["card_json"],
                                                         posted[("platform", "104")]["metrics_hash"])
    assert rewritten["metrics_hash"] != posted[("platform", "103")]["metrics_hash"]
    figures = {k: v.value for k, v in again.asset_materializations_for_node("sprint_health")[0].metadata.items()}
    # Changed blobs: Sprint 3's (its own value) and Sprint 4's (its own, and Sprint 3's as its previous one).
    assert (figures["posted_kept"], figures["cards_written"]) == (1, 1)  # Sprint 4 kept, Sprint 3 written
    assert counts(slack_env).get("llm:chat.completions", 0) - calls == 1
    assert all(m["edits"] <= 1 for m in slack_messages(slack_env))

    rewrite = run_job({"ops": {"sprint_health": {"config": {"rewrite_posted": True}}}})
    assert rewrite.success
    now = {(r["team"], r["period_id"]): r for r in rows(warehouse_path)}
    assert now[("platform", "104")]["metrics_hash"] != posted[("platform", "104")]["metrics_hash"]
    assert now[("platform", "104")]["slack_ts"] == posted[("platform", "104")]["slack_ts"]  # the same message, edited


def test_emd_cards_writes_the_cards_and_posts_them(slack_env: MockApi, warehouse_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`emd cards` (the insights job alone, as the command line runs it) on the hand-made marts."""
    from orchestration.cli import main

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["cards"]) == 0
    assert {(r["team"], r["period_id"]) for r in rows(warehouse_path) if r["slack_ts"]} == {
        ("platform", "104"), ("data", "2026-W13")}
    assert main(["cards", "--rewrite"]) == 0
    assert len(slack_messages(slack_env)) == 2


def test_block_kit_message(slack_env: MockApi, warehouse_path: Path) -> None:
    assert run_job().success
    message = next(m for m in slack_messages(slack_env) if "platform" in m["blocks"][0]["text"]["text"])
    blocks = message["blocks"]
    fields = [f["text"] for f in blocks[1]["fields"]]
    # Sprint 4 (tests/fixtures/insights.py; labels from the metric catalogue): cycle p50 10 -> 25 h (+150%), worse; deployments 0.14 -> 0.29/day, better;
    # change failure rate 0 -> 25% (+25 pts), worse; planned vs done 87.5 -> 70% (-17.5 pts), worse.
    assert fields[0] == "*PR cycle time p50*\n25 h  \u2191 +150% :red_circle: worse\n_n=4 (low sample)_"
    assert fields[3] == "*Deployment frequency*\n0.29/day  \u2191 +100% :large_green_circle: better\n_n=4 (low sample)_"
    assert fields[5] == "*Change failure rate*\n25%  \u2191 +25 pts :red_circle: worse\n_n=4 (low sample)_"
    assert fields[8] == "*Planned vs done*\n70%  \u2193 -17.5 pts :red_circle: worse\n_n=10_"
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert [s.split("\n")[0] for s in sections] == ["*Insights*", "*Risks*", "*Recommendations*"]
    assert [s.count("\u2022 ") for s in sections] == [3, 2, 3]
    context = blocks[-1]["elements"][0]["text"]
    assert context.startswith("Sprint 2026-03-16 \u2192 2026-03-30 \u00b7 "
                              "<http://dash.example:8501/drilldown?team=platform&start=2026-03-16&end=2026-03-30&sprint=104"
                              "|Open in the dashboard>")
    assert context.endswith("Written by mock-model from aggregate metrics only")


def test_rule_based_card_is_labelled_in_the_post(slack_env: MockApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    assert run_job().success
    for message in slack_messages(slack_env):
        assert message["blocks"][-1]["elements"][0]["text"].endswith("Rule-based summary (no LLM)")


def test_no_token_name_or_title_in_any_post_prompt_or_metadata(slack_env: MockApi, warehouse_path: Path) -> None:
    result = run_job()
    assert result.success
    metadata = [m.metadata for node in ("sprint_health", "sprint_health_slack_post")
                for m in result.asset_materializations_for_node(node)]
    text = (json.dumps(slack_messages(slack_env)) + json.dumps(llm_requests(slack_env))
            + json.dumps(rows(warehouse_path), default=str) + repr(metadata)).lower()
    for secret in (*PEOPLE, *TITLES, slack_env.state.slack_token, slack_env.state.openai_key):
        assert secret.lower() not in text


def test_without_slack_settings_nothing_is_posted(slack_env: MockApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    result = run_job()
    assert result.success
    assert slack_messages(slack_env) == [] and "slack:auth.test" not in counts(slack_env)
    md = post_metadata(result)
    assert md["posted"] == 0 and "SLACK_BOT_TOKEN and SLACK_CHANNEL_ID are not both set" in md["skipped"]


@pytest.mark.parametrize(("env", "value", "expected"), [
    ("SLACK_BOT_TOKEN", "xoxb-wrong", "check SLACK_BOT_TOKEN"),
    ("SLACK_CHANNEL_ID", "C0NOSUCH", "(channel_not_found) on chat.postMessage: check SLACK_CHANNEL_ID"),
])
def test_slack_errors_fail_with_what_to_fix(slack_env: MockApi, monkeypatch: pytest.MonkeyPatch,
                                            env: str, value: str, expected: str) -> None:
    monkeypatch.setenv(env, value)
    result = run_job()
    assert not result.success
    message = failure_text(result)
    assert expected in message
    assert "xoxb-wrong" not in message and slack_env.state.slack_token not in message
    assert slack_messages(slack_env) == []


def test_not_in_channel_says_invite_the_bot(slack_env: MockApi) -> None:
    switch(slack_env, slack_not_in_channel=True)
    result = run_job()
    assert not result.success
    assert "not_in_channel" in failure_text(result) and "invite the bot" in failure_text(result)


def test_rate_limited_post_is_retried_once_not_duplicated(slack_env: MockApi) -> None:
    switch(slack_env, slack_rate_limit=1)  # auth.test gets a 429 with Retry-After: 1, then succeeds
    assert run_job().success
    assert len(slack_messages(slack_env)) == 2 and counts(slack_env)["slack:auth.test"] == 2


def test_deleted_message_is_posted_again(slack_env: MockApi) -> None:
    assert run_job().success
    slack_env.state.extra["slack_messages"].clear()  # someone deleted the posts in Slack
    assert run_job().success
    assert len(slack_messages(slack_env)) == 2 and counts(slack_env)["slack:chat.postMessage"] == 4


def test_definitions_job_sensor_and_schedule() -> None:
    defs = Definitions.merge(insights_defs(), Definitions(resources={
        "project_config": ProjectConfigResource(), "warehouse": WarehouseResource()}))
    job = defs.resolve_job_def("insights_job")
    assert job.partitions_def is None
    assert {n.name for n in job.graph.node_defs} == {"sprint_health", "sprint_health_slack_post"}
    schedule = defs.resolve_schedule_def("weekly_cards")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 9 * * 1", "UTC")
    assert defs.resolve_sensor_def("post_when_sprint_completes").job_name == "insights_job"


def test_weekly_schedule_posts_weeks_only(slack_env: MockApi) -> None:
    config = {"ops": {"sprint_health_slack_post": {"config": {"period_kinds": ["week"]}}}}
    assert run_job(config).success
    assert [m["blocks"][0]["text"]["text"] for m in slack_messages(slack_env)] == \
        ["Sprint Health: data \u00b7 Week 2026-W13"]


def test_sensor_runs_the_job_when_a_sprint_completes(warehouse_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{warehouse_path}")
    resources = {"warehouse": WarehouseResource()}
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, resources=resources)
        assert isinstance(post_when_sprint_completes(context), SkipReason)  # no marts yet
        build_marts(warehouse_path)
        # It reads the published build (the dashboard's), not the live file a run may be writing.
        assert isinstance(post_when_sprint_completes(context), SkipReason)
        publish_build(Warehouse(parse_database_url(f"duckdb:///{warehouse_path}")))
        first = post_when_sprint_completes(context)
        assert isinstance(first, RunRequest)
        assert first.run_config == {"ops": {"sprint_health_slack_post": {"config": {"period_kinds": ["sprint"]}}}}
        assert context.cursor == "platform:104"
        assert isinstance(post_when_sprint_completes(context), SkipReason)  # nothing new
        conn = duckdb.connect(str(warehouse_path))
        conn.execute("update mv_planning_by_sprint set state = 'closed', completed_at = timestamp '2026-04-13 09:00' "
                     "where sprint_id = 105")
        conn.close()
        assert isinstance(post_when_sprint_completes(context), SkipReason)  # not published yet
        publish_build(Warehouse(parse_database_url(f"duckdb:///{warehouse_path}")))
        second = post_when_sprint_completes(context)
        assert isinstance(second, RunRequest) and second.run_key != first.run_key
        assert context.cursor == "platform:105"


def test_dashboard_link_of_a_week_ends_on_its_sunday(slack_env: MockApi) -> None:
    assert run_job().success
    message = next(m for m in slack_messages(slack_env) if "data" in m["blocks"][0]["text"]["text"])
    # 2026-W13 is [Mon 03-23, Mon 03-30): the dashboard's inclusive window ends on Sunday 03-29; a week's card
    # opens on the team's sprints completed that week
    assert ("<http://dash.example:8501/drilldown?team=data&start=2026-03-23&end=2026-03-29"
            "&metric=planned_vs_done_pct|Open in the dashboard>") in \
        message["blocks"][-1]["elements"][0]["text"]


def test_answers_cut_mid_body_are_retried_where_repeating_is_harmless(slack_env: MockApi) -> None:
    # auth.test and chat.update repeat safely: a dropped connection mid-body (http.client's IncompleteRead)
    # is retried; the run posts and then updates each card once.
    switch(slack_env, fault_plan=[{"kind": "cut", "path": "/slack/api/auth.test"}])
    assert run_job().success
    switch(slack_env, fault_plan=[{"kind": "cut", "path": "/slack/api/chat.update"}])
    assert run_job().success
    messages = slack_messages(slack_env)
    # The cut chat.update had been applied before its answer was cut, so that message was edited twice (with
    # the same content); the other once.
    assert len(messages) == 2 and sorted(m["edits"] for m in messages) == [1, 2]
    c = counts(slack_env)
    assert (c["fault:cut"], c["slack:auth.test"], c["slack:chat.postMessage"], c["slack:chat.update"]) == (2, 3, 2, 3)


def test_a_post_cut_mid_body_is_not_repeated_and_says_what_to_do(slack_env: MockApi) -> None:
    # chat.postMessage reached Slack (the answer was cut after the headers): posting again could duplicate the
    # card, so the run stops with a message that says so.
    switch(slack_env, fault_plan=[{"kind": "cut", "path": "/slack/api/chat.postMessage"}])
    result = run_job()
    assert not result.success
    assert "was cut off: the message may be in channel C0MOCKCHAN already" in failure_text(result)
    assert counts(slack_env)["slack:chat.postMessage"] == 1
