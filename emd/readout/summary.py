"""The readout's executive summary (at most 120 words): written by the model from the readout's facts
under the Sprint Health card's grounding rules (emd/llm.py: every number from the input, no mention or
link syntax), retried once with the violations listed, else the rule-based summary, which is also what
runs without OPENAI_API_KEY."""

from __future__ import annotations

import json
from dataclasses import dataclass

from emd.llm import LlmSettings, llm_settings, mention_or_link_syntax, ungrounded_numbers
from emd.readout.content import Readout

MAX_WORDS = 120
SYSTEM_PROMPT = (
    "You write the executive summary of an engineering organisation's monthly or quarterly readout. You get "
    "one JSON object of delivery (DORA), flow and planning measures for the period and the previous one, "
    "with their DORA bands, working agreements' adherence, SLO budgets and the top risks.\n"
    f"Write one plain paragraph of at most {MAX_WORDS} words for engineering leadership: the overall "
    "picture, the most important changes and the main risk. Use only numbers that appear in the input; you "
    "may round them and write a rate such as 0.25 as 25%, but never compute new numbers. No markdown, no "
    "links, no names of people."
)


@dataclass(frozen=True)
class Summary:
    text: str
    source: str  # model | fallback
    note: str = ""  # why the fallback was used


def violations(text: str, facts: dict) -> list[str]:
    found = []
    words = len(text.split())
    if not text.strip():
        found.append("the summary is empty")
    if words > MAX_WORDS:
        found.append(f"the summary has {words} words; the limit is {MAX_WORDS}")
    bad = sorted(set(ungrounded_numbers(text, facts)))
    if bad:
        found.append("these numbers are not in the input (use only its numbers): " + ", ".join(bad))
    if mention_or_link_syntax(text):
        found.append("the summary contains mention or link syntax or a link: write plain sentences")
    return found


def fallback_summary(readout: Readout) -> str:
    """The rule-based summary: the DORA bands, the biggest movers and the first risk, in the readout's own
    formatted numbers."""
    delivery = readout.areas[0].measures if readout.areas else ()
    banded = [f"{m.label.lower()} {m.text} ({m.band})" for m in delivery if m.band]
    parts = [f"In {readout.period.id}, {readout.scope} delivered with " + ", ".join(banded) + "."
             if banded else f"In {readout.period.id}, {readout.scope} had no deployments to band."]
    moved = [m for area in readout.areas for m in area.measures if m.trend in ("better", "worse")]
    better = [m for m in moved if m.trend == "better"][:2]
    worse = [m for m in moved if m.trend == "worse"][:2]
    if better:
        parts.append("Improved against " + readout.previous.id + ": "
                     + "; ".join(f"{m.label} {m.previous_text} to {m.text}" for m in better) + ".")
    if worse:
        parts.append("Worsened: " + "; ".join(f"{m.label} {m.previous_text} to {m.text}" for m in worse) + ".")
    if readout.previous_covered is None:
        parts.append(f"No data was ingested for {readout.previous.id}, so nothing is compared.")
    if readout.risks:
        parts.append("Main risk: " + readout.risks[0])
    words = " ".join(parts).split()
    return " ".join(words[:MAX_WORDS])


def write_summary(readout: Readout, llm: LlmSettings | None = None, *, use_model: bool = True) -> Summary:
    """The model's summary when it passes the grounding rules (two tries), else the rule-based one."""
    llm = llm if llm is not None else (llm_settings() if use_model else None)
    if llm is None:
        return Summary(fallback_summary(readout), "fallback",
                       "OPENAI_API_KEY is not set" if use_model else "the model was not asked")
    import openai
    from openai import OpenAI

    facts = readout.facts()
    client = OpenAI(api_key=llm.api_key, base_url=llm.base_url, timeout=llm.timeout_s, max_retries=llm.max_retries)
    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": "Readout (JSON):\n" + json.dumps(facts, sort_keys=True, default=str)}]
    problems: list[str] = []
    try:
        for _attempt in (1, 2):
            response = client.chat.completions.create(model=llm.model, messages=messages,  # type: ignore[arg-type]
                                                      temperature=0, max_tokens=400)
            text = (response.choices[0].message.content or "").strip()
            problems = violations(text, facts)
            if not problems:
                return Summary(text, "model")
            messages += [{"role": "assistant", "content": text},
                         {"role": "user", "content": "Your summary broke these rules:\n- " + "\n- ".join(problems)
                          + "\nWrite it again, fixing every point."}]
        note = "the model's summary failed validation twice (" + "; ".join(problems) + ")"
    except openai.AuthenticationError:
        note = "OPENAI_API_KEY was rejected by the server at OPENAI_BASE_URL"
    except openai.APIError as exc:
        note = f"the model server was unavailable ({type(exc).__name__})"
    return Summary(fallback_summary(readout), "fallback", note)
