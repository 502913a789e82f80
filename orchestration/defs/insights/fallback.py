"""The rule-based Sprint Health card: the biggest changes, the worst anomalies and worsening metrics, with
advice for each. Deterministic; it runs without OPENAI_API_KEY and replaces a model answer that fails
validation twice. Its why/impact/advice texts and labels are the metric catalogue's
(emd/metrics/catalogue.py), so they cannot drift from the dashboard's and the API's."""

from __future__ import annotations

from typing import Any

from emd.card_formatting import format_change, sample_note, trimmed, value_text
from emd.metrics.catalogue import CARD_METRICS, CATALOGUE, LOW_SAMPLE

_DEFAULT_ADVICE = (
    "Keep pull requests small and reviewed within a working day.",
    "Pick one metric from this card to improve and review it in the retro.",
    "Check that deployment and incident data are complete so the next card is reliable.",
)


def _change_score(entry: dict[str, Any]) -> float:
    if entry.get("change_pct") is not None:
        return abs(entry["change_pct"])
    return 100.0  # from zero to something: as large as a doubling


def _changed(blob: dict[str, Any], trend: str | None = None) -> list[str]:
    metrics = blob["metrics"]
    keys = [m.key for m in CARD_METRICS if m.key in metrics and metrics[m.key]["trend"] in ("worse", "better")]
    if trend:
        keys = [k for k in keys if metrics[k]["trend"] == trend]
    order = {m.key: i for i, m in enumerate(CARD_METRICS)}
    return sorted(keys, key=lambda k: (-_change_score(metrics[k]), order[k]))


# Levels that stay a risk even when improving (no numbers in the text but the metric's own).
HIGH_CHANGE_FAILURE_RATE = 0.15  # the card's own threshold (DORA's bands: catalogue.DORA_BANDS)
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
        spec = CATALOGUE["change_failure_rate"]
        out.append((spec.key, f"Change failure rate is still high at {value_text(spec, cfr)} "
                              f"({sample_note(metrics[spec.key])}): {spec.impact}."))
    if carry is not None and carry >= HIGH_CARRYOVER_PCT:
        spec = CATALOGUE["carryover_pct"]
        out.append((spec.key, f"Carryover is still high at {value_text(spec, carry)}: {spec.impact}."))
    if done is not None and done < LOW_PLANNED_VS_DONE_PCT:
        spec = CATALOGUE["planned_vs_done_pct"]
        out.append((spec.key, f"Only {value_text(spec, done)} of committed work was done: {spec.impact}."))
    if p50 and p90 is not None and p90 >= LONG_TAIL_RATIO * p50:
        spec = CATALOGUE["cycle_time_p90_hours"]
        out.append((spec.key, f"Cycle time p90 ({value_text(spec, p90)}) is far above p50 "
                              f"({value_text(spec, p50)}): a few PRs wait much longer than the rest."))
    return out


def fallback_card(blob: dict[str, Any]) -> dict[str, list[str]]:
    """The deterministic card: biggest changes, worst anomalies and worsening metrics, advice for each."""
    metrics = blob["metrics"]
    kind = blob["period"]["kind"]

    insights = []
    for key in _changed(blob)[:3]:
        spec, entry = CATALOGUE[key], metrics[key]
        verb = "rose" if entry["change"] > 0 else "fell"
        why = spec.why[0 if entry["trend"] == "worse" else 1]
        insights.append(f"{spec.label} {verb} from {value_text(spec, entry['previous'][0])} to "
                        f"{value_text(spec, entry['value'])} ({format_change(spec, entry)}, {sample_note(entry)}): "
                        f"{why}.")
    for spec in CARD_METRICS:
        if len(insights) == 3:
            break
        entry = metrics.get(spec.key)
        if entry is None or entry["value"] is None or spec.key in _changed(blob):
            continue
        if entry["trend"] == "unchanged":
            insights.append(f"{spec.label} held at {value_text(spec, entry['value'])} ({sample_note(entry)}).")
        elif not insights:
            insights.append(f"{spec.label} was {value_text(spec, entry['value'])} ({sample_note(entry)}); "
                            f"no earlier {kind} to compare.")
        else:
            insights.append(f"{spec.label} was {value_text(spec, entry['value'])} ({sample_note(entry)}).")
    while len(insights) < 3:
        insights.append(f"Too little data this {kind} for another comparison.")

    # Risk candidates, most serious first; one risk per metric.
    candidates: list[tuple[str, str]] = []
    for item in blob["anomalies"]["items"]:
        if item["trend"] == "worse":
            spec = CATALOGUE[item["metric"]]
            candidates.append((spec.key, f"{spec.label} in {item['week']} was {value_text(spec, item['value'])} "
                                         f"against a trailing mean of {value_text(spec, item['trailing_mean'])} "
                                         f"(z={trimmed(item['z_score'], 2)}): {spec.impact}."))
    for key in _changed(blob, "worse"):
        spec, entry = CATALOGUE[key], metrics[key]
        candidates.append((key, f"{spec.label} is worsening ({format_change(spec, entry)}): {CATALOGUE[key].impact}."))
    candidates += _level_risks(metrics)
    for spec in CARD_METRICS:
        entry = metrics.get(spec.key)
        if entry is not None and entry["value"] is not None and 0 < entry["sample_size"] < LOW_SAMPLE:
            candidates.append((spec.key, f"{spec.label} rests on {entry['sample_size']} {spec.sample_noun}: "
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
        if len(recommendations) < 3 and CATALOGUE[key].advice not in recommendations:
            recommendations.append(CATALOGUE[key].advice)
    for advice in _DEFAULT_ADVICE:
        if len(recommendations) < 3 and advice not in recommendations:
            recommendations.append(advice)
    return {"insights": insights, "risks": risks, "recommendations": recommendations}
