"""Mock Slack Web API under `/slack/api/`: `auth.test`, `chat.postMessage`, `chat.update`.

Slack answers HTTP 200 with `{"ok": false, "error": ...}` for API errors: `invalid_auth` for a wrong
bot token, `channel_not_found` for a channel the workspace does not have, `not_in_channel` when the
`slack_not_in_channel` switch is on, `message_not_found` for an update of an unknown ts. The switch
`slack_rate_limit` (true or a count) answers 429 with Retry-After: 1. Messages are kept with their edit
count and served at `GET /_mock/slack/messages`.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

from mock_apis.llm import take_switch
from mock_apis.server import MockState, Request, Response, Router

DEFAULT_CHANNELS = ("C0MOCKCHAN",)


def _params(req: Request) -> dict[str, Any]:
    if not req.body:
        return {}
    if req.headers.get("content-type", "").startswith("application/json"):
        return req.json() or {}
    form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8")).items()}
    if isinstance(form.get("blocks"), str):
        form["blocks"] = json.loads(form["blocks"])
    return form


def register(router: Router, state: MockState) -> None:
    state.extra.setdefault("slack_channels", set(DEFAULT_CHANNELS))
    state.extra.setdefault("slack_messages", {})  # ts -> message

    def ok(**fields: Any) -> Response:
        return Response(body={"ok": True, **fields})

    def fail(error: str) -> Response:
        return Response(body={"ok": False, "error": error})

    def api(req: Request, m: re.Match[str]) -> Response:
        method = m.group("method")
        state.count(f"slack:{method}")
        if take_switch(state, "slack_rate_limit"):
            return Response(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        params = _params(req)
        token = (req.headers.get("authorization") or "").removeprefix("Bearer ").strip() or params.get("token")
        if token != state.slack_token:
            return fail("invalid_auth" if token else "not_authed")
        if method == "auth.test":
            return ok(url="https://acme-mock.slack.com/", team="Acme", user="emd-bot", team_id="T0MOCK",
                      user_id="U0MOCKBOT", bot_id="B0MOCKBOT")
        if method not in ("chat.postMessage", "chat.update"):
            return fail("unknown_method")
        channel = params.get("channel")
        if channel not in state.extra["slack_channels"]:
            return fail("channel_not_found")
        if take_switch(state, "slack_not_in_channel"):
            return fail("not_in_channel")
        if not params.get("text") and not params.get("blocks"):
            return fail("no_text")
        messages = state.extra["slack_messages"]
        with state.lock:
            if method == "chat.postMessage":
                ts = f"{1774000000 + len(messages)}.000100"
                messages[ts] = {"channel": channel, "ts": ts, "text": params.get("text"),
                                "blocks": params.get("blocks"), "edits": 0}
            else:
                ts = str(params.get("ts") or "")
                message = messages.get(ts)
                if message is None or message["channel"] != channel:
                    return fail("message_not_found")
                message.update(text=params.get("text"), blocks=params.get("blocks"), edits=message["edits"] + 1)
            stored = dict(messages[ts])
        return ok(channel=channel, ts=ts, message={"text": stored["text"], "blocks": stored["blocks"]})

    def recorded(_req: Request, _m: re.Match[str]) -> Response:
        with state.lock:
            return Response(body=list(state.extra["slack_messages"].values()))

    router.add("POST", r"/slack/api/(?P<method>[A-Za-z.]+)", api)
    router.add("GET", "/_mock/slack/messages", recorded)
