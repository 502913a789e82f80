"""Slack alerts on error budgets (docs/metrics.md "SLOs and error budgets"), numbers from emd/metrics/slos.py.

- A budget that falls to 50 %, 25 % or 0 % remaining is announced once per window: the first crossing opens a
  message (`slo_budget:<slo>:<day>`), and later crossings within window_days of it (25 % after 50 %, then 0 %) and
  re-runs edit that message with chat.update instead of posting again. After window_days a crossing opens a new one.
- A day whose burn rate reaches 6 (the SRE workbook's six-hour paging level, held for a day) gets one message per
  SLO and day (`slo_burn:<slo>:<day>`), edited when a later refresh of that day changes its numbers.
The messages are kept in the `agreement_nudges` table beside the agreement nudges (orchestration/defs/alerts/store.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from emd.metrics import slos as layer
from emd.metrics.filters import Filters
from emd.metrics.source import reading
from emd.slack import SlackPoster
from emd.text import slack_escape
from emd.warehouse import Warehouse
from orchestration.defs.alerts.nudges import page_link
from orchestration.defs.alerts.store import NudgeRow, read_nudges

BUDGET_KIND, BURN_KIND = "slo_budget", "slo_burn"


@dataclass(frozen=True)
class SloState:
    name: str
    service: str
    team: str
    window_days: int
    day: date
    remaining_pct: float | None
    burn_rate: float | None


def slo_states(wh: Warehouse, as_of: date | None = None, days: int = 2) -> list[SloState]:
    """Every SLO on each of the `days` days up to `as_of` (default: the newest day with data; the hourly refresh
    re-ingests yesterday and today)."""
    with reading(wh.target) as source:
        last = as_of or layer.last_day(source)
        if last is None:
            return []
        out = []
        for offset in range(days - 1, -1, -1):
            day = last - timedelta(days=offset)
            out += [SloState(r.name, r.service, r.team, r.window_days, day, r.error_budget_remaining_pct, r.burn_rate)
                    for r in layer.reports(source, Filters(start=day, end=day))]
    return out


def _link(dashboard_url: str, state: SloState) -> str:
    url = page_link(dashboard_url, "slos", {"team": state.team, "end": state.day.isoformat()})
    return f"<{slack_escape(url).replace('|', '%7C')}|the budget burn-down>"


def budget_message(state: SloState, level: float, dashboard_url: str) -> dict[str, Any]:
    remaining = state.remaining_pct if state.remaining_pct is not None else 0.0
    title = (f"SLO {state.name} ({state.team}): error budget exhausted" if level <= 0 else
             f"SLO {state.name} ({state.team}): error budget below {level:g}%")
    text = (f"*{slack_escape(state.name)}* ({slack_escape(state.service)}, team {slack_escape(state.team)}) has "
            f"*{remaining:.1f}%* of its {state.window_days}-day error budget left on {state.day.isoformat()}; it "
            f"crossed {level:g}% remaining. See {_link(dashboard_url, state)}.")
    return {"text": slack_escape(title)[:300],
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
                       {"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def burn_message(state: SloState, dashboard_url: str) -> dict[str, Any]:
    title = f"SLO {state.name} ({state.team}): burn rate {state.burn_rate:.1f} on {state.day.isoformat()}"
    text = (f"*{slack_escape(state.name)}* burned its error budget *{state.burn_rate:.1f}x* as fast as the "
            f"{state.window_days}-day window allows on {state.day.isoformat()} (alert level: "
            f"{layer.PAGE_BURN_RATE:g}). See {_link(dashboard_url, state)}.")
    return {"text": slack_escape(title)[:300],
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
                       {"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def _row(key: str, team: str, kind: str, period: str) -> NudgeRow:
    return NudgeRow(message_key=key, team=team, kind=kind, period=period, breach_ids_json="[]", slack_channel=None,
                    slack_ts=None, slack_message_json=None, posted_at=None)


def post_slo_alerts(wh: Warehouse, dashboard_url: str, poster: SlackPoster, now: datetime,
                    publish: Any, as_of: date | None = None) -> dict[str, Any]:
    """`publish(wh, poster, row, message, now)` posts or edits one stored message (definitions._publish)."""
    states = slo_states(wh, as_of)
    stored = read_nudges(wh)
    actions = {"posted": 0, "updated": 0, "unchanged": 0}
    latest = max((s.day for s in states), default=None)
    for state in states:
        # the budget as of the newest day only (an older day's numbers would edit the message back and forth)
        level = layer.crossed_level(state.remaining_pct) if state.day == latest else None
        if level is not None:
            episodes = sorted((r for r in stored.values() if r.kind == BUDGET_KIND
                               and r.message_key.startswith(f"{BUDGET_KIND}:{state.name}:")), key=lambda r: r.period)
            open_episode = next((r for r in reversed(episodes) if date.fromisoformat(r.period) <= state.day
                                 and (state.day - date.fromisoformat(r.period)).days < state.window_days), None)
            row = open_episode or _row(f"{BUDGET_KIND}:{state.name}:{state.day.isoformat()}", state.team,
                                       BUDGET_KIND, state.day.isoformat())
            announced = [float(x) for x in json.loads(row.breach_ids_json)]
            lowest = min([level, *announced])  # a budget that recovers a little does not "un-cross" a level
            row.breach_ids_json = json.dumps(sorted({lowest, *announced}, reverse=True))
            actions[publish(wh, poster, row, budget_message(state, lowest, dashboard_url), now)] += 1
            stored[row.message_key] = row
        if state.burn_rate is not None and state.burn_rate >= layer.PAGE_BURN_RATE:
            key = f"{BURN_KIND}:{state.name}:{state.day.isoformat()}"
            row = stored.get(key) or _row(key, state.team, BURN_KIND, state.day.isoformat())
            actions[publish(wh, poster, row, burn_message(state, dashboard_url), now)] += 1
            stored[key] = row
    return {**actions, "slos": len({s.name for s in states})}
