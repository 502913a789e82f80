"""SLO definitions: OpenSLO `openslo/v1` documents named by `slos.files`, and incident-based SLOs (`slos.incidents`).

What we read of an OpenSLO document (https://github.com/OpenSLO/OpenSLO, v1):

    apiVersion: openslo/v1
    kind: SLO
    metadata: {name: checkout-availability, labels: {team: platform}}
    spec:
      service: checkout
      indicator:                      # inline; an `indicatorRef` is not supported (yet)
        metadata: {name: checkout-requests}
        spec:
          ratioMetric:
            counter: true
            good:  {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{job="checkout",code!~"5.."}'}}}
            total: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{job="checkout"}'}}}
            # or `bad:` instead of `good:`
      timeWindow: [{duration: 28d, isRolling: true}]    # 28d or 30d
      budgetingMethod: Occurrences
      objectives: [{target: 0.999}]

A query is either a counter selector (a metric name and/or label matchers), which becomes
`sum(increase(SELECTOR[<range>]))`, or a query containing Sloth's `{{.window}}`, which gets the range. A document
we cannot use is reported by file, name and reason (`SloProblem`); the others still load. No Dagster import.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from emd.config import SLO_WINDOW_DAYS, ProjectConfig

# A PromQL instant-vector selector: metric name and/or {matchers}; matcher values may hold anything but quotes.
_MATCHER = r'\s*[A-Za-z_][A-Za-z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*'
SELECTOR_RE = re.compile(r"^\s*(?:[A-Za-z_:][A-Za-z0-9_:]*)?\s*(?:\{(?:" + _MATCHER + r"(?:," + _MATCHER
                         + r")*,?)?\s*\})?\s*$")
WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.window\s*\}\}")
DURATION_RE = re.compile(r"^(\d+)d$")


@dataclass(frozen=True)
class Slo:
    """One SLO: `kind` ratio (Prometheus good/bad and total queries) or incidents (downtime from incidents)."""

    name: str
    service: str
    team: str
    target: float
    window_days: int
    kind: str  # ratio | incidents
    good_query: str | None = None  # ratio: exactly one of good_query / bad_query
    bad_query: str | None = None
    total_query: str | None = None
    pagerduty_services: tuple[str, ...] = ()
    source: str = ""  # the file it came from, or `slos.incidents.<name>`

    def queries(self, window: str) -> dict[str, str]:
        """PromQL per series (`good` or `bad`, and `total`) for the increase over `window` (`1d`, `24h`)."""
        out = {"good": self.good_query, "bad": self.bad_query, "total": self.total_query}
        return {series: promql(query, window) for series, query in out.items() if query is not None}


@dataclass(frozen=True)
class SloProblem:
    source: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: SLO {self.name!r} cannot be used: {self.reason}"


@dataclass
class SloDefinitions:
    slos: list[Slo] = field(default_factory=list)
    problems: list[SloProblem] = field(default_factory=list)

    def ratio(self) -> list[Slo]:
        return [s for s in self.slos if s.kind == "ratio"]


def promql(query: str, window: str) -> str:
    """The query of one range: Sloth's `{{.window}}` filled in, or a counter selector wrapped in
    sum(increase(...))."""
    if WINDOW_PLACEHOLDER.search(query):
        return WINDOW_PLACEHOLDER.sub(window, query).strip()
    return f"sum(increase({query.strip()}[{window}]))"


def query_problem(query: Any) -> str | None:
    if not isinstance(query, str) or not query.strip():
        return "has no query"
    if WINDOW_PLACEHOLDER.search(query):
        return None
    if not SELECTOR_RE.match(query) or query.strip() in ("", "{}"):
        return (f"query {query.strip()!r} is neither a counter selector (metric{{label=\"value\"}}) nor a query "
                "with {{.window}}")
    return None


class _Unusable(ValueError):
    pass


def _get(mapping: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _team(doc: dict[str, Any]) -> str:
    labels = _get(doc, "metadata", "labels") or {}
    team = labels.get("team") if isinstance(labels, dict) else None
    if isinstance(team, list) and len(team) == 1:  # OpenSLO v1 allows a label's value to be a list
        team = team[0]
    if not isinstance(team, str) or not team.strip():
        raise _Unusable("metadata.labels.team is missing: it names the team (under `teams`) that owns the SLO")
    return team.strip()


def _window_days(spec: dict[str, Any]) -> int:
    windows = spec.get("timeWindow")
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise _Unusable("spec.timeWindow must hold one window")
    window = windows[0]
    match = DURATION_RE.match(str(window.get("duration", "")))
    if not window.get("isRolling") or match is None or int(match.group(1)) not in SLO_WINDOW_DAYS:
        raise _Unusable(f"spec.timeWindow must be rolling 28d or 30d (got {window.get('duration')!r}, "
                        f"isRolling {window.get('isRolling')!r})")
    return int(match.group(1))


def _ratio_queries(spec: dict[str, Any]) -> dict[str, str]:
    if spec.get("indicatorRef") is not None:
        raise _Unusable("spec.indicatorRef is not supported: inline the SLI under spec.indicator")
    ratio = _get(spec, "indicator", "spec", "ratioMetric")
    if not isinstance(ratio, dict):
        raise _Unusable("spec.indicator.spec.ratioMetric is missing: only ratio indicators are supported")
    if ratio.get("counter") is False:
        raise _Unusable("ratioMetric.counter is false: only counters (events that only go up) are supported")
    sides = [s for s in ("good", "bad") if ratio.get(s) is not None]
    if len(sides) != 1 or ratio.get("total") is None:
        raise _Unusable("ratioMetric needs `total` and exactly one of `good` or `bad`")
    out: dict[str, str] = {}
    for side in (sides[0], "total"):
        source = _get(ratio, side, "metricSource") or {}
        kind = source.get("type") if isinstance(source, dict) else None
        if kind != "Prometheus":
            raise _Unusable(f"ratioMetric.{side}.metricSource.type is {kind!r}: only Prometheus is supported")
        query = _get(source, "spec", "query")
        problem = query_problem(query)
        if problem:
            raise _Unusable(f"ratioMetric.{side} {problem}")
        out[side] = str(query).strip()
    return out


def parse_document(doc: Any, source: str, teams: set[str]) -> Slo:
    if not isinstance(doc, dict):
        raise _Unusable("is not a mapping")
    if doc.get("apiVersion") != "openslo/v1":
        raise _Unusable(f"apiVersion is {doc.get('apiVersion')!r}, not openslo/v1")
    if doc.get("kind") != "SLO":
        raise _Unusable(f"kind is {doc.get('kind')!r}, not SLO")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise _Unusable("spec is missing")
    team = _team(doc)
    if team not in teams:
        raise _Unusable(f"metadata.labels.team {team!r} is not a team under `teams` (known: "
                        f"{', '.join(sorted(teams)) or 'none'})")
    if spec.get("budgetingMethod") != "Occurrences":
        raise _Unusable(f"budgetingMethod is {spec.get('budgetingMethod')!r}: only Occurrences is supported")
    window = _window_days(spec)
    queries = _ratio_queries(spec)
    objectives = spec.get("objectives")
    target = objectives[0].get("target") if isinstance(objectives, list) and len(objectives) == 1 \
        and isinstance(objectives[0], dict) else None
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target < 1:
        raise _Unusable(f"spec.objectives must hold one objective whose target is a fraction between 0 and 1 "
                        f"(got {target!r})")
    service = spec.get("service")
    if not isinstance(service, str) or not service.strip():
        raise _Unusable("spec.service is missing")
    return Slo(name=str(_get(doc, "metadata", "name")), service=service.strip(), team=team, target=float(target),
               window_days=window, kind="ratio", good_query=queries.get("good"), bad_query=queries.get("bad"),
               total_query=queries["total"], source=source)


def _files(config: ProjectConfig) -> tuple[list[Path], list[SloProblem]]:
    base = config.source_path.parent if config.source_path else Path.cwd()
    paths: list[Path] = []
    problems: list[SloProblem] = []
    for pattern in config.slos.files:
        found = sorted(Path(p) for p in glob.glob(str(base / pattern), recursive=True) if Path(p).is_file())
        if not found:
            problems.append(SloProblem(f"slos.files {pattern!r}", "*", f"matches no file under {base}"))
        paths += [p for p in found if p not in paths]
    return paths, problems


def load_slos(config: ProjectConfig) -> SloDefinitions:
    """Every SLO the config names; unusable documents are reported in `problems`, the others load."""
    out = SloDefinitions()
    teams = {t.name for t in config.teams}
    paths, out.problems = _files(config)
    seen: dict[str, str] = {}

    def add(slo: Slo) -> None:
        if slo.name in seen:
            out.problems.append(SloProblem(slo.source, slo.name, f"the name is also used by {seen[slo.name]}"))
            return
        seen[slo.name] = slo.source
        out.slos.append(slo)

    for path in paths:
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError) as exc:
            out.problems.append(SloProblem(str(path), "*", f"cannot be read as YAML: {exc}"))
            continue
        for index, doc in enumerate(d for d in docs if d is not None):
            name = str(_get(doc, "metadata", "name") or f"document {index + 1}")
            if _get(doc, "metadata", "name") is None:
                out.problems.append(SloProblem(str(path), name, "metadata.name is missing"))
                continue
            try:
                add(parse_document(doc, str(path), teams))
            except _Unusable as exc:
                out.problems.append(SloProblem(str(path), name, str(exc)))
    for item in config.slos.incidents:
        add(Slo(name=item.name, service=item.service, team=item.team, target=item.target,
                window_days=item.window_days, kind="incidents", pagerduty_services=item.pagerduty_services,
                source=f"slos.incidents.{item.name}"))
    return out
