"""Working-agreement nudges: which breaches to post, and the Slack messages (Block Kit) that list them.

- After each refresh, one message per team lists its new breaches: breaches of agreed (not proposed) rules,
  open at the refresh or closed within the last day, that no stored message lists yet (so a breach is posted at
  most once, and the first refresh after a long backfill does not post the whole history).
- Each team's daily digest, at its start of day (working_hours: first working hour on a working day, in its
  time zone; otherwise 09:00 UTC on weekdays), lists the breaches open then.
- Every outside text (PR titles, issue summaries, sprint and team names, logins, URLs) is escaped with
  `slack_escape`. A person's name (the PR author's login) appears only when the team sets `mention_authors`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from emd.config import WorkingAgreement
from emd.metrics.agreements import rule_label
from emd.text import slack_escape

RECENT = timedelta(days=1)       # a breach that closed longer ago than this before the refresh is not news
MAX_LINES = 30                   # per message; the rest is counted and left to the dashboard
DEFAULT_DIGEST_MINUTE = 9 * 60   # 09:00 in the team's zone (UTC without working_hours)
DEFAULT_DIGEST_DAYS = (1, 2, 3, 4, 5)

BREACH_COLUMNS = ("breach_id", "team", "rule", "subject_type", "subject_key", "threshold", "opened_at", "closed_at",
                  "subject_title", "subject_url", "author")


class BreachesMissingError(RuntimeError):
    """fct_agreement_breaches is not in the warehouse; the message says how to build it."""


@dataclass(frozen=True)
class Breach:
    breach_id: str
    team: str
    rule: str
    subject_type: str
    subject_key: str
    threshold: float
    opened_at: datetime
    closed_at: datetime | None
    subject_title: str | None
    subject_url: str | None
    author: str | None


def load_breaches(wh: Any) -> list[Breach]:
    """Breaches of agreed rules (proposed ones are history only, never nudged)."""
    sql = (f"select {', '.join(BREACH_COLUMNS)} from fct_agreement_breaches "  # noqa: S608 - constants
           "where not is_proposed order by opened_at, breach_id")
    try:
        rows = wh.query(sql, read_only=wh.kind == "duckdb")
    except Exception as exc:
        if "fct_agreement_breaches" in str(exc) or "does not exist" in str(exc):
            raise BreachesMissingError(
                f"fct_agreement_breaches is not in the warehouse {wh.describe()}: run marts_job (dbt build) first"
            ) from None
        raise
    return [Breach(*row) for row in rows]


def is_news(breach: Breach, now: datetime) -> bool:
    return breach.closed_at is None or breach.closed_at >= now - RECENT


def new_breaches(breaches: Sequence[Breach], posted_ids: set[str], agreements: Sequence[WorkingAgreement],
                 now: datetime) -> dict[str, list[Breach]]:
    """team -> breaches to post now, for the teams whose agreement has the breached rule."""
    agreed = {(a.team, rule) for a in agreements for rule in a.rules}
    out: dict[str, list[Breach]] = {}
    for b in breaches:
        if (b.team, b.rule) in agreed and b.breach_id not in posted_ids and is_news(b, now):
            out.setdefault(b.team, []).append(b)
    return out


def breaches_key(team: str, breaches: Sequence[Breach]) -> str:
    digest = hashlib.sha256("\n".join(sorted(b.breach_id for b in breaches)).encode()).hexdigest()[:16]
    return f"breaches:{team}:{digest}"


# ------------------------------------------------------------------------------------------------- links

def page_link(dashboard_url: str, page: str, params: dict[str, str]) -> str:
    parts = urlsplit(dashboard_url)
    query = urlencode(params)
    path = (parts.path.rstrip("/") + "/" + page) if page else (parts.path or "/")
    return urlunsplit((parts.scheme, parts.netloc, path, f"{parts.query}&{query}" if parts.query else query, ""))


def subject_link(b: Breach, dashboard_url: str, jira_base_url: str | None) -> str:
    """The mrkdwn link to what breached: the PR on GitHub, the issue in Jira, the sprint or team on the dashboard."""
    if b.subject_type == "pr" and b.subject_url:
        url, text = b.subject_url, b.subject_key
    elif b.subject_type == "issue" and jira_base_url:
        url, text = f"{jira_base_url.rstrip('/')}/browse/{b.subject_key}", b.subject_key
    elif b.subject_type == "sprint":
        url, text = page_link(dashboard_url, "agreements", {"team": b.team}), b.subject_title or f"sprint {b.subject_key}"
    elif b.subject_type == "team":
        url, text = page_link(dashboard_url, "agreements", {"team": b.team}), f"{b.team} WIP"
    else:
        return slack_escape(b.subject_key)
    # Slack: escape &, < and > in the URL too; a | would end the URL, so it is percent-encoded.
    return f"<{slack_escape(url).replace('|', '%7C')}|{slack_escape(text)}>"


def _utc(t: datetime) -> str:
    return f"{t:%a %Y-%m-%d %H:%M} UTC"


def breach_line(b: Breach, agreement: WorkingAgreement, dashboard_url: str, jira_base_url: str | None,
                now: datetime) -> str:
    label = rule_label(b.rule, b.threshold, agreement.working_hours is not None)
    what = subject_link(b, dashboard_url, jira_base_url)
    if b.subject_title and b.subject_type in ("pr", "issue"):
        what += f" {slack_escape(b.subject_title)[:150]}"
    if agreement.mention_authors and b.author:
        what += f" (by {slack_escape(b.author)})"
    state = f"since {_utc(b.opened_at)}" if b.closed_at is None or b.closed_at > now else (
        f"resolved {_utc(b.closed_at)} :white_check_mark:")
    return f"\u2022 {what} \u2014 _{slack_escape(label)}_ broken {state}"


def _sections(lines: list[str], dashboard_link: str) -> list[dict[str, Any]]:
    shown, rest = lines[:MAX_LINES], len(lines) - MAX_LINES
    if rest > 0:
        shown.append(f"\u2026 and {rest} more: <{slack_escape(dashboard_link)}|see the dashboard>")
    blocks: list[dict[str, Any]] = []
    chunk = ""
    for line in shown:
        if len(chunk) + len(line) + 1 > 2900:  # Slack: at most 3000 characters per section
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    return blocks


def breaches_message(team: str, breaches: Sequence[Breach], agreement: WorkingAgreement, dashboard_url: str,
                     jira_base_url: str | None, now: datetime) -> dict[str, Any]:
    """{"text", "blocks"}: the new breaches of one team's agreement found by one refresh."""
    n = len(breaches)
    title = f"Working agreements \u00b7 {team}: {n} new breach{'es' if n != 1 else ''}"
    link = page_link(dashboard_url, "agreements", {"team": team})
    lines = [breach_line(b, agreement, dashboard_url, jira_base_url, now) for b in breaches]
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}, *_sections(lines, link),
              {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{slack_escape(link)}|How often "
                                                                          "the agreements held>"}]}]
    return {"text": slack_escape(title)[:300], "blocks": blocks}


