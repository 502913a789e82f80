"""The Sprint Health card: the prompt, the model call, the answer's validation and the rule-based fallback.

A card is three insights, two risks and three recommendations, at most 180 words, built from the
metrics blob alone. Every number the model writes must be traceable to a number in the blob (rounding
and percent/fraction forms allowed); an answer that breaks a rule is retried once with the violations
listed, then replaced by the deterministic card, which is also what runs without OPENAI_API_KEY.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from emd import settings
from orchestration.defs.insights.blob import LOW_SAMPLE, METRIC_BY_KEY, METRICS, MetricSpec, canonical_json

PROMPT_VERSION = "sprint-health-v1"
DEFAULT_MODEL = "gpt-4o-mini"
MAX_WORDS = 180
SHAPE = {"insights": 3, "risks": 2, "recommendations": 3}
SECTION_TITLES = {"insights": "Insights", "risks": "Risks", "recommendations": "Recommendations"}
FALLBACK_LABEL = "Rule-based summary (no LLM)"

SYSTEM_PROMPT = (
    "You write the Sprint Health card that a software team reads in Slack. You get one JSON blob of "
    "aggregate delivery, flow and planning metrics for one completed sprint or ISO week: each metric's "
    "value, sample size, its values in the previous periods (most recent first), its change against the "
    "previous period, and weekly anomalies (z-scores against the trailing weeks); when present, `agreements`: "
    "how often each of the team's working agreements held (held_rate of sample_size items, and in the previous "
    "periods).\n"
    "Write exactly 3 concise insights (what changed, by how much, why it matters), exactly 2 key risks "
    "(each with its probable impact) and exactly 3 specific recommendations.\n"
    "Rules: at most 180 words in total. Use only numbers that appear in the blob; you may round them and "
    "write a rate such as 0.25 as 25%, but never compute new numbers. Keep hours in hours. Say when a value "
    "comes from fewer than low_sample_threshold items. Plain sentences, no markdown, no names of people."
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


def word_count(card: dict[str, list[str]]) -> int:
    return sum(len(item.split()) for name in SHAPE for item in card.get(name, []))


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


# ------------------------------------------------------------------------------- the rule-based card

_WHY = {  # (when worse, when better): why the change matters
    "cycle_time_p50_hours": ("work takes longer to merge", "work merges faster"),
    "cycle_time_p90_hours": ("the slowest PRs wait longer", "fewer PRs drag on"),
    "time_to_first_review_p50_hours": ("authors wait longer for feedback", "authors get feedback sooner"),
    "deploys_per_day": ("changes reach users less often", "changes reach users more often"),
    "lead_time_p50_hours": ("changes take longer to reach production", "changes reach production sooner"),
    "change_failure_rate": ("more releases need a fix", "fewer releases need a fix"),
    "scope_change_pct": ("the plan moved more mid-sprint", "the plan held better"),
    "carryover_pct": ("more work slipped to the next sprint", "less work slipped"),
    "planned_vs_done_pct": ("less committed work got done", "more committed work got done"),
}
_IMPACT = {  # probable impact of a worsening metric
    "cycle_time_p50_hours": "work may spill past the period end",
    "cycle_time_p90_hours": "long-running PRs invite merge conflicts",
    "time_to_first_review_p50_hours": "idle PRs pile up and context switching grows",
    "deploys_per_day": "bigger batches make each release riskier",
    "lead_time_p50_hours": "fixes and features reach users later",
    "change_failure_rate": "rework takes time from planned work",
    "scope_change_pct": "commitments become unreliable for stakeholders",
    "carryover_pct": "the next sprint starts behind",
    "planned_vs_done_pct": "roadmap dates slip",
}
_ADVICE = {
    "cycle_time_p50_hours": "Split large pull requests so each merges within a day or two.",
    "cycle_time_p90_hours": "List the slowest open pull requests at stand-up and unblock them first.",
    "time_to_first_review_p50_hours": "Set a review rotation so every ready pull request is reviewed the same day.",
    "deploys_per_day": "Deploy on every merge to main, with feature flags for unfinished work.",
    "lead_time_p50_hours": "Find where merged work waits before release and automate that step.",
    "change_failure_rate": "Hold a short review of each failed deployment and add a test for its cause.",
    "scope_change_pct": "Freeze scope after planning; send new requests to the backlog unless urgent.",
    "carryover_pct": "Commit to less next sprint and split stories that carried over.",
    "planned_vs_done_pct": "Plan to the recent completion rate and check committed work daily.",
}
_DEFAULT_ADVICE = (
    "Keep pull requests small and reviewed within a working day.",
    "Pick one metric from this card to improve and review it in the retro.",
    "Check that deployment and incident data are complete so the next card is reliable.",
)


def _num(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(spec: MetricSpec, value: float) -> str:
    if spec.unit == "h":
        return f"{_num(value, 1)} h"
    if spec.unit == "/day":
        return f"{_num(value, 2)}/day"
    if spec.unit == "rate":
        return f"{_num(value * 100, 1)}%"
    return f"{_num(value, 1)}%"


def format_change(spec: MetricSpec, entry: dict[str, Any]) -> str:
    """The change against the previous period: relative for durations and rates per day, points for percentages."""
    change = entry["change"]
    sign = "+" if change > 0 else "-"
    if spec.unit == "rate":
        return f"{sign}{_num(abs(change) * 100, 1)} pts"
    if spec.unit == "%":
        return f"{sign}{_num(abs(change), 1)} pts"
    if entry.get("change_pct") is not None:
        return f"{sign}{_num(abs(entry['change_pct']), 1)}%"
    return f"{sign}{format_value(spec, abs(change))}"


def _sample_note(entry: dict[str, Any]) -> str:
    n = entry["sample_size"]
    return f"n={n}, low sample" if n < LOW_SAMPLE else f"n={n}"


def _change_score(entry: dict[str, Any]) -> float:
    if entry.get("change_pct") is not None:
        return abs(entry["change_pct"])
    return 100.0  # from zero to something: as large as a doubling


def _changed(blob: dict[str, Any], trend: str | None = None) -> list[str]:
    metrics = blob["metrics"]
    keys = [m.key for m in METRICS if m.key in metrics and metrics[m.key]["trend"] in ("worse", "better")]
    if trend:
        keys = [k for k in keys if metrics[k]["trend"] == trend]
    order = {m.key: i for i, m in enumerate(METRICS)}
    return sorted(keys, key=lambda k: (-_change_score(metrics[k]), order[k]))


# Levels that stay a risk even when improving (no numbers in the text but the metric's own).
HIGH_CHANGE_FAILURE_RATE = 0.15  # DORA's elite band ends at 15%
HIGH_CARRYOVER_PCT = 20.0
LOW_PLANNED_VS_DONE_PCT = 80.0
LONG_TAIL_RATIO = 3.0  # p90 at least three times p50


def _level_risks(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    def value(key: str) -> float | None:
        entry = metrics.get(key)
        return None if entry is None else entry["value"]

    out = []
    cfr, carry, done = value("change_failure_rate"), value("carryover_pct"), value("planned_vs_done_pct")
    p50, p90 = value("cycle_time_p50_hours"), value("cycle_time_p90_hours")
    if cfr is not None and cfr >= HIGH_CHANGE_FAILURE_RATE:
        spec = METRIC_BY_KEY["change_failure_rate"]
        out.append((spec.key, f"Change failure rate is still high at {format_value(spec, cfr)} "
                              f"({_sample_note(metrics[spec.key])}): {_IMPACT[spec.key]}."))
    if carry is not None and carry >= HIGH_CARRYOVER_PCT:
        spec = METRIC_BY_KEY["carryover_pct"]
        out.append((spec.key, f"Carryover is still high at {format_value(spec, carry)}: {_IMPACT[spec.key]}."))
    if done is not None and done < LOW_PLANNED_VS_DONE_PCT:
        spec = METRIC_BY_KEY["planned_vs_done_pct"]
        out.append((spec.key, f"Only {format_value(spec, done)} of committed work was done: {_IMPACT[spec.key]}."))
    if p50 and p90 is not None and p90 >= LONG_TAIL_RATIO * p50:
        spec = METRIC_BY_KEY["cycle_time_p90_hours"]
        out.append((spec.key, f"Cycle time p90 ({format_value(spec, p90)}) is far above p50 "
                              f"({format_value(spec, p50)}): a few PRs wait much longer than the rest."))
    return out


def fallback_card(blob: dict[str, Any]) -> dict[str, list[str]]:
    """The deterministic card: biggest changes, worst anomalies and worsening metrics, advice for each."""
    metrics = blob["metrics"]
    kind = blob["period"]["kind"]

    insights = []
    for key in _changed(blob)[:3]:
        spec, entry = METRIC_BY_KEY[key], metrics[key]
        verb = "rose" if entry["change"] > 0 else "fell"
        why = _WHY[key][0 if entry["trend"] == "worse" else 1]
        insights.append(f"{spec.label} {verb} from {format_value(spec, entry['previous'][0])} to "
                        f"{format_value(spec, entry['value'])} ({format_change(spec, entry)}, {_sample_note(entry)}): "
                        f"{why}.")
    for spec in METRICS:
        if len(insights) == 3:
            break
        entry = metrics.get(spec.key)
        if entry is None or entry["value"] is None or spec.key in _changed(blob):
            continue
        if entry["trend"] == "unchanged":
            insights.append(f"{spec.label} held at {format_value(spec, entry['value'])} ({_sample_note(entry)}).")
        elif not insights:
            insights.append(f"{spec.label} was {format_value(spec, entry['value'])} ({_sample_note(entry)}); "
                            f"no earlier {kind} to compare.")
        else:
            insights.append(f"{spec.label} was {format_value(spec, entry['value'])} ({_sample_note(entry)}).")
    while len(insights) < 3:
        insights.append(f"Too little data this {kind} for another comparison.")

    # Risk candidates, most serious first; one risk per metric.
    candidates: list[tuple[str, str]] = []
    for item in blob["anomalies"]["items"]:
        if item["trend"] == "worse":
            spec = METRIC_BY_KEY[item["metric"]]
            candidates.append((spec.key, f"{spec.label} in {item['week']} was {format_value(spec, item['value'])} "
                                         f"against a trailing mean of {format_value(spec, item['trailing_mean'])} "
                                         f"(z={_num(item['z_score'], 2)}): {_IMPACT[spec.key]}."))
    for key in _changed(blob, "worse"):
        spec, entry = METRIC_BY_KEY[key], metrics[key]
        candidates.append((key, f"{spec.label} is worsening ({format_change(spec, entry)}): {_IMPACT[key]}."))
    candidates += _level_risks(metrics)
    for spec in METRICS:
        entry = metrics.get(spec.key)
        if entry is not None and entry["value"] is not None and 0 < entry["sample_size"] < LOW_SAMPLE:
            candidates.append((spec.key, f"{spec.label} rests on {entry['sample_size']} {spec.sample_of}: "
                                         "a trend may be noise."))
    risks: list[str] = []
    risk_keys: list[str] = []
    for key, text in candidates:
        if len(risks) < 2 and key not in risk_keys:
            risks.append(text)
            risk_keys.append(key)
    if blob.get("previous_periods"):
        fillers = [f"No metric worsened against the previous {kind}; the risk is losing that habit.",
                   f"A good {kind} can hide slow drift; compare again after the next {kind}."]
    else:
        fillers = [f"This is the first {kind} in the data, so no trend can warn early yet.",
                   "Missing sources can hide problems; check that every repo and board is connected."]
    for filler in fillers:
        if len(risks) < 2:
            risks.append(filler)

    recommendations: list[str] = []
    for key in risk_keys + [k for k in _changed(blob, "worse") if k not in risk_keys]:
        if len(recommendations) < 3 and _ADVICE[key] not in recommendations:
            recommendations.append(_ADVICE[key])
    for advice in _DEFAULT_ADVICE:
        if len(recommendations) < 3 and advice not in recommendations:
            recommendations.append(advice)
    return {"insights": insights, "risks": risks, "recommendations": recommendations}


def card_text(card: dict[str, list[str]], source: str) -> str:
    lines = [FALLBACK_LABEL] if source == "fallback" else []
    for name, title in SECTION_TITLES.items():
        lines.append(f"{title}:")
        lines += [f"- {item}" for item in card[name]]
    return "\n".join(lines)
