"""The sprint_health asset against the mock OpenAI-compatible server over HTTP, on a hand-made DuckDB warehouse.

The warehouse (see test_insights_marts.py) gives 8 cards: platform's Sprints 1-4 and data's weeks 2026-W10..W13.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from dagster import materialize
from test_insights_marts import NOW, PEOPLE, TITLES, _facts, build_marts, sprint4_blob, write_config

from emd.settings import parse_database_url
from emd.warehouse import Warehouse
from mock_apis.llm import UNGROUNDED_NUMBER
from mock_apis.server import MockApi
from orchestration.defs.insights.blob import org_horizon, team_blobs
from orchestration.defs.insights.card import (
    CARD_SCHEMA,
    FALLBACK_LABEL,
    MAX_WORDS,
    PROMPT_VERSION,
    fallback_card,
    ungrounded_numbers,
    validate_card,
    word_count,
)
from orchestration.defs.insights.definitions import sprint_health
from orchestration.resources import ProjectConfigResource, WarehouseResource

CARDS = 8


@pytest.fixture
def insights_env(mock_env: MockApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse_path: Path) -> MockApi:
    """The mock env (OPENAI_*, SLACK_*) over the hand-made marts and a config with teams platform and data."""
    build_marts(warehouse_path)
    monkeypatch.setenv("EMD_CONFIG", str(write_config(tmp_path / "insights-config.yaml")))
    return mock_env


def run_cards():
    return materialize([sprint_health], resources={"project_config": ProjectConfigResource(),
                                                   "warehouse": WarehouseResource()}, raise_on_error=False)


def metadata(result) -> dict:
    mat = result.asset_materializations_for_node("sprint_health")[0]
    return {k: v.value for k, v in mat.metadata.items()}


def rows(warehouse_path: Path) -> list[dict]:
    wh = Warehouse(parse_database_url(f"duckdb:///{warehouse_path}"))
    with wh.connect() as conn:
        cur = conn.execute("select * from sprint_health order by team, period_end")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def counts(api: MockApi) -> dict:
    return requests.get(api.url + "/_mock/counts", timeout=5).json()


def llm_requests(api: MockApi) -> list[dict]:
    return requests.get(api.url + "/_mock/llm/requests", timeout=5).json()


def switch(api: MockApi, **values) -> None:
    requests.post(api.url + "/_mock/switch", json=values, timeout=5).raise_for_status()


def test_model_cards_follow_the_schema_and_word_limit(insights_env: MockApi, warehouse_path: Path) -> None:
    result = run_cards()
    assert result.success
    written = rows(warehouse_path)
    assert len(written) == CARDS
    for row in written:
        card, blob = json.loads(row["card_json"]), json.loads(row["metrics_json"])
        assert (len(card["insights"]), len(card["risks"]), len(card["recommendations"])) == (3, 2, 3)
        assert word_count(card) <= MAX_WORDS
        assert validate_card(card, blob) == []
        assert (row["source"], row["model"], row["prompt_version"]) == ("model", "mock-model", PROMPT_VERSION)
        assert row["tokens_used"] > 0 and len(row["metrics_hash"]) == 64
        assert not row["card_text"].startswith(FALLBACK_LABEL)
    sent = llm_requests(insights_env)
    assert len(sent) == CARDS and counts(insights_env)["llm:chat.completions"] == CARDS
    first = sent[0]
    assert first["temperature"] == 0 and first["max_tokens"] > 0
    assert first["response_format"]["type"] == "json_schema"
    assert first["response_format"]["json_schema"]["schema"] == CARD_SCHEMA
    md = metadata(result)
    assert (md["cards_total"], md["cards_written"], md["cache_hits"], md["model_calls"]) == (CARDS, CARDS, 0, CARDS)
    assert md["llm_tokens"] == sum(r["tokens_used"] for r in written)


def test_same_inputs_never_call_the_model_again(insights_env: MockApi, warehouse_path: Path) -> None:
    assert run_cards().success
    before = rows(warehouse_path)
    second = run_cards()
    assert second.success
    assert counts(insights_env)["llm:requests"] == CARDS  # not one request more
    md = metadata(second)
    assert (md["cache_hits"], md["cards_written"], md["model_calls"], md["llm_tokens"]) == (CARDS, 0, 0, 0)
    assert rows(warehouse_path) == before


def test_ungrounded_number_is_retried_then_replaced_by_the_rule_based_card(insights_env: MockApi,
                                                                            warehouse_path: Path) -> None:
    switch(insights_env, llm_ungrounded=True)
    result = run_cards()
    assert result.success
    assert len(llm_requests(insights_env)) == 2 * CARDS  # one retry per card, no more
    retry = llm_requests(insights_env)[1]["messages"]
    assert retry[-2]["role"] == "assistant" and UNGROUNDED_NUMBER in retry[-1]["content"]
    for row in rows(warehouse_path):
        assert (row["source"], row["model"]) == ("fallback", None)
        assert UNGROUNDED_NUMBER in row["fallback_reason"]
        assert row["card_text"].startswith(FALLBACK_LABEL)
        assert validate_card(json.loads(row["card_json"]), json.loads(row["metrics_json"])) == []
        assert row["tokens_used"] > 0  # the two failed answers still cost tokens
    assert metadata(result)["fallback_cards"] == CARDS
    # The failure is deterministic (temperature 0): the next run reuses the fallback, no request.
    assert run_cards().success and len(llm_requests(insights_env)) == 2 * CARDS


def test_one_bad_answer_is_fixed_by_the_retry(insights_env: MockApi, warehouse_path: Path) -> None:
    switch(insights_env, llm_ungrounded=1)
    assert run_cards().success
    assert len(llm_requests(insights_env)) == CARDS + 1
    assert {r["source"] for r in rows(warehouse_path)} == {"model"}


def test_too_many_words_falls_back(insights_env: MockApi, warehouse_path: Path) -> None:
    switch(insights_env, llm_too_many_words=True)
    assert run_cards().success
    for row in rows(warehouse_path):
        assert row["source"] == "fallback" and f"the limit is {MAX_WORDS}" in row["fallback_reason"]
        assert word_count(json.loads(row["card_json"])) <= MAX_WORDS


def test_structured_output_rejected_falls_back_to_plain_text(insights_env: MockApi, warehouse_path: Path) -> None:
    switch(insights_env, llm_reject_structured=True)
    assert run_cards().success
    sent = llm_requests(insights_env)
    # The first request asked for the schema and got a 400; every later one asks for plain text.
    assert "response_format" in sent[0] and all("response_format" not in r for r in sent[1:])
    assert len(sent) == CARDS + 1
    assert "INSIGHTS:" in sent[1]["messages"][0]["content"]
    assert {r["source"] for r in rows(warehouse_path)} == {"model"}


def test_rate_limits_are_retried_by_the_sdk(insights_env: MockApi, warehouse_path: Path) -> None:
    switch(insights_env, llm_rate_limit=2)
    assert run_cards().success
    assert counts(insights_env)["llm:requests"] == CARDS + 2
    assert {r["source"] for r in rows(warehouse_path)} == {"model"}


def test_unreachable_model_falls_back_and_is_tried_again_next_run(insights_env: MockApi, warehouse_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "wrong-key")
    result = run_cards()
    assert result.success
    written = rows(warehouse_path)
    assert {r["source"] for r in written} == {"fallback"}
    assert "OPENAI_API_KEY was rejected" in written[0]["fallback_reason"]
    assert counts(insights_env)["llm:requests"] == 1  # after the 401 the run stops asking
    monkeypatch.setenv("OPENAI_API_KEY", insights_env.state.openai_key)
    assert run_cards().success
    assert {r["source"] for r in rows(warehouse_path)} == {"model"}


def test_without_api_key_every_card_is_the_labelled_rule_based_one(insights_env: MockApi, warehouse_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    result = run_cards()
    assert result.success
    assert counts(insights_env).get("llm:requests", 0) == 0
    for row in rows(warehouse_path):
        assert (row["source"], row["model"], row["tokens_used"]) == ("fallback", None, 0)
        assert row["card_text"].splitlines()[0] == FALLBACK_LABEL
        assert row["fallback_reason"] == "OPENAI_API_KEY is not set"
    assert metadata(result)["model"] == "rule-based"


def test_no_token_name_or_title_in_any_prompt(insights_env: MockApi, warehouse_path: Path) -> None:
    assert run_cards().success
    text = json.dumps(llm_requests(insights_env)).lower()
    for secret in (*PEOPLE, *TITLES, insights_env.state.openai_key, insights_env.state.slack_token,
                   insights_env.state.github_token):
        assert secret.lower() not in text
    stored = json.dumps(rows(warehouse_path), default=str).lower()
    assert insights_env.state.openai_key not in stored and "alice" not in stored


def test_fallback_card_for_a_known_blob_by_hand(tmp_path: Path) -> None:
    """Sprint 4 of test_insights_marts (values checked there). Changes ranked by |change_pct|:
    p90 279.3, p50 150 (catalogue order before ttfr 150), ttfr 150, lead 133.3, then 100s, planned vs done 20.
    Risks: the worst anomalies that are 'worse' (p50 W13 z 7.58, p90 W13 z 7.15); advice: p50, p90, then ttfr."""
    blob = sprint4_blob(build_marts(tmp_path / "w.duckdb"))
    card = fallback_card(blob)
    assert card == {
        "insights": [
            # 11.6 -> 44: +32.4 h = +279.3%; n=4 < 5 is a low sample
            "Cycle time p90 rose from 11.6 h to 44 h (+279.3%, n=4, low sample): the slowest PRs wait longer.",
            # 10 -> 25: +150%
            "Cycle time p50 rose from 10 h to 25 h (+150%, n=4, low sample): work takes longer to merge.",
            # 2 -> 5: +150%
            "Time to first review p50 rose from 2 h to 5 h (+150%, n=4, low sample): authors wait longer for feedback.",
        ],
        "risks": [
            # W13 p50 40 vs trailing mean 12.75 (shown with one decimal: 12.8), z 7.58
            "Cycle time p50 in 2026-W13 was 40 h against a trailing mean of 12.8 h (z=7.58): work may spill past the "
            "period end.",
            # W13 p90 48 vs 13.75 -> 13.8, z 7.15
            "Cycle time p90 in 2026-W13 was 48 h against a trailing mean of 13.8 h (z=7.15): long-running PRs invite "
            "merge conflicts.",
        ],
        "recommendations": [
            "Split large pull requests so each merges within a day or two.",
            "List the slowest open pull requests at stand-up and unblock them first.",
            "Set a review rotation so every ready pull request is reviewed the same day.",
        ],
    }
    # words counted by hand, item by item: 19 + 19 + 21 | 23 + 21 | 12 + 12 + 14 = 141 <= 180
    assert [len(s.split()) for s in card["insights"] + card["risks"] + card["recommendations"]] == \
        [19, 19, 21, 23, 21, 12, 12, 14]
    assert word_count(card) == 141
    assert validate_card(card, blob) == []


def test_grounding_allows_rounding_and_percent_forms_only() -> None:
    blob = {"metrics": {"x": {"value": 0.25, "change_pct": 133.3, "n": 12}}, "period": {"id": "2026-W12"}}
    assert ungrounded_numbers("CFR was 25% (0.25), up 133%, n=12 in 2026-W12; cycle p50 and p90", blob) == []
    assert ungrounded_numbers("It rose 134% and 13 PRs merged in 2026-W13 and on 2026-03-01", blob) == \
        ["2026-W13", "2026-03-01", "134", "13"]
    bad = validate_card({"insights": ["a", "b"], "risks": ["r", "r"], "recommendations": ["x", "y", "z"]}, blob)
    assert bad == ["`insights` must have exactly 3 items (it has 2)"]


# WEB Sprint 14 of the default synthetic org (as the real marts gave it): everything improved.
IMPROVED_BLOB = json.loads(
    '{"anomalies":{"items":[],"trailing_weeks":8,"z_threshold":2.0},"comparison_periods":1,"low_sample_threshold":5,'
    '"metrics":{"carryover_pct":{"change":-25.46,"change_pct":-60.6,"previous":[42.0],"previous_sample_sizes":[13],'
    '"sample_of":"committed issues","sample_size":25,"trend":"better","value":16.54},"change_failure_rate":{"change":'
    '-0.151,"change_pct":-35.2,"previous":[0.429],"previous_sample_sizes":[7],"sample_of":"deployments","sample_size"'
    ':18,"trend":"better","value":0.278},"cycle_time_p50_hours":{"change":-3.45,"change_pct":-15.4,"previous":[22.42],'
    '"previous_sample_sizes":[11],"sample_of":"merged PRs","sample_size":32,"trend":"better","value":18.97},'
    '"cycle_time_p90_hours":{"change":-35.13,"change_pct":-34.9,"previous":[100.52],"previous_sample_sizes":[11],'
    '"sample_of":"merged PRs","sample_size":32,"trend":"better","value":65.39},"deploys_per_day":{"change":0.78,'
    '"change_pct":164.3,"previous":[0.48],"previous_sample_sizes":[7],"sample_of":"deployments","sample_size":18,'
    '"trend":"better","value":1.26},"lead_time_p50_hours":{"change":-12.41,"change_pct":-18.4,"previous":[67.47],'
    '"previous_sample_sizes":[7],"sample_of":"deployed PRs","sample_size":32,"trend":"better","value":55.06},'
    '"planned_vs_done_pct":{"change":22.56,"change_pct":38.1,"previous":[59.18],"previous_sample_sizes":[13],'
    '"sample_of":"committed issues","sample_size":25,"trend":"better","value":81.74},"scope_change_pct":{"change":'
    '-0.64,"change_pct":-6.3,"previous":[10.2],"previous_sample_sizes":[13],"sample_of":"committed issues",'
    '"sample_size":25,"trend":"better","value":9.57},"time_to_first_review_p50_hours":{"change":-0.5,"change_pct":'
    '-12.9,"previous":[3.87],"previous_sample_sizes":[10],"sample_of":"reviewed PRs","sample_size":29,"trend":'
    '"better","value":3.37}},"period":{"days":14.32,"end":"2026-03-21T21:24:55","id":"74","kind":"sprint","start":'
    '"2026-03-07T13:40:06"},"planning_basis":"story points","previous_periods":[{"end":"2026-03-07T02:23:08","id":'
    '"73","start":"2026-02-20T09:02:00"}],"schema":"sprint-health-blob-v1","team":"web"}')


def test_fallback_card_when_everything_improved_by_hand() -> None:
    """Largest |change_pct|: deployments 164.3, carryover 60.6, planned vs done 38.1. Nothing worsened, so the
    risks are levels: change failure rate 0.278 >= 0.15, and p90 65.39 >= 3 x p50 18.97 = 56.91."""
    card = fallback_card(IMPROVED_BLOB)
    assert card == {
        "insights": [
            "Deployments per day rose from 0.48/day to 1.26/day (+164.3%, n=18): changes reach users more often.",
            # 42 -> 16.54 (one decimal: 16.5), change -25.46 points (-25.5 pts)
            "Carryover fell from 42% to 16.5% (-25.5 pts, n=25): less work slipped.",
            # 59.18 -> 81.74 (59.2 -> 81.7), +22.56 points
            "Planned vs done rose from 59.2% to 81.7% (+22.6 pts, n=25): more committed work got done.",
        ],
        "risks": [
            "Change failure rate is still high at 27.8% (n=18): rework takes time from planned work.",
            "Cycle time p90 (65.4 h) is far above p50 (19 h): a few PRs wait much longer than the rest.",
        ],
        "recommendations": [
            "Hold a short review of each failed deployment and add a test for its cause.",
            "List the slowest open pull requests at stand-up and unblock them first.",
            "Keep pull requests small and reviewed within a working day.",
        ],
    }
    assert validate_card(card, IMPROVED_BLOB) == []


def test_fallback_card_for_a_first_sprint_by_hand(tmp_path: Path) -> None:
    """Sprint 1 of test_insights_marts: no merged PR, 0 deployments in 14 days, planning by issue count
    (scope 5, carryover 10, planned vs done 90: no level risk), no earlier sprint."""
    facts = _facts(build_marts(tmp_path / "w.duckdb"))
    blob = team_blobs(facts["platform"], True, org_horizon(facts, NOW))[0].blob
    assert blob["planning_basis"] == "issue counts"
    assert fallback_card(blob) == {
        "insights": ["Deployments per day was 0/day (n=0, low sample); no earlier sprint to compare.",
                     "Scope change was 5% (n=10).",
                     "Carryover was 10% (n=10)."],
        "risks": ["This is the first sprint in the data, so no trend can warn early yet.",
                  "Missing sources can hide problems; check that every repo and board is connected."],
        "recommendations": ["Keep pull requests small and reviewed within a working day.",
                            "Pick one metric from this card to improve and review it in the retro.",
                            "Check that deployment and incident data are complete so the next card is reliable."],
    }


def test_server_errors_are_retried_then_the_run_falls_back_once(insights_env: MockApi, warehouse_path: Path) -> None:
    switch(insights_env, llm_server_error=True)
    result = run_cards()
    assert result.success
    # 1 request + 3 SDK retries with backoff for the first card; the other cards skip the dead server.
    assert counts(insights_env)["llm:requests"] == 4
    written = rows(warehouse_path)
    assert {r["source"] for r in written} == {"fallback"}
    assert all(r["fallback_reason"].startswith("unavailable: the model server was unavailable") for r in written)
    # Not cached: once the server is back, the next run asks the model.
    switch(insights_env, llm_server_error=False)
    assert run_cards().success
    assert {r["source"] for r in rows(warehouse_path)} == {"model"}


def test_answers_cut_mid_body_are_retried_by_the_sdk(insights_env: MockApi, warehouse_path: Path) -> None:
    # The connection drops after the headers and half the body (a Content-Length longer than what is sent):
    # httpx raises RemoteProtocolError inside the SDK's send, which the SDK retries as a connection error.
    switch(insights_env, fault_plan=[{"kind": "cut", "path": "/v1/chat/completions"}] * 2)
    result = run_cards()
    assert result.success
    assert counts(insights_env)["fault:cut"] == 2
    assert {r["source"] for r in rows(warehouse_path)} == {"model"}
    assert counts(insights_env)["llm:requests"] == CARDS + 2  # each cut answer asked once more
