"""The Sprint Health cards of a published build (the `sprint_health` table, emd/sprint_health.py's shape).

A card is read as stored: the card the model (or the rule-based fallback) wrote, and the metrics blob it
was written from. `sprint` picks a period by its id (a Jira sprint id, or an ISO week such as 2026-W12 for
a team without sprints) or by its name; without it, the team's most recent period (as the Slack post
picks it: latest `period_end`, then the highest id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emd.metrics.source import Source, rows

TABLE = "sprint_health"


@dataclass(frozen=True)
class Card:
    team: str
    period_kind: str
    period_id: str
    period_name: str
    period_start: datetime
    period_end: datetime
    source: str  # model | fallback
    model: str | None
    generated_at: datetime
    card: dict[str, list[str]]
    card_text: str
    metrics: dict[str, Any]
    slack_channel: str | None
    slack_ts: str | None
    posted_at: datetime | None


def _loads(text: Any) -> Any:
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {}


def team_cards(source: Source, team: str) -> list[Card]:
    """Every card of one team, most recent period first."""
    if not source.has(TABLE):
        return []
    found = rows(source, """
        select team, period_kind, period_id, period_name, period_start, period_end, source, model,
               generated_at, card_json, card_text, metrics_json, slack_channel, slack_ts, posted_at
        from sprint_health where team = ?
        order by period_end desc, period_id desc""", [team])
    out = []
    for row in found:
        body = _loads(row["card_json"])
        out.append(Card(
            team=row["team"], period_kind=row["period_kind"], period_id=str(row["period_id"]),
            period_name=row["period_name"], period_start=row["period_start"], period_end=row["period_end"],
            source=row["source"], model=row["model"], generated_at=row["generated_at"],
            card={k: [str(item) for item in body.get(k) or []] for k in ("insights", "risks", "recommendations")},
            card_text=row["card_text"] or "", metrics=_loads(row["metrics_json"]),
            slack_channel=row["slack_channel"], slack_ts=row["slack_ts"], posted_at=row["posted_at"]))
    return out


def find_card(source: Source, team: str, sprint: str | None = None) -> Card | None:
    """The team's card of `sprint` (id first, then name), or its latest card; None when there is none."""
    cards = team_cards(source, team)
    if sprint is None:
        return cards[0] if cards else None
    for match in (lambda c: c.period_id == sprint, lambda c: c.period_name == sprint):
        chosen = [c for c in cards if match(c)]
        if chosen:
            return chosen[0]
    return None
