"""What every text a model writes from our numbers shares (the Sprint Health card, the executive readout's
summary): the model's settings from the environment, and the grounding rules an answer must pass: every
number traceable to a number of the input (rounding and percent/fraction forms allowed), no Slack mention
or link syntax. Pure: no Dagster, no network."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from emd import settings

DEFAULT_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class LlmSettings:
    api_key: str
    base_url: str | None
    model: str
    timeout_s: float = 60.0
    max_tokens: int = 700
    max_retries: int = 3  # the SDK backs off exponentially on 408/409/429/5xx and connection errors


def llm_settings() -> LlmSettings | None:
    """None without OPENAI_API_KEY (the rule-based card is used)."""
    key = settings.env("OPENAI_API_KEY")
    if key is None:
        return None
    return LlmSettings(api_key=key, base_url=settings.env("OPENAI_BASE_URL"),
                       model=settings.env("EMD_LLM_MODEL", DEFAULT_MODEL) or DEFAULT_MODEL)


_DATE_TOKEN = re.compile(r"\d{4}-W\d{2}|\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?)?")
# A number not glued to a word (skips "p50", "W12", "v1"); thousands separators allowed.
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])|(?<![A-Za-z0-9_.])\d+(?:\.\d+)?")


def _blob_numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield abs(float(value))
    elif isinstance(value, dict):
        for v in value.values():
            yield from _blob_numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _blob_numbers(v)


def _blob_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _blob_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _blob_strings(v)


def ungrounded_numbers(text: str, blob: dict[str, Any]) -> list[str]:
    """Numbers in `text` that match no number of the blob, allowing rounding and percent/fraction forms."""
    strings = " ".join(_blob_strings(blob))
    bad: list[str] = []

    def drop_date(match: re.Match[str]) -> str:
        if match.group(0) not in strings:
            bad.append(match.group(0))
        return " "

    text = _DATE_TOKEN.sub(drop_date, text)
    known = set(_blob_numbers(blob))
    forms = known | {v * 100 for v in known} | {v / 100 for v in known}
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        number = float(token.replace(",", ""))
        decimals = len(token.split(".", 1)[1]) if "." in token else 0
        tolerance = 0.5 * 10 ** -decimals + 1e-9
        if not any(abs(number - f) <= tolerance for f in forms):
            bad.append(token)
    return bad


# Slack mention and link syntax (<!channel>, <!here>, <!subteam^S1>, <@U1>, <#C1>, <https://x|y>, <mailto:...>)
# and bare links: a card never needs them, and an answer carrying them was steered by text in its input.
_SLACK_SYNTAX = re.compile(r"<\s*[!@#]|<\s*(?:https?|mailto|slack):|<[^<>]*\|[^<>]*>|\bhttps?://|\bwww\.",
                           re.IGNORECASE)


def mention_or_link_syntax(text: str) -> list[str]:
    """The Slack mention or link syntax (and bare links) found in `text`."""
    return [m.group(0) for m in _SLACK_SYNTAX.finditer(text)]
