"""The Slack post of a Sprint Health card: the Block Kit message and posting it once per team and period.

Only each team's most recent completed period is posted (a backfill writes every card but never floods
the channel). The first post stores the message's `ts`; every later run edits that message with
`chat.update`, so a period never gets a second message.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from emd import settings
from orchestration.defs.insights.blob import LOW_SAMPLE, METRIC_BY_KEY, METRICS
from orchestration.defs.insights.card import FALLBACK_LABEL, SECTION_TITLES, format_change, format_value
from orchestration.defs.insights.store import SprintHealthRow

_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
_GONE = {"message_not_found", "cant_update_message", "edit_window_closed"}


class SlackPostError(RuntimeError):
    """A Slack failure whose message says what to fix."""


@dataclass(frozen=True)
class SlackTarget:
    token: str
    channel: str
    base_url: str


def slack_target() -> SlackTarget | None:
    """None unless both SLACK_BOT_TOKEN and SLACK_CHANNEL_ID are set (Slack is optional)."""
    token, channel = settings.env("SLACK_BOT_TOKEN"), settings.env("SLACK_CHANNEL_ID")
    if not token or not channel:
        return None
    return SlackTarget(token, channel, settings.slack_api_url())


def latest_per_team(rows: list[SprintHealthRow], kinds: tuple[str, ...]) -> list[SprintHealthRow]:
    """Each team's most recent completed period of the given kinds (the only card that is posted)."""
    latest: dict[str, SprintHealthRow] = {}
    for row in rows:
        if row.period_kind not in kinds:
            continue
        best = latest.get(row.team)
        if best is None or (row.period_end, row.period_id) > (best.period_end, best.period_id):
            latest[row.team] = row
    return [latest[t] for t in sorted(latest)]


def dashboard_link(base_url: str, row: SprintHealthRow) -> str:
    """The dashboard filtered to the team and the period's days, in the dashboard's own query parameters
    (app/view.py: `team`, `start`, `end`, inclusive UTC days)."""
    last_day = (row.period_end - timedelta(microseconds=1)).date()
    parts = urlsplit(base_url)
    params = urlencode({"team": row.team, "start": row.period_start.date().isoformat(), "end": last_day.isoformat()})
    query = f"{parts.query}&{params}" if parts.query else params
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


def _metric_field(key: str, entry: dict[str, Any], kind: str) -> str:
    spec = METRIC_BY_KEY[key]
    text = f"*{spec.label}*\n{format_value(spec, entry['value'])}"
    if entry["trend"] in ("better", "worse"):
        arrow = "\u2191" if entry["change"] > 0 else "\u2193"  # up / down
        mark = ":large_green_circle:" if entry["trend"] == "better" else ":red_circle:"
        text += f"  {arrow} {format_change(spec, entry)} {mark} {entry['trend']}"
    elif entry["trend"] == "unchanged":
        text += "  \u2192 unchanged"
    else:
        text += f"  (no earlier {kind})"
    n = entry["sample_size"]
    text += f"\n_n={n}{' (low sample)' if n < LOW_SAMPLE else ''}_"
    return text


def build_message(row: SprintHealthRow, dashboard_url: str) -> dict[str, Any]:
    """{"text": notification text, "blocks": Block Kit blocks} for one card."""
    blob = json.loads(row.metrics_json)
    card = json.loads(row.card_json)
    kind = row.period_kind
    fields = [
        {"type": "mrkdwn", "text": _metric_field(spec.key, blob["metrics"][spec.key], kind)}
        for spec in METRICS
        if spec.key in blob["metrics"] and blob["metrics"][spec.key]["value"] is not None
    ][:10]  # Slack allows at most 10 fields per section
    title = f"Sprint Health: {row.team} \u00b7 {row.period_name}"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    else:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"_No metric has data this {kind}._"}})
    blocks.append({"type": "divider"})
    for name, heading in SECTION_TITLES.items():
        bullets = "\n".join(f"\u2022 {item}" for item in card[name])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{heading}*\n{bullets}"[:3000]}})
    source = FALLBACK_LABEL if row.source == "fallback" else f"Written by {row.model} from aggregate metrics only"
    period = f"{kind.capitalize()} {row.period_start:%Y-%m-%d} \u2192 {row.period_end:%Y-%m-%d}"
    link = dashboard_link(dashboard_url, row)
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"{period} \u00b7 <{link}|Open in the dashboard> \u00b7 {source}"}]})
    return {"text": f"{title}: {card['insights'][0]}"[:300], "blocks": blocks}


