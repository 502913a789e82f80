"""Mock OpenAI-compatible chat completions (`POST /v1/chat/completions`), deterministic.

The answer is built from the numbers of the metrics blob found in the prompt, so it passes the card's
grounding check, and it honours a requested `response_format` JSON schema (array sizes included); without
one it answers in the plain-text INSIGHTS/RISKS/RECOMMENDATIONS form. Every request is recorded
(`GET /_mock/llm/requests`) so tests can read the prompts.

Switches (POST /_mock/switch; `true` = every request, a number = the next N requests):
- `llm_ungrounded`: the first insight carries a number that is not in the blob;
- `llm_too_many_words`: every item is padded far past the 180-word limit;
- `llm_reject_structured`: a request with `response_format` gets a 400, as from servers without it;
- `llm_rate_limit`: a 429 with a short Retry-After; `llm_server_error`: a 500;
- `llm_mentions`: the first insight carries Slack mention and link syntax (`<!channel>`, `<!here>`, `<@U…>`,
  `<https://…|…>`), as an answer steered by text in its input would;
- `llm_angle_brackets`: the first insight carries `&`, `<` and `>` as plain comparisons (no mention or link).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from mock_apis.server import MockState, Request, Response, Router

UNGROUNDED_NUMBER = "987.6"
MENTIONS = " Ping <!channel> and <!here>, ask <@U024BE7LH>, and read <https://evil.example/login|the fix>."
ANGLE_BRACKETS = " Reviews & pickups: waiting < working, and merges > reverts."
_FILLER = ("This sentence pads the answer with words that say nothing new so that the card runs far past "
           "the word limit the product enforces on every answer it accepts from a model. ")


def take_switch(state: MockState, name: str) -> bool:
    """True when the switch is on for this request; a numeric switch counts down."""
    with state.lock:
        value = state.switches.get(name)
        if value is True:
            return True
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            state.switches[name] = value - 1
            return True
    return False


def _error(status: int, message: str, kind: str, code: str | None = None, headers: dict | None = None) -> Response:
    return Response(status, {"error": {"message": message, "type": kind, "param": None, "code": code}},
                    headers or {})


def _blob_from(messages: list[dict[str, Any]]) -> dict[str, Any]:
    for message in messages:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) and "{" in content:
            try:
                return json.loads(content[content.index("{"): content.rindex("}") + 1])
            except ValueError:
                continue
    return {}


def _items(blob: dict[str, Any]) -> dict[str, list[str]]:
    """Sentences that quote the blob's own numbers."""
    metrics = [(k, v) for k, v in (blob.get("metrics") or {}).items() if isinstance(v, dict) and v.get("value") is not None]
    said = []
    for key, entry in metrics:
        label = key.replace("_", " ")
        text = f"The {label} was {entry['value']} from {entry.get('sample_size', 0)} {entry.get('sample_of', 'items')}"
        previous = (entry.get("previous") or [None])[0]
        said.append(text + (f", against {previous} before." if previous is not None else "."))
    insights = (said + ["There was too little data for another insight."] * 3)[:3]
    risks = [f"{s[:-1]}; if it slips further, delivery slows." for s in said[3:5]] + ["Small samples may hide a change."] * 2
    return {
        "insights": insights,
        "risks": risks[:2],
        "recommendations": ["Keep pull requests small.", "Review every ready pull request the same day.",
                            "Deploy on every merge to main."],
    }


def _fit(schema: dict[str, Any], pool: dict[str, list[str]]) -> dict[str, Any]:
    """An object that satisfies the requested schema's properties and array sizes."""
    out: dict[str, Any] = {}
    for name, spec in (schema.get("properties") or {}).items():
        if spec.get("type") == "array":
            n = int(spec.get("minItems", spec.get("maxItems", 1)))
            items = pool.get(name) or [f"{name} item"]
            out[name] = [items[i % len(items)] for i in range(n)]
        else:
            out[name] = " ".join(pool.get(name) or [f"{name}"])
    return out


def register(router: Router, state: MockState) -> None:
    state.extra.setdefault("llm_requests", [])

    def chat_completions(req: Request, _m: re.Match[str]) -> Response:
        state.count("llm:requests")
        if req.headers.get("authorization") != f"Bearer {state.openai_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        body = req.json() or {}
        with state.lock:
            state.extra["llm_requests"].append(body)
        if take_switch(state, "llm_rate_limit"):
            return _error(429, "Rate limit reached.", "rate_limit_error", "rate_limit_exceeded",
                          {"retry-after-ms": "20", "retry-after": "0"})
        if take_switch(state, "llm_server_error"):
            return _error(500, "The server had an error.", "server_error")
        response_format = body.get("response_format")
        if response_format and take_switch(state, "llm_reject_structured"):
            return _error(400, "response_format json_schema is not supported by this server.",
                          "invalid_request_error")
        messages = body.get("messages") or []
        pool = _items(_blob_from(messages))
        if take_switch(state, "llm_ungrounded"):
            pool["insights"][0] = pool["insights"][0].rstrip(".") + f", a jump of {UNGROUNDED_NUMBER} hours."
        if take_switch(state, "llm_mentions"):
            pool["insights"][0] = pool["insights"][0] + MENTIONS
        if take_switch(state, "llm_angle_brackets"):
            pool["insights"][0] = pool["insights"][0] + ANGLE_BRACKETS
        if take_switch(state, "llm_too_many_words"):
            pool = {k: [item + " " + _FILLER for item in v] for k, v in pool.items()}
        if response_format and response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {}
            content = json.dumps(_fit(schema, pool))
        else:
            content = "\n".join(f"{name.upper()}:\n" + "\n".join(f"- {item}" for item in items)
                                for name, items in pool.items())
        state.count("llm:chat.completions")
        prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
        prompt_tokens, completion_tokens = math.ceil(prompt_chars / 4), math.ceil(len(content) / 4)
        with state.lock:
            n = len(state.extra["llm_requests"])
        return Response(body={
            "id": f"chatcmpl-mock-{n}", "object": "chat.completion", "created": 1700000000 + n,
            "model": body.get("model", "mock-model"),
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    def recorded(_req: Request, _m: re.Match[str]) -> Response:
        with state.lock:
            return Response(body=list(state.extra["llm_requests"]))

    router.add("POST", "/v1/chat/completions", chat_completions)
    router.add("GET", "/_mock/llm/requests", recorded)
