"""AI-assisted work in the Sprint Health blob and card: the blob carries the share and the comparison with both
sample sizes (from the metrics layer over tests/fixtures/marts.py), never a Copilot figure; a card may speak
of a difference between AI-assisted and other PRs only when the blob marks one comparable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emd.metrics.source import Source, open_source
from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.warehouse import Warehouse
from orchestration.defs.insights.blob import add_ai
from orchestration.defs.insights.card import validate_card
from tests.fixtures.marts import PUBLISHED_AT, build_duckdb_warehouse


@pytest.fixture
def duck(tmp_path: Path) -> Source:
    live = tmp_path / "warehouse.duckdb"
    build_duckdb_warehouse(live)
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")), now=PUBLISHED_AT)
    opened = open_source(parse_database_url(f"duckdb:///{live}"))
    assert isinstance(opened, Source)
    return opened


def sprint_blob(team: str = "platform") -> dict:
    return {"team": team, "period": {"start": "2026-03-02T09:00:00", "end": "2026-03-13T17:00:00"},
            "metrics": {}, "previous_periods": [], "low_sample_threshold": 5}


def test_the_blob_carries_the_share_and_both_sample_sizes(duck: Source) -> None:
    blob = sprint_blob()
    add_ai(blob, duck)
    # platform merged 101, 102 (AI, trailer), 103 between 03-02 and 03-13: 1 of 3.
    assert (blob["ai"]["ai_assisted_pr_share"], blob["ai"]["ai_assisted_prs"], blob["ai"]["merged_prs"]) == (
        0.333, 1, 3)
    cycle = blob["ai"]["comparison"]["cycle_time_p50_hours"]
    # AI: 102 -> 20 h; other: 101 10 h, 103 30 h -> p50 20 h.
    assert cycle == {"unit": "h", "ai": 20.0, "ai_sample_size": 1, "other": 20.0, "other_sample_size": 2,
                     "comparable": False, "difference": None, "interval_90": None}
    assert "daily_active_users" not in json.dumps(blob) and "user_login" not in json.dumps(blob)
    # data had no AI-assisted PR in the sprint: the blob stays as it was (its cached card too).
    data = sprint_blob("data")
    add_ai(data, duck)
    assert "ai" not in data


def test_a_card_may_not_speak_of_a_difference_from_small_samples(duck: Source) -> None:
    blob = sprint_blob()
    add_ai(blob, duck)
    card = {"insights": ["AI-assisted PRs merged faster than the others.", "Cycle time p50 was 20 h.",
                         "One of 3 merged PRs was AI-assisted."],
            "risks": ["Reviews wait.", "Scope moves."],
            "recommendations": ["Review daily.", "Keep scope.", "Pair on large PRs."]}
    problems = validate_card(card, blob)
    assert any("AI-assisted PRs merged faster than the others." in p and "comparable" in p for p in problems)
    card["insights"][0] = "AI-assisted work was 33.3% of merged PRs."
    assert not any("comparable" in p for p in validate_card(card, blob))
    # Once a comparison is comparable, the sentence is allowed (its numbers still must be the blob's).
    blob["ai"]["comparison"]["cycle_time_p50_hours"]["comparable"] = True
    card["insights"][0] = "AI-assisted PRs merged faster than the others."
    assert not any("comparable" in p for p in validate_card(card, blob))
