"""Mock Prometheus HTTP API under `/prometheus/`: `GET /prometheus/api/v1/query` (instant queries).

The synthetic org's services count HTTP requests in one counter, `http_requests_total{service="<team>-api",
code="200"|"500"}`, a fixed number per hour (from the org's seed: 400-800 requests an hour, 0.2 % errors, and a bad
day of 4 % errors per service). The mock evaluates the queries the product sends for SLO events (emd/slos.py,
orchestration/defs/slos/resource.py): `sum(increase(SELECTOR[RANGE]))`, optionally wrapped in `sum(...)` and
`label_replace(..., "<label>", "<value>", "", "")`, several joined with `or`. Anything else is answered as Prometheus
answers a query it cannot parse: 400 `{"status": "error", "errorType": "bad_data", "error": ...}`. Answers have
Prometheus's shape: `{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {...}, "value":
[<time>, "<number>"]}]}}`; a selector that matches no series gives an empty result, as in Prometheus.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mock_apis.org import SyntheticOrg
from mock_apis.server import MockState, Request, Response, Router

METRIC = "http_requests_total"
_RANGE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INCREASE = re.compile(r"^sum\(increase\((?P<selector>[^\[\]]*)\[(?P<range>\w+)\]\)\)$")
_LABEL_REPLACE = re.compile(r'^label_replace\((?P<inner>.*),\s*"(?P<label>\w+)",\s*"(?P<value>[^"]*)",\s*"",\s*""\)$')
_MATCHER = re.compile(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')


class BadQuery(ValueError):
    pass


def services(org: SyntheticOrg) -> list[str]:
    return [f"{team}-api" for team in org.teams]


def hourly_requests(org: SyntheticOrg, service: str, day: date) -> tuple[int, int]:
    """(good, error) requests per hour of `day` for `service`: the same every hour of that day."""
    rng = org.rng(f"prometheus:{service}:{day.isoformat()}")
    per_hour = rng.randint(400, 800)
    bad_day = org.rng(f"prometheus:{service}:bad-day").randint(0, max(0, org.days - 1))
    share = 0.04 if (day - org.start).days == bad_day else 0.002
    errors = round(per_hour * share)
    return per_hour - errors, errors


def _seconds(text: str) -> int:
    match = _RANGE.match(text)
    if not match:
        raise BadQuery(f'bad duration "{text}"')
    return int(match.group(1)) * _UNITS[match.group(2)]


def _matches(labels: dict[str, str], selector: str) -> bool:
    name, _, rest = selector.partition("{")
    if name.strip() and name.strip() != METRIC:
        return False
    body = rest.rstrip().removesuffix("}") if rest else ""
    pos = 0
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if not m:
            raise BadQuery(f"unexpected character in selector {selector!r}")
        label, op, value = m.groups()
        have = labels.get(label, "")
        ok = {"=": have == value, "!=": have != value, "=~": re.fullmatch(value, have) is not None,
              "!~": re.fullmatch(value, have) is None}[op]
        if not ok:
            return False
        pos = m.end()
    return True


def increase(org: SyntheticOrg, labels: dict[str, str], start: datetime, end: datetime) -> float:
    """Requests counted in (start, end] for one series (hours split evenly, so partial hours are exact too)."""
    total = 0.0
    t = start
    while t < end:
        hour_end = min(end, t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
        day = t.date()
        if org.start <= day <= org.anchor:
            good, bad = hourly_requests(org, labels["service"], day)
            total += (good if labels["code"] == "200" else bad) * (hour_end - t) / timedelta(hours=1)
        t = hour_end
    return total


def evaluate(org: SyntheticOrg, query: str, at: datetime) -> list[dict[str, Any]]:
    result = []
    for part in query.split(" or "):
        part = part.strip()
        extra: dict[str, str] = {}
        if m := _LABEL_REPLACE.match(part):
            part, extra = m.group("inner").strip(), {m.group("label"): m.group("value")}
        while part.startswith("sum(sum("):
            part = part[4:-1]
        m = _INCREASE.match(part)
        if not m:
            raise BadQuery(f"this mock evaluates only sum(increase(selector[range])): {part!r}")
        span = timedelta(seconds=_seconds(m.group("range")))
        series = [{"service": s, "code": code} for s in services(org) for code in ("200", "500")]
        chosen = [labels for labels in series if _matches({"__name__": METRIC, **labels}, m.group("selector"))]
        if not chosen:
            continue  # no series: an empty vector, as Prometheus answers
        value = sum(increase(org, labels, at - span, at) for labels in chosen)
        result.append({"metric": extra, "value": [at.timestamp(), repr(float(value))]})
    return result


def register(router: Router, state: MockState) -> None:
    def query(req: Request, _m: re.Match[str]) -> Response:
        state.count("prometheus:query")
        text = req.arg("query") or ""
        try:
            when = req.arg("time")
            at = datetime.fromtimestamp(float(when), UTC) if when else datetime.now(UTC)
            found = evaluate(state.org, text, at)
        except (BadQuery, ValueError) as exc:
            return Response(400, {"status": "error", "errorType": "bad_data", "error": str(exc)})
        return Response(200, {"status": "success", "data": {"resultType": "vector", "result": found}})

    router.add("GET", "/prometheus/api/v1/query", query)


def demo_slo_files(org: SyntheticOrg) -> dict[str, str]:
    """OpenSLO documents for the demo config: one availability SLO over the first team's service."""
    team = org.teams[0]
    service = f"{team}-api"
    return {f"{service}.yaml": f"""apiVersion: openslo/v1
kind: SLO
metadata:
  name: {service}-availability
  displayName: {service} availability
  labels: {{team: {team}}}
spec:
  service: {service}
  description: 99.5% of requests to {service} succeed (HTTP 5xx are errors).
  indicator:
    metadata: {{name: {service}-requests}}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec: {{query: '{METRIC}{{service="{service}",code!~"5.."}}'}}
        total:
          metricSource:
            type: Prometheus
            spec: {{query: '{METRIC}{{service="{service}"}}'}}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: 99.5% of requests succeed
      target: 0.995
"""}


def demo_slos(org: SyntheticOrg) -> dict[str, Any]:
    """The config's `slos` for the demo: the OpenSLO file above and an incident-based SLO of the second team."""
    team = org.teams[1] if len(org.teams) > 1 else org.teams[0]
    return {"files": ["slos/*.yaml"],
            "incidents": {f"{team}-uptime": {"team": team, "target": 0.99, "window_days": 30, "service": f"{team}-app"}}}
