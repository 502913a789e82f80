"""The Sprint Health card cache: build every blob, reuse the cards whose blob, prompt and model are
unchanged, write the rest (model or rule-based), and keep the `sprint_health` table in step."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from emd.card_formatting import card_text
from emd.metrics.source import reading
from emd.sprint_health import SprintHealthRow, read_rows, upsert_rows
from emd.warehouse import Warehouse
from orchestration.defs.insights.blob import (
    PeriodBlob,
    add_agreements,
    add_slos,
    canonical_json,
    ingested_until,
    load_teams,
    metrics_hash,
    org_horizon,
    team_blobs,
)
from orchestration.defs.insights.card import PROMPT_VERSION, CardWriter
from orchestration.defs.insights.fallback import fallback_card

# A rule-based card written because the model could not be reached is retried on the next run.
UNAVAILABLE_PREFIX = "unavailable: "


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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
            add_slos(item.blob, source)
    return out


def write_cards(wh: Warehouse, team_names: list[str], writer: CardWriter, now: datetime) -> dict[str, Any]:
    """Build every blob, reuse cached cards, write the rest; returns figures for the UI."""
    blobs = collect_blobs(wh, team_names, now)
    existing = read_rows(wh)
    rows, cache_hits, fallbacks, reasons = [], 0, 0, set()
    for item in blobs:
        p = item.period
        digest = metrics_hash(item.blob, PROMPT_VERSION, writer.model_id)
        old = existing.get((p.team, p.kind, p.period_id))
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
        result = writer.write(item.blob)
        reason = result.fallback_reason
        if reason is not None and not result.cacheable:
            reason = UNAVAILABLE_PREFIX + reason
        if result.source == "fallback":
            fallbacks += 1
            reasons.add(reason or "")
        rows.append(SprintHealthRow(
            team=p.team, period_kind=p.kind, period_id=p.period_id, period_name=p.name, period_start=p.start,
            period_end=p.end, metrics_json=canonical_json(item.blob), metrics_hash=digest,
            prompt_version=PROMPT_VERSION, model=result.model, source=result.source,
            card_json=json.dumps(result.card, ensure_ascii=False), card_text=card_text(result.card, result.source),
            tokens_used=result.tokens_used, slack_channel=None, slack_ts=None, slack_message_json=None,
            generated_at=now, posted_at=None, fallback_reason=reason,
        ))
    # Cards of periods that no longer exist (a deleted sprint) go, unless the marts came back empty.
    keep = {(b.period.team, b.period.kind, b.period.period_id) for b in blobs}
    upsert_rows(wh, rows, keep_only=keep or None)
    generated = len(blobs) - cache_hits
    return {
        "cards_total": len(blobs),
        "cards_written": generated,
        "cache_hits": cache_hits,
        "model_calls": writer.calls,
        "llm_tokens": writer.tokens,
        "tokens_per_generated_card": round(writer.tokens / generated, 1) if generated else 0.0,
        "fallback_cards": fallbacks,
        "fallback_reasons": "; ".join(sorted(reasons)) or "none",
        "model": writer.model_id,
        "prompt_version": PROMPT_VERSION,
        "teams": len({b.period.team for b in blobs}),
    }
