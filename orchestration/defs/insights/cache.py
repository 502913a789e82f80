"""The Sprint Health card cache: build every blob, reuse the cards whose blob, prompt and model are
unchanged, have the rest written (model or rule-based: `CardWriter.card_row` in card.py), and keep the
`sprint_health` table in step."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from emd.card_formatting import card_text
from emd.metrics.source import reading
from emd.sprint_health import SprintHealthRow, adopt_legacy, read_rows, upsert_rows
from emd.warehouse import Warehouse
from orchestration.defs.insights.blob import (
    PeriodBlob,
    add_agreements,
    add_ai,
    add_slos,
    cap_blob,
    ingested_until,
    load_teams,
    metrics_hash,
    org_horizon,
    team_blobs,
)
from orchestration.defs.insights.card import PROMPT_VERSION, UNAVAILABLE_PREFIX, CardWriter
from orchestration.defs.insights.fallback import fallback_card


def _reusable(old: SprintHealthRow | None, digest: str) -> bool:
    if old is None or old.metrics_hash != digest or old.prompt_version != PROMPT_VERSION:
        return False
    return not (old.source == "fallback" and (old.fallback_reason or "").startswith(UNAVAILABLE_PREFIX))


def collect_blobs(wh: Warehouse, team_names: list[str], now: datetime) -> list[PeriodBlob]:
    """Every team's blobs: sprint teams (any row in mv_planning_by_sprint) per closed sprint, others per week.
    Read from the live warehouse (the build is published after the cards are written) through the
    metrics layer, over one read-only connection closed before the cards are written."""
    with reading(wh.target) as source:
        teams = load_teams(source, team_names)
        horizon = org_horizon(teams, now, ingested_until(source))
        out: list[PeriodBlob] = []
        for team in teams.values():
            out += team_blobs(team, runs_sprints=bool(team.sprints), horizon=horizon)
        for item in out:
            add_agreements(item.blob, source)
            add_ai(item.blob, source)
            add_slos(item.blob, source)
    return [PeriodBlob(item.period, cap_blob(item.blob)) for item in out]


def write_cards(wh: Warehouse, team_names: list[str], writer: CardWriter, now: datetime,
                rewrite_posted: bool = False) -> dict[str, Any]:
    """Build every blob, reuse cached cards, write the rest; returns figures for the UI. A card already posted
    to Slack stays as posted when its blob changed (history recomputed, a config change, a new prompt): no model
    call, no edited message. `rewrite_posted` (`emd cards --rewrite`) writes those again too."""
    blobs = collect_blobs(wh, team_names, now)
    adopt_legacy(wh)  # a warehouse from before the record store: its cards (and their Slack ts) move there once
    existing = read_rows(wh)
    rows, cache_hits, kept_posted, fallbacks, reasons = [], 0, 0, 0, set()
    for item in blobs:
        p = item.period
        digest = metrics_hash(item.blob, PROMPT_VERSION, writer.model_id)
        old = existing.get((p.team, p.kind, p.period_id))
        if old is not None and old.slack_ts and not rewrite_posted and not _reusable(old, digest):
            kept_posted += 1
            continue
        if _reusable(old, digest):
            cache_hits += 1
            assert old is not None
            changed = old.period_name != p.name
            old.period_name = p.name
            if old.source == "fallback":
                # No model call either way; the rules may have improved since, and they cost nothing to re-run.
                card = fallback_card(item.blob)
                if json.dumps(card, ensure_ascii=False) != old.card_json:
                    old.card_json, old.card_text = json.dumps(card, ensure_ascii=False), card_text(card, "fallback")
                    changed = True
            if changed:
                rows.append(old)
            continue
        row = writer.card_row(item.blob, p, digest, now)
        if row.source == "fallback":
            fallbacks += 1
            reasons.add(row.fallback_reason or "")
        rows.append(row)
    # Cards of periods that no longer exist (a deleted sprint) go, unless the marts came back empty.
    keep = {(b.period.team, b.period.kind, b.period.period_id) for b in blobs}
    upsert_rows(wh, rows, keep_only=keep or None)
    generated = len(blobs) - cache_hits - kept_posted
    return {
        "cards_total": len(blobs),
        "cards_written": generated,
        "cache_hits": cache_hits,
        "posted_kept": kept_posted,
        "model_calls": writer.calls,
        "llm_tokens": writer.tokens,
        "tokens_per_generated_card": round(writer.tokens / generated, 1) if generated else 0.0,
        "fallback_cards": fallbacks,
        "fallback_reasons": "; ".join(sorted(reasons)) or "none",
        "model": writer.model_id,
        "prompt_version": PROMPT_VERSION,
        "teams": len({b.period.team for b in blobs}),
    }
