"""The sprint_health asset against the mock OpenAI-compatible server over HTTP, on a hand-made DuckDB warehouse.

The warehouse (tests/fixtures/insights.py) gives 8 cards: platform's Sprints 1-4 and data's weeks 2026-W10..W13.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import materialize

from mock_apis.llm import UNGROUNDED_NUMBER
from mock_apis.server import MockApi
from orchestration.defs.insights import blob as blob_module
from orchestration.defs.insights.blob import blob_chars, canonical_json, cap_blob, org_horizon, team_blobs
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
from orchestration.defs.insights.resources import LlmResource
from orchestration.resources import ProjectConfigResource, WarehouseResource
from tests.fixtures.insights import NOW, PEOPLE, TITLES, build_marts, sprint4_blob, with_teams, write_config
from tests.fixtures.mock import counts, llm_requests, rows, switch

CARDS = 8


@pytest.fixture
def insights_env(mock_env: MockApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse_path: Path) -> MockApi:
    """The mock env (OPENAI_*, SLACK_*) over the hand-made marts and a config with teams platform and data."""
    build_marts(warehouse_path)
    monkeypatch.setenv("EMD_CONFIG", str(write_config(tmp_path / "insights-config.yaml")))
    return mock_env


def run_cards():
    return materialize([sprint_health], resources={"project_config": ProjectConfigResource(),
                                                   "warehouse": WarehouseResource(), "llm": LlmResource()},
                       raise_on_error=False)


def metadata(result) -> dict:
    mat = result.asset_materializations_for_node("sprint_health")[0]
    return {k: v.value for k, v in mat.metadata.items()}


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
            "PR cycle time p90 rose from 11.6 h to 44 h (+279.3%, n=4, low sample): the slowest PRs wait longer.",
            # 10 -> 25: +150%
            "PR cycle time p50 rose from 10 h to 25 h (+150%, n=4, low sample): work takes longer to merge.",
            # 2 -> 5: +150%
            "Time to first review p50 rose from 2 h to 5 h (+150%, n=4, low sample): authors wait longer for feedback.",
        ],
        "risks": [
            # W13 p50 40 vs trailing mean 12.75 (shown with one decimal: 12.8), z 7.58
            "PR cycle time p50 in 2026-W13 was 40 h against a trailing mean of 12.8 h (z=7.58): work may spill past the "
            "period end.",
            # W13 p90 48 vs 13.75 -> 13.8, z 7.15
            "PR cycle time p90 in 2026-W13 was 48 h against a trailing mean of 13.8 h (z=7.15): long-running PRs invite "
            "merge conflicts.",
        ],
        "recommendations": [
            "Split large pull requests so each merges within a day or two.",
            "List the slowest open pull requests at stand-up and unblock them first.",
            "Set a review rotation so every ready pull request is reviewed the same day.",
        ],
    }
    # words counted by hand, item by item: 20 + 20 + 21 | 24 + 22 | 12 + 12 + 14 = 145 <= 180
    assert [len(s.split()) for s in card["insights"] + card["risks"] + card["recommendations"]] == \
        [20, 20, 21, 24, 22, 12, 12, 14]
    assert word_count(card) == 145
    assert validate_card(card, blob) == []


def test_grounding_allows_rounding_and_percent_forms_only() -> None:
    blob = {"metrics": {"x": {"value": 0.25, "change_pct": 133.3, "n": 12}}, "period": {"id": "2026-W12"}}
    assert ungrounded_numbers("CFR was 25% (0.25), up 133%, n=12 in 2026-W12; cycle p50 and p90", blob) == []
    assert ungrounded_numbers("It rose 134% and 13 PRs merged in 2026-W13 and on 2026-03-01", blob) == \
        ["2026-W13", "2026-03-01", "134", "13"]
    bad = validate_card({"insights": ["a", "b"], "risks": ["r", "r"], "recommendations": ["x", "y", "z"]}, blob)
    assert bad == ["`insights` must have exactly 3 items (it has 2)"]


def _entry(value: float, before: float, n: int, change: float, change_pct: float, sample_of: str) -> dict:
    """One metric of a hand-made blob: its value, the previous period's, and the change between them."""
    return {"value": value, "sample_size": n, "sample_of": sample_of, "previous": [before],
            "previous_sample_sizes": [n], "change": change, "change_pct": change_pct, "trend": "better"}


