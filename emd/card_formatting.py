"""How the Sprint Health card (orchestration/defs/insights) and its Slack post (emd/slack.py) word a metric: its value, its change, its sample, and the
card as plain text. Values are formatted by the catalogue (emd/metrics/catalogue.py `format_value`)."""

from __future__ import annotations

from typing import Any

from emd.metrics.catalogue import LOW_SAMPLE, Metric, format_value

SHAPE = {"insights": 3, "risks": 2, "recommendations": 3}
SECTION_TITLES = {"insights": "Insights", "risks": "Risks", "recommendations": "Recommendations"}
FALLBACK_LABEL = "Rule-based summary (no LLM)"


def trimmed(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def value_text(m: Metric, value: float | None) -> str:
    """A value in prose: the catalogue's format without trailing zeros (`12 h`, `25%`)."""
    return format_value(m, value, trim=True)


def format_change(m: Metric, entry: dict[str, Any]) -> str:
    """The change against the previous period: relative for durations and rates per day, points for percentages."""
    change = entry["change"]
    sign = "+" if change > 0 else "-"
    if m.unit == "rate":
        return f"{sign}{trimmed(abs(change) * 100, 1)} pts"
    if m.unit == "%":
        return f"{sign}{trimmed(abs(change), 1)} pts"
    if entry.get("change_pct") is not None:
        return f"{sign}{trimmed(abs(entry['change_pct']), 1)}%"
    return f"{sign}{value_text(m, abs(change))}"


def sample_note(entry: dict[str, Any]) -> str:
    n = entry["sample_size"]
    return f"n={n}, low sample" if n < LOW_SAMPLE else f"n={n}"


def card_text(card: dict[str, list[str]], source: str) -> str:
    lines = [FALLBACK_LABEL] if source == "fallback" else []
    for name, title in SECTION_TITLES.items():
        lines.append(f"{title}:")
        lines += [f"- {item}" for item in card[name]]
    return "\n".join(lines)