# ------------------------------------------------------------------------------------------------ digest

def digest_due(agreement: WorkingAgreement, now: datetime) -> str | None:
    """The team's local date when its start of day has passed on a working day (else None)."""
    hours = agreement.working_hours
    zone = ZoneInfo(hours.timezone if hours else "UTC")
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    days = hours.days if hours else DEFAULT_DIGEST_DAYS
    start = hours.start_minute if hours else DEFAULT_DIGEST_MINUTE
    if local.isoweekday() not in days or local.hour * 60 + local.minute < start:
        return None
    return local.date().isoformat()


def digest_message(team: str, open_breaches: Sequence[Breach], agreement: WorkingAgreement, local_date: str,
                   dashboard_url: str, jira_base_url: str | None, now: datetime) -> dict[str, Any]:
    n = len(open_breaches)
    title = f"Working agreements \u00b7 {team} \u00b7 {local_date}: {n} open breach{'es' if n != 1 else ''}"
    link = page_link(dashboard_url, "agreements", {"team": team})
    lines = [breach_line(b, agreement, dashboard_url, jira_base_url, now) for b in open_breaches]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
    blocks += _sections(lines, link) if lines else [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Every agreement holds right now."}}]
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"Daily digest \u00b7 <{slack_escape(link)}|How often the agreements held>"}]})
    return {"text": slack_escape(title)[:300], "blocks": blocks}
