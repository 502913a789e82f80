"""The Slack post of a Sprint Health card: the Block Kit message and posting it once per team and period.

Used by the scheduled post (orchestration's `sprint_health_slack_post`, which posts only each team's most
recent completed period, so a backfill never floods the channel) and by the API's `POST /slack/summaries`,
through the same `post_card`. The first post records the message's channel and `ts` in `sprint_health` (in the
record store, emd/records.py: never the live DuckDB file, so the API posts while a run holds it);
every later post of that card edits the message with `chat.update`, so a period never gets a second one.
Metric labels, units and formatting come from the catalogue (emd/metrics/catalogue.py); the card's text
(model output) is escaped for Slack (emd/text.py).
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from emd import settings, tenants
from emd.card_formatting import FALLBACK_LABEL, SECTION_TITLES, format_change, value_text
from emd.metrics.catalogue import CARD_METRICS, CATALOGUE, LOW_SAMPLE
from emd.sprint_health import SprintHealthRow, record_post
from emd.text import slack_escape
from emd.warehouse import Warehouse, WarehouseError

_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
_GONE = {"message_not_found", "cant_update_message", "edit_window_closed"}


class SlackPostError(RuntimeError):
    """A Slack failure whose message says what to fix."""


@dataclass(frozen=True)
class SlackTarget:
    token: str
    channel: str
    base_url: str


def slack_target(tenant: str | None = None) -> SlackTarget | None:
    """None unless both SLACK_BOT_TOKEN and SLACK_CHANNEL_ID are set (Slack is optional). A tenant's are read
    with its prefix (`GOLD_SLACK_BOT_TOKEN`; emd/tenants.py), so one process posts for each tenant to its own
    workspace; None reads the plain names (the single-config setup, or a process a tenant was activated in)."""
    token, channel = tenants.tenant_env(tenant, "SLACK_BOT_TOKEN"), tenants.tenant_env(tenant, "SLACK_CHANNEL_ID")
    if not token or not channel:
        return None
    if tenant is None:
        return SlackTarget(token, channel, settings.slack_api_url())
    # A tenant without its own SLACK_API_URL posts to Slack itself, never to the plain variable's server.
    return SlackTarget(token, channel, settings.slack_api_url(tenants.tenant_env(tenant, "SLACK_API_URL")
                                                              or settings.SLACK_API_DEFAULT))


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


# The dashboard's drilldown page (app/streamlit_app.py) and its query parameters (app/view.py).
DRILLDOWN_PATH = "drilldown"


def dashboard_link(base_url: str, row: SprintHealthRow) -> str:
    """The dashboard's drilldown filtered to the team and the period's days (`team`, `start`, `end`,
    inclusive UTC days): a sprint's card opens on that sprint (`sprint=<id>`), a week's card on the
    team's sprints completed that week (`metric=planned_vs_done_pct`)."""
    last_day = (row.period_end - timedelta(microseconds=1)).date()
    parts = urlsplit(base_url)
    wanted = {"team": row.team, "start": row.period_start.date().isoformat(), "end": last_day.isoformat()}
    if row.period_kind == "sprint":
        wanted["sprint"] = row.period_id
    else:
        wanted["metric"] = "planned_vs_done_pct"
    params = urlencode(wanted)
    query = f"{parts.query}&{params}" if parts.query else params
    path = (parts.path or "/").rstrip("/") + "/" + DRILLDOWN_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def _metric_field(key: str, entry: dict[str, Any], kind: str) -> str:
    spec = CATALOGUE[key]
    text = f"*{spec.label}*\n{value_text(spec, entry['value'])}"
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
    """{"text": notification text, "blocks": Block Kit blocks} for one card. Outside text (team and sprint
    names, the card's items, the model's name) is escaped wherever Slack reads mrkdwn: in mrkdwn blocks and in
    the top-level `text`; the header is plain_text, which Slack shows as written."""
    blob = json.loads(row.metrics_json)
    card = json.loads(row.card_json)
    kind = row.period_kind
    metrics = blob["metrics"]
    fields = [
        {"type": "mrkdwn", "text": _metric_field(spec.key, metrics[spec.key], kind)}
        for spec in CARD_METRICS
        if spec.key in metrics and metrics[spec.key]["value"] is not None
    ][:10]  # Slack allows at most 10 fields per section
    title = f"Sprint Health: {row.team} \u00b7 {row.period_name}"  # plain_text below: Slack renders no markup
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    else:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"_No metric has data this {kind}._"}})
    blocks.append({"type": "divider"})
    for name, heading in SECTION_TITLES.items():
        bullets = "\n".join(f"\u2022 {slack_escape(item)}" for item in card[name])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{heading}*\n{bullets}"[:3000]}})
    source = (FALLBACK_LABEL if row.source == "fallback"
              else f"Written by {slack_escape(row.model)} from aggregate metrics only")
    period = f"{kind.capitalize()} {row.period_start:%Y-%m-%d} \u2192 {row.period_end:%Y-%m-%d}"
    link = dashboard_link(dashboard_url, row)
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"{period} \u00b7 <{link}|Open in the dashboard> \u00b7 {source}"}]})
    return {"text": slack_escape(f"{title}: {card['insights'][0]}"[:300]), "blocks": blocks}


RECORD_TRIES = 5


def post_card(poster: SlackPoster, wh: Warehouse, row: SprintHealthRow, dashboard_url: str) -> tuple[str, str, str]:
    """Post `row`'s card (or update its recorded message), then record channel and ts on the row right away,
    so a failure later never causes a duplicate. Returns (channel, ts, 'posted'|'updated')."""
    message = build_message(row, dashboard_url)
    channel, ts, action = poster.publish(message, row.slack_channel, row.slack_ts)
    body = json.dumps(message, ensure_ascii=False)
    for attempt in range(RECORD_TRIES):
        try:
            record_post(wh, row.key, channel, ts, body, datetime.now(UTC).replace(tzinfo=None))
            break
        except (WarehouseError, sqlite3.Error) as exc:  # the record store busy (another writer) for too long
            if attempt == RECORD_TRIES - 1:
                raise WarehouseError(f"the card was {action} in Slack (channel {channel}, ts {ts}) but recording "
                                     f"that in {wh.describe()} failed: {exc}. Post it again once the warehouse is "
                                     "free; without the record the next post makes a second message.") from exc
            time.sleep(0.5 * (attempt + 1))
    row.slack_channel, row.slack_ts = channel, ts
    return channel, ts, action


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