# A small hand-made sprint blob in which everything improved (changes = value - previous, change_pct = change /
# previous x 100, rounded as the blob rounds them).
IMPROVED_BLOB = {
    "schema": "sprint-health-blob-v2", "team": "web", "comparison_periods": 1, "low_sample_threshold": 5,
    "period": {"kind": "sprint", "id": "74", "start": "2026-03-07T13:40:06", "end": "2026-03-21T21:24:55",
               "days": 14.32},
    "previous_periods": [{"id": "73", "start": "2026-02-20T09:02:00", "end": "2026-03-07T02:23:08"}],
    "planning_basis": "story points",
    "anomalies": {"items": [], "trailing_weeks": 8, "z_threshold": 2.0},
    "metrics": {
        # 0.48 -> 1.26: +0.78 = +162.5%
        "deployment_frequency_per_day": _entry(1.26, 0.48, 18, 0.78, 162.5, "deployments"),
        # 0.429 -> 0.278: -0.151 = -35.2%
        "change_failure_rate": _entry(0.278, 0.429, 18, -0.151, -35.2, "deployments"),
        # 22.42 -> 18.97: -3.45 = -15.4%; 100.52 -> 65.39: -35.13 = -34.9%
        "cycle_time_p50_hours": _entry(18.97, 22.42, 32, -3.45, -15.4, "merged PRs"),
        "cycle_time_p90_hours": _entry(65.39, 100.52, 32, -35.13, -34.9, "merged PRs"),
        # 42 -> 16.54: -25.46 = -60.6%; 59.18 -> 81.74: +22.56 = +38.1%
        "carryover_pct": _entry(16.54, 42.0, 25, -25.46, -60.6, "committed issues"),
        "planned_vs_done_pct": _entry(81.74, 59.18, 25, 22.56, 38.1, "committed issues"),
    },
}


def test_fallback_card_when_everything_improved_by_hand() -> None:
    """Largest |change_pct|: deployments 162.5, carryover 60.6, planned vs done 38.1. Nothing worsened, so the
    risks are levels: change failure rate 0.278 >= 0.15, and p90 65.39 >= 3 x p50 18.97 = 56.91."""
    card = fallback_card(IMPROVED_BLOB)
    assert card == {
        "insights": [
            "Deployment frequency rose from 0.48/day to 1.26/day (+162.5%, n=18): changes reach users more often.",
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
    blob = with_teams(build_marts(tmp_path / "w.duckdb"),
                      lambda teams, _: team_blobs(teams["platform"], True, org_horizon(teams, NOW))[0].blob)
    assert blob["planning_basis"] == "issue counts"
    assert fallback_card(blob) == {
        "insights": ["Deployment frequency was 0/day (n=0, low sample); no earlier sprint to compare.",
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


def _anomaly(week: str, metric: str, z: float) -> dict:
    return {"metric": metric, "week": week, "value": 1.0, "sample_size": 5, "trailing_mean": 0.5,
            "trailing_stdev": 0.25, "trailing_weeks_used": 8, "z_score": z, "trend": "worse"}


def test_the_blob_is_capped_by_dropping_the_oldest_anomalies_first() -> None:
    w08, w09a, w09b, w10 = (_anomaly("2026-W08", "review_depth", 2.5), _anomaly("2026-W09", "cycle_time", 3.0),
                            _anomaly("2026-W09", "lead_time", 2.1), _anomaly("2026-W10", "cycle_time", 2.2))
    blob = {"schema": "sprint-health-blob-v2", "team": "platform", "metrics": {"cycle_time": {"value": 30.0}},
            "anomalies": {"trailing_weeks": 8, "z_threshold": 2.0, "items": [w09a, w10, w08, w09b]}}
    assert cap_blob(blob, blob_chars(blob)) is blob  # fits: unchanged, no `trimmed`, the cached card stays
    # Two must go: W08's, then W09's smaller |z| (lead_time 2.1); W09 cycle_time and W10 stay, in their order.
    expected = {**blob, "anomalies": {**blob["anomalies"], "items": [w09a, w10]},
                "trimmed": {"anomalies_dropped": 2, "max_chars": 100}}
    limit = blob_chars(expected)
    assert 100 <= limit <= 999  # same width as the placeholder, so `expected` with the real limit is as long
    expected["trimmed"]["max_chars"] = limit
    capped = cap_blob(blob, limit)
    assert capped == expected and blob_chars(capped) <= limit
    assert json.loads(canonical_json(capped)) == expected  # whole JSON, never cut
    assert blob["anomalies"]["items"] == [w09a, w10, w08, w09b]  # the input is left as it was
    one_less = cap_blob(blob, limit - 1)
    assert one_less["anomalies"]["items"] == [w10] and one_less["trimmed"]["anomalies_dropped"] == 3


def test_a_blob_over_the_cap_after_trimming_is_never_sent(insights_env: MockApi, warehouse_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blob_module, "MAX_BLOB_CHARS", 200)  # smaller than any blob of the fixture
    result = run_cards()
    assert result.success
    assert counts(insights_env).get("llm:requests", 0) == 0
    written = rows(warehouse_path)
    assert len(written) == CARDS
    for row in written:
        assert row["source"] == "fallback" and "over the model input's cap of 200" in row["fallback_reason"]
        stored = json.loads(row["metrics_json"])  # the blob as trimmed: whole JSON, with what was dropped
        assert stored["trimmed"]["max_chars"] == 200 and stored["anomalies"]["items"] == []