def explain_slack_error(error: str, method: str, channel: str) -> str:
    if error in _AUTH_ERRORS:
        return (f"Slack rejected the bot token ({error}) on {method}: check SLACK_BOT_TOKEN "
                "(the xoxb- bot token from your Slack app's OAuth & Permissions page).")
    if error == "channel_not_found":
        return (f"Slack found no channel {channel} (channel_not_found) on {method}: check SLACK_CHANNEL_ID "
                "(the channel's ID such as C0123456789, not its name); for a private channel, invite the bot first.")
    if error == "not_in_channel":
        return (f"the bot is not a member of channel {channel} (not_in_channel) on {method}: invite the bot "
                "(/invite @your-bot in the channel) or check SLACK_CHANNEL_ID.")
    if error == "missing_scope":
        return f"the bot token lacks a scope (missing_scope) on {method}: add chat:write to the Slack app and reinstall it."
    return f"Slack {method} failed ({error}); check SLACK_BOT_TOKEN, SLACK_CHANNEL_ID and SLACK_API_URL."


_IDEMPOTENT = ("auth.test", "chat.update")


def _server_error_retry_class() -> type:
    from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

    class ServerErrorRetry(ServerErrorRetryHandler):
        """slack_sdk's handler retries 500 and 503 only; a gateway's 502/504 is as transient."""

        def _can_retry(self, *, state, request, response=None, error=None) -> bool:
            # A cut-off body (a JSON document that stops short, or a connection dropped before the
            # Content-Length was read: http.client's IncompleteRead): the request reached Slack, so it is
            # repeated only when repeating it is harmless.
            if isinstance(error, ValueError | http.client.HTTPException):
                return request.url.rstrip("/").endswith(_IDEMPOTENT)
            return response is not None and response.status_code in (500, 502, 503, 504)

    return ServerErrorRetry


class SlackPoster:
    """slack_sdk's WebClient with its rate-limit retry handler; SLACK_API_URL overrides the base URL."""

    def __init__(self, target: SlackTarget):
        from slack_sdk import WebClient
        from slack_sdk.http_retry.builtin_handlers import (
            ConnectionErrorRetryHandler,
            RateLimitErrorRetryHandler,
        )

        self.target = target
        self.client = WebClient(token=target.token, base_url=target.base_url, timeout=30)
        self.client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
        # A 5xx (Slack or a proxy having a bad moment) is retried instead of failing the run.
        self.client.retry_handlers.append(_server_error_retry_class()(max_retry_count=3))
        self.client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=3))  # the SDK's own tries once
        self.calls = 0

    def _call(self, method: str, **kwargs: Any) -> Any:
        from slack_sdk.errors import SlackApiError

        self.calls += 1
        try:
            return self.client.api_call(method, json=kwargs) if kwargs else self.client.api_call(method)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            if error in _GONE:
                raise
            if exc.response.status_code >= 500 or exc.response.status_code == 429:
                raise SlackPostError(f"Slack kept answering {exc.response.status_code} to {method} after retries: "
                                     "Slack is having trouble; run the post again later") from None
            raise SlackPostError(explain_slack_error(error, method, self.target.channel)) from None
        except OSError as exc:  # connection refused, DNS, TLS
            raise SlackPostError(f"cannot reach Slack at {self.target.base_url} ({type(exc).__name__}): "
                                 "check SLACK_API_URL and the network") from None
        except (ValueError, http.client.HTTPException):  # a cut-off body; chat.postMessage is not repeated, as it
            # may have been posted
            note = f": the message may be in channel {self.target.channel} already" if method == "chat.postMessage" else ""
            raise SlackPostError(f"Slack's answer to {method} was cut off{note}; run the post again") from None

    def check_auth(self) -> None:
        self._call("auth.test")

    def publish(self, message: dict[str, Any], channel: str | None, ts: str | None) -> tuple[str, str, str]:
        """Update the stored message when there is one, else post; returns (channel, ts, 'posted'|'updated')."""
        from slack_sdk.errors import SlackApiError

        if ts and channel == self.target.channel:
            try:
                response = self._call("chat.update", channel=channel, ts=ts, **message)
                return str(response["channel"]), str(response["ts"]), "updated"
            except SlackApiError:
                pass  # the stored message was deleted: post it again
        response = self._call("chat.postMessage", channel=self.target.channel, unfurl_links=False, **message)
        return str(response["channel"]), str(response["ts"]), "posted"
