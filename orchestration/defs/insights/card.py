"""The Sprint Health card written by a model: the prompt, the answer's parsing and validation, the model call.

The rule-based card (also what runs without OPENAI_API_KEY, or when the model fails) is in
fallback.py; the card's wording of values and changes in formatting.py.

A card is three insights, two risks and three recommendations, at most 180 words, built from the
metrics blob alone. Every number the model writes must be traceable to a number in the blob (rounding
and percent/fraction forms allowed); an answer that breaks a rule is retried once with the violations
listed, then replaced by the deterministic card, which is also what runs without OPENAI_API_KEY.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from emd.card_formatting import FALLBACK_LABEL, SECTION_TITLES, SHAPE, card_text
from emd.llm import LlmSettings, llm_settings, mention_or_link_syntax, ungrounded_numbers
from orchestration.defs.insights.blob import canonical_json
from orchestration.defs.insights.fallback import fallback_card

__all__ = ["FALLBACK_LABEL", "SECTION_TITLES", "SHAPE", "LlmSettings", "card_text", "fallback_card", "llm_settings",
           "mention_or_link_syntax", "ungrounded_numbers"]  # re-exported

PROMPT_VERSION = "sprint-health-v1"
MAX_WORDS = 180

SYSTEM_PROMPT = (
    "You write the Sprint Health card that a software team reads in Slack. You get one JSON blob of "
    "aggregate delivery, flow and planning metrics for one completed sprint or ISO week: each metric's "
    "value, sample size, its values in the previous periods (most recent first), its change against the "
    "previous period, and weekly anomalies (z-scores against the trailing weeks); when present, `agreements`: "
    "how often each of the team's working agreements held (held_rate of sample_size items, and in the previous "
    "periods); when present, `ai`: the share of AI-assisted merged PRs and AI-assisted versus other PRs "
    "(each side's value and sample size; a difference and its 90% interval only where `comparable`).\n"
    "Write exactly 3 concise insights (what changed, by how much, why it matters), exactly 2 key risks "
    "(each with its probable impact) and exactly 3 specific recommendations.\n"
    "Rules: at most 180 words in total. Use only numbers that appear in the blob; you may round them and "
    "write a rate such as 0.25 as 25%, but never compute new numbers. Keep hours in hours. Say when a value "
    "comes from fewer than low_sample_threshold items. Speak of a difference between AI-assisted and other "
    "PRs only for a comparison marked comparable. Plain sentences, no markdown, no names of people."
)
PLAIN_TEXT_FORMAT = (
    "\nAnswer in exactly this format, one item per line:\n"
    "INSIGHTS:\n- ...\n- ...\n- ...\nRISKS:\n- ...\n- ...\nRECOMMENDATIONS:\n- ...\n- ...\n- ..."
)

CARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        name: {"type": "array", "items": {"type": "string"}, "minItems": n, "maxItems": n}
        for name, n in SHAPE.items()
    },
    "required": list(SHAPE),
    "additionalProperties": False,
}


def user_prompt(blob: dict[str, Any]) -> str:
    return "Metrics blob (JSON):\n" + canonical_json(blob)


# ------------------------------------------------------------------------------------------ validation

def word_count(card: dict[str, list[str]]) -> int:
    return sum(len(item.split()) for name in SHAPE for item in card.get(name, []))


_AI_WORDS = re.compile(r"\b(ai|a\.i\.|copilot|agent|agents|assistant|ai-assisted)\b", re.IGNORECASE)
_COMPARING = re.compile(r"\b(than|faster|slower|quicker|higher|lower|more|less|fewer|better|worse|"
                        r"difference|differ|differs|compared|versus|vs)\b", re.IGNORECASE)


def ungrounded_ai_differences(card: dict[str, Any], blob: dict[str, Any]) -> list[str]:
    """Sentences that compare AI-assisted with other PRs when no comparison of the blob is `comparable` (both
    samples at least 5): docs/metrics.md allows a difference only then. A sentence naming AI and a comparing
    word counts as such a claim."""
    if "ai" not in blob:
        return []
    comparisons = blob["ai"].get("comparison") or {}
    if any(c.get("comparable") for c in comparisons.values()):
        return []
    return [item for name in SHAPE for item in card.get(name) or []
            if isinstance(item, str) and _AI_WORDS.search(item) and _COMPARING.search(item)]


def validate_card(card: Any, blob: dict[str, Any]) -> list[str]:
    """Every rule the card breaks, in words the model can act on; empty when the card is fine."""
    if not isinstance(card, dict):
        return ["the answer is not an object with insights, risks and recommendations"]
    violations = []
    for name, n in SHAPE.items():
        items = card.get(name)
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            violations.append(f"`{name}` must be a list of {n} non-empty strings")
        elif len(items) != n:
            violations.append(f"`{name}` must have exactly {n} items (it has {len(items)})")
    if violations:
        return violations
    words = word_count(card)
    if words > MAX_WORDS:
        violations.append(f"the card has {words} words; the limit is {MAX_WORDS}")
    bad = sorted(set(ungrounded_numbers(" ".join(i for name in SHAPE for i in card[name]), blob)))
    if bad:
        violations.append("these numbers are not in the blob (use only the blob's numbers): " + ", ".join(bad))
    ai_claims = ungrounded_ai_differences(card, blob)
    if ai_claims:
        violations.append("these sentences compare AI-assisted and other PRs, but no comparison in the blob has "
                          "both samples of at least 5 (`comparable`): say only the share and the sample sizes: "
                          + " | ".join(ai_claims))
    if any(mention_or_link_syntax(i) for name in SHAPE for i in card[name]):
        violations.append("the card contains Slack mention or link syntax (<!channel>, <!here>, <@user>, "
                          "<https://...|...>) or a link: write plain sentences with no mentions and no links")
    return violations


# ----------------------------------------------------------------------------------------- parsing


def parse_json_card(text: str) -> dict[str, Any] | None:
    text = text.strip()
    if text.startswith("```"):
        text = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", text)
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


_HEADING = re.compile(r"^\W*(insights?|(?:key\s+)?risks?|recommendations?)\W*:?\s*$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.*\S)\s*$")


def parse_text_card(text: str) -> dict[str, list[str]] | None:
    """The plain-text form (INSIGHTS:/RISKS:/RECOMMENDATIONS: headings over bullet lines)."""
    card: dict[str, list[str]] = {}
    section = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            word = heading.group(1).lower()
            section = "insights" if word.startswith("insight") else "risks" if "risk" in word else "recommendations"
            card.setdefault(section, [])
            continue
        bullet = _BULLET.match(line)
        if bullet and section:
            card[section].append(bullet.group(1))
    return card if card else None


def parse_answer(text: str) -> dict[str, Any] | None:
    return parse_json_card(text) or parse_text_card(text)


# ------------------------------------------------------------------------------------ the model call


@dataclass
class CardResult:
    card: dict[str, list[str]]
    source: str  # model | fallback
    model: str | None
    tokens_used: int
    model_calls: int
    fallback_reason: str | None = None
    cacheable: bool = True  # False when the model was unreachable: try it again next run


@dataclass
class CardWriter:
    """Writes cards through an OpenAI-compatible chat completions endpoint; falls back per card."""

    llm: LlmSettings | None
    structured_output: bool = True  # turned off for the run once the server rejects response_format
    unavailable: str | None = None  # set after a call failed for good: later cards skip the model
    calls: int = 0
    tokens: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompts: list[list[dict[str, str]]] = field(default_factory=list)  # what was sent (for the privacy tests)
    _client: Any = None

    @property
    def model_id(self) -> str:
        """The model part of the cache key."""
        return self.llm.model if self.llm else "rule-based"

    def client(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            assert self.llm is not None
            self._client = OpenAI(api_key=self.llm.api_key, base_url=self.llm.base_url,
                                  timeout=self.llm.timeout_s, max_retries=self.llm.max_retries)
        return self._client

    def _complete(self, messages: list[dict[str, str]]) -> str:
        import openai

        assert self.llm is not None
        kwargs: dict[str, Any] = {"model": self.llm.model, "temperature": 0, "max_tokens": self.llm.max_tokens}
        if self.structured_output:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "sprint_health_card", "strict": True, "schema": CARD_SCHEMA}}
            sent = messages
        else:
            sent = [dict(m) for m in messages]
            sent[0]["content"] += PLAIN_TEXT_FORMAT
        self.prompts.append(sent)
        self.calls += 1
        try:
            try:
                response = self.client().chat.completions.create(messages=sent, **kwargs)
            except json.JSONDecodeError:
                # A cut-off answer body: the SDK retries 5xx and dropped connections, not this; one more try.
                self.calls += 1
                response = self.client().chat.completions.create(messages=sent, **kwargs)
        except (openai.BadRequestError, openai.UnprocessableEntityError):
            if not self.structured_output:
                raise
            # The server does not do structured output (many local servers): plain text from now on.
            self.structured_output = False
            return self._complete(messages)
        usage = getattr(response, "usage", None)
        self.tokens += int(getattr(usage, "total_tokens", 0) or 0)
        self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        return response.choices[0].message.content or ""

    def write(self, blob: dict[str, Any]) -> CardResult:
        if self.llm is None:
            return self._fallback(blob, "OPENAI_API_KEY is not set", cacheable=True, tokens=0, calls=0)
        if self.unavailable:
            return self._fallback(blob, self.unavailable, cacheable=False, tokens=0, calls=0)
        import openai

        calls0, tokens0 = self.calls, self.tokens
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user_prompt(blob)}]
        try:
            for attempt in (1, 2):
                answer = self._complete(messages)
                card = parse_answer(answer)
                violations = validate_card(card, blob)
                if not violations:
                    assert card is not None
                    return CardResult({k: [s.strip() for s in card[k]] for k in SHAPE}, "model", self.llm.model,
                                      self.tokens - tokens0, self.calls - calls0)
                if attempt == 1:
                    messages = messages + [
                        {"role": "assistant", "content": answer},
                        {"role": "user", "content": "Your card broke these rules:\n- " + "\n- ".join(violations)
                         + "\nWrite the whole card again, fixing every point."},
                    ]
            reason = "the model's answer failed validation twice (" + "; ".join(violations) + ")"
            return self._fallback(blob, reason, cacheable=True, tokens=self.tokens - tokens0,
                                  calls=self.calls - calls0)
        except openai.AuthenticationError:
            self.unavailable = ("OPENAI_API_KEY was rejected by the server at OPENAI_BASE_URL: "
                                "set a valid key (or unset it to use the rule-based card)")
        except openai.NotFoundError:
            self.unavailable = (f"model {self.llm.model!r} or the chat completions endpoint was not found: "
                                "check EMD_LLM_MODEL and OPENAI_BASE_URL")
        except (openai.APIError, json.JSONDecodeError) as exc:
            self.unavailable = f"the model server was unavailable after retries ({type(exc).__name__})"
        return self._fallback(blob, self.unavailable, cacheable=False, tokens=self.tokens - tokens0,
                              calls=self.calls - calls0)

    @staticmethod
    def _fallback(blob: dict[str, Any], reason: str, *, cacheable: bool, tokens: int, calls: int) -> CardResult:
        return CardResult(fallback_card(blob), "fallback", None, tokens, calls, reason, cacheable)
