"""SLOs and error budgets as they run (docs/metrics.md "SLOs and error budgets"): OpenSLO files over a real
Prometheus server (its history written with `promtool tsdb create-blocks-from openmetrics`), an incident-based SLO
over the mock PagerDuty (the hand-made org of dbt_fixtures/sources_scenario.py), `emd pipeline`'s jobs, the marts,
the metrics layer and `emd api` over real HTTP. Every expected number is worked out by hand below."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from conftest import ANCHOR
from dagster import materialize
from dbt_fixtures import sources_scenario as scenario

from emd.config import load_config
from emd.metrics import slos as layer
from emd.metrics.filters import Filters
from emd.metrics.source import open_source, reading
from emd.settings import parse_database_url
from emd.slos import load_slos
from emd.warehouse import Warehouse
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi, MockState
from orchestration.defs.alerts.slo_alerts import post_slo_alerts
from orchestration.defs.slos.assets import slo_events
from orchestration.defs.slos.resource import PrometheusResource
from orchestration.pipeline import INGESTION_JOB, MARTS_JOB, run_pipeline
from orchestration.resources import ProjectConfigResource, WarehouseResource
from tests.fixtures.browser import chromium_page, chromium_path, dashboard, free_port
from tests.fixtures.prometheus import counter_history, openmetrics, prometheus_server, utc_day

# The checkout service's requests per UTC day (from 03-01, a quiet day that only starts the counters):
# 03-02 9,950 good + 50 errors; 03-03 19,000 + 1,000; 03-04 10,000 + 0; 03-05 no traffic (the series exist, no
# increase); no samples after 03-06 00:00, so 03-06 has no data at all.
GOOD_PER_DAY = [0, 9950, 19000, 10000, 0]
ERRORS_PER_DAY = [0, 50, 1000, 0, 0]
TEN_MINUTES = timedelta(minutes=10)

SLO_FILE = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-availability, labels: {team: platform}}
spec:
  service: checkout
  indicator:
    metadata: {name: checkout-requests}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{service="checkout",code!~"5.."}'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{service="checkout"}'}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{displayName: 99% of requests succeed, target: 0.99}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-errors, labels: {team: [platform]}}
spec:
  service: checkout
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec: {query: 'sum(increase(http_requests_total{service="checkout",code=~"5.."}[{{.window}}]))'}
        total: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{service="checkout"}'}}}
  timeWindow: [{duration: 30d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.999}]
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: just-an-sli}
spec: {}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: latency-timeslices, labels: {team: platform}}
spec:
  service: checkout
  indicator: {spec: {ratioMetric: {counter: true, good: {metricSource: {type: Prometheus, spec: {query: 'a_total'}}},
                                   total: {metricSource: {type: Prometheus, spec: {query: 'b_total'}}}}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Timeslices
  objectives: [{target: 0.99, timeSliceTarget: 0.95}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: datadog-slo, labels: {team: platform}}
spec:
  service: checkout
  indicator: {spec: {ratioMetric: {counter: true, good: {metricSource: {type: Datadog, spec: {query: 'sum:ok{*}'}}},
                                   total: {metricSource: {type: Datadog, spec: {query: 'sum:all{*}'}}}}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: rate-query, labels: {team: platform}}
spec:
  service: checkout
  indicator: {spec: {ratioMetric: {counter: true, good: {metricSource: {type: Prometheus, spec: {query: 'rate(ok_total[5m])'}}},
                                   total: {metricSource: {type: Prometheus, spec: {query: 'all_total'}}}}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
"""


def history() -> str:
    first = utc_day("2026-03-01")
    return openmetrics({"http_requests": [
        # a sample every 10 minutes: the deployments' 24-hour ranges (10:30, 12:40) start and end on samples
        *counter_history("http_requests", {"service": "checkout", "code": "200"}, first, GOOD_PER_DAY, step=TEN_MINUTES),
        *counter_history("http_requests", {"service": "checkout", "code": "500"}, first, ERRORS_PER_DAY, step=TEN_MINUTES),
    ]})


def write_config(folder: Path, incident_target: float = 0.9) -> Path:
    config = scenario.config()
    config["slos"] = {"files": ["slos/*.yaml"],
                      "incidents": {"checkout": {"team": "platform", "target": incident_target, "window_days": 28}}}
    (folder / "slos").mkdir(parents=True, exist_ok=True)
    (folder / "slos" / "checkout.yaml").write_text(SLO_FILE, encoding="utf-8")
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def query_requests(prometheus_url: str) -> int:
    """Prometheus's own count of answered instant queries (its /metrics), so the test does not trust our counter."""
    text = requests.get(prometheus_url + "/metrics", timeout=5).text
    return sum(int(float(m)) for m in re.findall(r'prometheus_http_requests_total\{[^}]*handler="/api/v1/query"[^}]*\} (\S+)', text))


# ------------------------------------------------------------------------------------------------ definitions


def test_unusable_openslo_documents_are_reported_by_name_and_reason_and_the_others_load(tmp_path):
    definitions = load_slos(load_config(write_config(tmp_path)))
    assert [(s.name, s.kind, s.team, s.target, s.window_days) for s in definitions.slos] == [
        ("checkout-availability", "ratio", "platform", 0.99, 28),
        ("checkout-errors", "ratio", "platform", 0.999, 30),
        ("checkout", "incidents", "platform", 0.9, 28),
    ]
    availability, errors = definitions.slos[:2]
    assert availability.queries("1d") == {
        "good": 'sum(increase(http_requests_total{service="checkout",code!~"5.."}[1d]))',
        "total": 'sum(increase(http_requests_total{service="checkout"}[1d]))'}
    assert errors.queries("24h")["bad"] == 'sum(increase(http_requests_total{service="checkout",code=~"5.."}[24h]))'
    problems = {p.name: p.reason for p in definitions.problems}
    assert set(problems) == {"just-an-sli", "latency-timeslices", "datadog-slo", "rate-query"}
    assert "kind is 'SLI'" in problems["just-an-sli"]
    assert "Timeslices" in problems["latency-timeslices"]
    assert "'Datadog'" in problems["datadog-slo"] and "only Prometheus" in problems["datadog-slo"]
    assert "rate(ok_total[5m])" in problems["rate-query"]
    assert all(str(tmp_path / "slos" / "checkout.yaml") == p.source for p in definitions.problems)


# ----------------------------------------------------------------------------------- the pipeline, as it runs


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator[dict]:
    """`emd pipeline`'s ingestion and marts jobs over 03-02..03-06: GitHub and PagerDuty from the mock over HTTP,
    the SLO events from a real Prometheus."""
    tmp = tmp_path_factory.mktemp("slos")
    config_path = write_config(tmp)
    state = MockState(org=SyntheticOrg(seed=7, anchor=ANCHOR))
    state.extra["github_data"] = scenario.github()
    state.extra["pagerduty_incidents"] = scenario.pagerduty()
    with prometheus_server(history(), tmp / "prometheus") as prometheus_url, MockApi(state) as api, \
            pytest.MonkeyPatch.context() as mp:
        for key, value in api.env().items():
            mp.setenv(key, value)
        mp.setenv("PROMETHEUS_URL", prometheus_url)
        mp.setenv("EMD_CONFIG", str(config_path))
        mp.setenv("DATABASE_URL", f"duckdb:///{tmp / 'warehouse.duckdb'}")
        mp.delenv("DAGSTER_HOME", raising=False)
        before = query_requests(prometheus_url)
        run_pipeline(date.fromisoformat(scenario.START_DAY), date.fromisoformat(scenario.END_DAY),
                     steps=(INGESTION_JOB, MARTS_JOB), log=lambda _: None)
        first = query_requests(prometheus_url) - before
        # A refresh of 03-03 and 03-04 once the marts know the deployments: their 24 hours get queried
        run_pipeline(date(2026, 3, 3), date(2026, 3, 4), steps=(INGESTION_JOB, MARTS_JOB), log=lambda _: None)
        yield {"tmp": tmp, "prometheus_url": prometheus_url, "requests": first,
               "refresh_requests": query_requests(prometheus_url) - before - first,
               "config_path": config_path, "database_url": f"duckdb:///{tmp / 'warehouse.duckdb'}"}


def read(built: dict, sql: str, params: list | None = None) -> list[dict]:
    with Warehouse(parse_database_url(built["database_url"])).connect(read_only=True) as conn:
        cursor = conn.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def test_one_prometheus_query_per_slo_and_day(built):
    # 2 Prometheus SLOs x 5 days, good and total in one query each, no retries (Prometheus's own count); the first
    # run knows no deployment yet (the marts are built after ingestion)
    assert built["requests"] == 10
    # the refresh of 03-03 and 03-04: 2 SLOs x 2 days, plus one query per SLO for the deployment whose 24 hours
    # ended on each day (run 11 of 03-02 10:30 on 03-03, run 13 of 03-03 12:40 on 03-04)
    assert built["refresh_requests"] == 2 * 2 + 2 * 2
    raw = read(built, "select slo_name, partition_date, good, bad, total from raw_slo_events "
                      "where slo_name = 'checkout-availability' order by partition_date")
    assert [r["partition_date"] for r in raw] == [date(2026, 3, d) for d in (2, 3, 4, 5, 6)]
    assert [r["total"] for r in raw[:4]] == pytest.approx([10000, 20000, 10000, 0])
    assert [r["good"] for r in raw[:4]] == pytest.approx([9950, 19000, 10000, 0])
    # 03-06: no series at all -> no data, not 100 %
    assert (raw[4]["good"], raw[4]["bad"], raw[4]["total"]) == (None, None, None)


def test_window_sli_budget_and_burn_rate_of_a_prometheus_slo(built):
    days = {r["date"]: r for r in read(built, "select * from fct_slo_days where slo_name = 'checkout-availability'")}
    # target 0.99 -> budget 0.01. 03-02: 9,950 / 10,000 = 0.995, burn 0.005 / 0.01 = 0.5, consumed 0.5 -> 50 % left
    assert days[date(2026, 3, 2)]["window_sli"] == pytest.approx(0.995)
    assert days[date(2026, 3, 2)]["burn_rate"] == pytest.approx(0.5)
    assert days[date(2026, 3, 2)]["error_budget_remaining_pct"] == pytest.approx(50.0)
    assert days[date(2026, 3, 2)]["status"] == "healthy"
    # 03-03: day 0.95 -> burn 5; window 28,950 / 30,000 = 0.965 -> consumed 3.5 -> -250 % (overspent)
    assert days[date(2026, 3, 3)]["burn_rate"] == pytest.approx(5.0)
    assert days[date(2026, 3, 3)]["error_budget_remaining_pct"] == pytest.approx(-250.0)
    assert days[date(2026, 3, 3)]["status"] == "exhausted"
    # 03-05: no traffic -> no burn rate; 03-06: no data -> none either; the window stays 38,950 / 40,000 = 0.97375
    for day in (date(2026, 3, 5), date(2026, 3, 6)):
        assert days[day]["burn_rate"] is None
        assert days[day]["window_sli"] == pytest.approx(0.97375)
        assert days[day]["error_budget_remaining_pct"] == pytest.approx(-162.5)
    # the `bad` query with {{.window}}: 03-02 50 of 10,000 bad, target 0.999 -> burn 0.005 / 0.001 = 5, -400 % left
    errors = read(built, "select * from fct_slo_days where slo_name = 'checkout-errors' and date = '2026-03-02'")[0]
    assert errors["burn_rate"] == pytest.approx(5.0)
    assert errors["error_budget_remaining_pct"] == pytest.approx(-400.0)


def test_incident_slo_downtime_from_the_mock_pagerduty(built):
    days = {r["date"]: r for r in read(built, "select * from fct_slo_days where slo_name = 'checkout'")}
    # platform's high-urgency PagerDuty incidents: #1 03-03 15:00-18:00 (180 min); #2 from 03-04 12:00, unresolved,
    # so down to the end of the last ingested day (03-06): 720 min on 03-04, 1,440 on 03-05 and 03-06
    assert {d: r["bad"] for d, r in days.items()} == {
        date(2026, 3, 2): 0, date(2026, 3, 3): pytest.approx(180), date(2026, 3, 4): pytest.approx(720),
        date(2026, 3, 5): pytest.approx(1440), date(2026, 3, 6): pytest.approx(1440)}
    # 03-03, target 0.9: window 2,700 / 2,880 good minutes = 0.9375 -> consumed 0.0625 / 0.1 = 0.625 -> 37.5 % left;
    # burn (180 / 1,440) / 0.1 = 1.25
    assert days[date(2026, 3, 3)]["window_sli"] == pytest.approx(0.9375)
    assert days[date(2026, 3, 3)]["error_budget_remaining_pct"] == pytest.approx(37.5)
    assert days[date(2026, 3, 3)]["burn_rate"] == pytest.approx(1.25)
    assert days[date(2026, 3, 3)]["status"] == "healthy"


@pytest.fixture(scope="module")
def api_url(built) -> Iterator[str]:
    """`emd api` (a real uvicorn process) over the pipeline's published build."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMD_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": built["database_url"], "EMD_CONFIG": str(built["config_path"])})
    process = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "api", "--port", str(port)],
                               cwd=built["tmp"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if requests.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "emd api did not answer /healthz within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_get_slos_answers_the_contract_with_deployment_burn(api_url):
    answer = requests.get(api_url + "/slos", params={"team": "platform", "from": "2026-03-02", "to": "2026-03-03"},
                          timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["filters"]["team"] == "platform" and body["filters"]["to"] == "2026-03-03"
    slos = {s["name"]: s for s in body["slos"]}
    assert set(slos) == {"checkout", "checkout-availability", "checkout-errors"}
    availability = slos["checkout-availability"]
    assert availability["sli"] == pytest.approx(0.965)
    assert availability["error_budget_remaining_pct"] == pytest.approx(-250.0)
    assert availability["burn_rate"] == pytest.approx(5.0)
    assert (availability["status"], availability["service"], availability["window_days"]) == ("exhausted", "checkout", 28)
    checkout = slos["checkout"]
    assert (checkout["status"], checkout["target"]) == ("healthy", 0.9)
    # platform deployed in [03-02, 03-03]: workflow runs 11 (03-02 10:30) and 13 (03-03 12:40).
    # Run 13's next 24 h hold incident #1 (180 min) and the first 40 min of #2 (from 03-04 12:00) = 220 min of a
    # budget of (1 - 0.9) x 2,880 = 288 min at 03-03 -> 76.39 %; run 11's hold no downtime -> 0 %
    burned = {d["deployment_id"]: d for d in checkout["deployments"]}
    assert set(burned) == {"workflow:acme/mono:11", "workflow:acme/mono:13"}
    assert burned["workflow:acme/mono:11"]["budget_burned_pct"] == pytest.approx(0.0)
    assert burned["workflow:acme/mono:13"]["budget_burned_pct"] == pytest.approx(220 / 288 * 100)
    assert burned["workflow:acme/mono:13"]["deployed_at"].startswith("2026-03-03T12:40:00")
    # Prometheus SLO: run 11's 24 h = 13.5 h of 03-02 at 50/24 errors an hour + 10.5 h of 03-03 at 1,000/24 =
    # 28.125 + 437.5 = 465.625 bad of a budget of 0.01 x 30,000 = 300 -> 155.2 %; run 13's = 11 h 20 min of 03-03
    # = 472.22 (03-04 had no errors) -> 157.4 %
    ratio = {d["deployment_id"]: d["budget_burned_pct"] for d in availability["deployments"]}
    assert ratio == {"workflow:acme/mono:11": pytest.approx(465.625 / 300 * 100),
                     "workflow:acme/mono:13": pytest.approx((11 + 1 / 3) * 1000 / 24 / 300 * 100)}
    # a team with no SLOs answers an empty list, an unknown team a 422 naming `team`
    assert requests.get(api_url + "/slos", params={"team": "web"}, timeout=30).json()["slos"] == []
    unknown = requests.get(api_url + "/slos", params={"team": "nobody"}, timeout=30)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["query", "team"]


def test_the_layer_gives_the_burn_down_over_the_window(built, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", built["database_url"])
    source = open_source()
    reports = {r.name: r for r in layer.reports(source, Filters(team="platform", start=date(2026, 3, 2),
                                                                end=date(2026, 3, 6)), with_days=True)}
    burn_down = [(d.date.day, d.error_budget_remaining_pct) for d in reports["checkout-availability"].days]
    assert burn_down == [(2, pytest.approx(50.0)), (3, pytest.approx(-250.0)), (4, pytest.approx(-162.5)),
                         (5, pytest.approx(-162.5)), (6, pytest.approx(-162.5))]


# ------------------------------------------------------------------------------------------------- bad input


def test_unreachable_or_failing_prometheus_fails_the_day_naming_the_variable_and_the_slo(tmp_path, monkeypatch):
    config_path = write_config(tmp_path)
    monkeypatch.setenv("EMD_CONFIG", str(config_path))
    database_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    monkeypatch.setenv("DATABASE_URL", database_url)
    resources = {"prometheus": PrometheusResource(max_elapsed_s=3.0), "project_config": ProjectConfigResource(),
                 "warehouse": WarehouseResource()}
    with prometheus_server(history(), tmp_path / "prometheus") as prometheus_url:
        monkeypatch.setenv("PROMETHEUS_URL", prometheus_url)
        assert materialize([slo_events], resources=resources, partition_key="2026-03-02").success
        # a query Prometheus refuses (400 bad_data): the day fails naming the SLO and PROMETHEUS_URL
        broken = SLO_FILE.replace('code=~"5.."}[{{.window}}]))', 'code=~"5.."}[{{.window}}])')
        (tmp_path / "slos" / "checkout.yaml").write_text(broken, encoding="utf-8")
        refused = materialize([slo_events], resources=resources, partition_key="2026-03-02",
                              raise_on_error=False)
        assert not refused.success
        message = str(refused.get_step_failure_events()[0].event_specific_data.error)
        assert "checkout-errors" in message and "PROMETHEUS_URL" in message and "400" in message
    (tmp_path / "slos" / "checkout.yaml").write_text(SLO_FILE, encoding="utf-8")
    monkeypatch.setenv("PROMETHEUS_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    unreachable = materialize([slo_events], resources=resources, partition_key="2026-03-03", raise_on_error=False)
    assert not unreachable.success
    message = str(unreachable.get_step_failure_events()[0].event_specific_data.error)
    assert "checkout-availability" in message and "PROMETHEUS_URL" in message
    # the day written before is intact, the failed days wrote nothing
    stored = Warehouse(parse_database_url(database_url)).query(
        "select partition_date, slo_name, total from raw_slo_events order by slo_name")
    assert [(r[0], r[1]) for r in stored] == [(date(2026, 3, 2), "checkout-availability"),
                                              (date(2026, 3, 2), "checkout-errors")]
    assert [r[2] for r in stored] == pytest.approx([10000, 10000])


# ------------------------------------------------------------------------------------------------ the page


@pytest.mark.browser
@pytest.mark.skipif(chromium_path() is None, reason="headless Chromium is not installed at /usr/bin/chromium")
def test_slos_page_shows_the_burn_down_and_links_deployments_to_their_drilldown(built):
    with dashboard(built["database_url"], built["tmp"] / "streamlit.log", {"EMD_CONFIG": str(built["config_path"])}
                   ) as url, chromium_page({"width": 1400, "height": 2400}) as page:
        page.goto(f"{url}/slos?team=platform&start=2026-03-02&end=2026-03-03", wait_until="domcontentloaded")
        page.wait_for_function("document.querySelectorAll('[data-testid=\"stMetric\"]').length >= 12",
                               timeout=60_000)
        page.wait_for_function("document.querySelectorAll('.vega-embed').length >= 3", timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        text = page.locator('[data-testid="stMain"]').inner_text()
        # checkout-availability at 03-03: -250 % left, burn 5; the incident SLO: 37.5 % left, burn 1.25
        assert "checkout-availability · checkout · platform" in text
        assert "-250.0%" in text and "5.00" in text and "exhausted" in text
        assert "37.5%" in text and "1.25" in text and "healthy" in text
        # run 13 burned 220 of the incident SLO's 288 budget minutes in its next 24 h
        assert "76.4% of the budget in the next 24 h" in text
        link = page.locator('a[href*="drilldown?deployment=workflow%3Aacme%2Fmono%3A13"]').first
        with page.context.expect_page() as opened:  # Streamlit opens markdown links in a new tab
            link.click()
        drilldown = opened.value
        drilldown.wait_for_function("document.body.innerText.includes('workflow:acme/mono:13')", timeout=60_000)
        assert "/drilldown?" in drilldown.url and "team=platform" in drilldown.url


# ------------------------------------------------------------------------------- the card and Slack alerts


def test_the_sprint_health_blob_carries_the_teams_slos(built):
    from orchestration.defs.insights.blob import add_slos

    blob = {"team": "platform", "period": {"start": "2026-02-23T00:00:00+00:00", "end": "2026-03-04T00:00:00+00:00"}}
    with reading(parse_database_url(built["database_url"])) as source:
        add_slos(blob, source)
        other = {"team": "web", "period": blob["period"]}
        add_slos(other, source)
    # as of 03-03 (the period's last day), as the API answers for to=03-03
    assert blob["slos"]["checkout-availability"] == {
        "service": "checkout", "target": 0.99, "window_days": 28, "as_of": "2026-03-03", "sli": 0.965,
        "error_budget_remaining_pct": -250.0, "burn_rate": 5.0, "status": "exhausted"}
    assert blob["slos"]["checkout"]["error_budget_remaining_pct"] == 37.5
    assert "slos" not in other  # a team without SLOs: its blob (and cached card) stays as it was


def test_budget_crossings_post_once_per_window_and_edit_afterwards(built):
    from emd.slack import SlackPoster, slack_target
    from orchestration.defs.alerts.definitions import _publish, slo_budget_alerts

    wh = Warehouse(parse_database_url(built["database_url"]))
    target = slack_target()
    assert target is not None  # the mock Slack of the built fixture
    poster = SlackPoster(target)
    now = datetime(2026, 3, 4, 1, 0)

    def messages() -> list[dict]:
        return requests.get(target.base_url.split("/slack/")[0] + "/_mock/slack/messages", timeout=5).json()

    # as of 03-02: checkout-availability at 50 % (crosses 50), checkout-errors at -400 % (0); checkout 100 %
    first = post_slo_alerts(wh, "http://dash.example", poster, now, _publish, as_of=date(2026, 3, 2))
    assert (first["posted"], first["updated"]) == (2, 0)
    titles = sorted(m["blocks"][0]["text"]["text"] for m in messages())
    assert titles == ["SLO checkout-availability (platform): error budget below 50%",
                      "SLO checkout-errors (platform): error budget exhausted"]
    # as of 03-03: availability falls to -250 % -> its message is edited to "exhausted", not posted again;
    # checkout (incidents) drops to 37.5 % -> a new message; checkout-errors burned 50x (1,000 of 20,000 bad at
    # 0.999) -> a burn-rate message
    second = post_slo_alerts(wh, "http://dash.example", poster, now, _publish, as_of=date(2026, 3, 3))
    assert (second["posted"], second["updated"]) == (2, 2)
    titles = sorted(m["blocks"][0]["text"]["text"] for m in messages())
    assert titles == ["SLO checkout (platform): error budget below 50%",
                      "SLO checkout-availability (platform): error budget exhausted",
                      "SLO checkout-errors (platform): burn rate 50.0 on 2026-03-03",
                      "SLO checkout-errors (platform): error budget exhausted"]
    # the same day again: nothing new, nothing edited
    again = post_slo_alerts(wh, "http://dash.example", poster, now, _publish, as_of=date(2026, 3, 3))
    assert (again["posted"], again["updated"], again["unchanged"]) == (0, 0, 4)
    # the asset, as the sensor runs it after a refresh (as of the newest day, 03-06): the incident SLO's whole-day
    # outages on 03-05 and 03-06 burn 10x -> two burn messages; the three budget messages are edited
    result = materialize([slo_budget_alerts], resources={"project_config": ProjectConfigResource(),
                                                         "warehouse": WarehouseResource()})
    figures = {k: v.value for k, v in result.asset_materializations_for_node("slo_budget_alerts")[0].metadata.items()}
    assert (figures["posted"], figures["updated"]) == (2, 3)
    assert len(messages()) == 6
    assert "SLO checkout (platform): burn rate 10.0 on 2026-03-06" in {m["blocks"][0]["text"]["text"] for m in messages()}


# ------------------------------------------------------------------------------------------------- the demo


def test_the_demo_org_has_a_prometheus_slo_over_the_mock_and_an_incident_slo(mock_env, org, tmp_path):
    """`emd mock-api --write-config`'s SLOs, ingested from the mock's Prometheus-compatible API over HTTP."""
    from mock_apis.prometheus import demo_slo_files, demo_slos, hourly_requests

    config = org.config()
    config["slos"] = demo_slos(org)
    (tmp_path / "slos").mkdir()
    for name, text in demo_slo_files(org).items():
        (tmp_path / "slos" / name).write_text(text, encoding="utf-8")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    definitions = load_slos(load_config(config_path))
    assert definitions.problems == []
    assert sorted(s.kind for s in definitions.slos) == ["incidents", "ratio"]
    ratio = definitions.ratio()[0]
    assert materialize([slo_events], partition_key="2026-03-30", resources={
        "prometheus": PrometheusResource(), "project_config": ProjectConfigResource(),
        "warehouse": WarehouseResource()}).success
    stored = Warehouse(parse_database_url(os.environ["DATABASE_URL"])).query(
        "select slo_name, good, bad, total from raw_slo_events")
    # the mock counts the same number of requests every hour of a day: the day holds 24 of them
    good, errors = hourly_requests(org, ratio.service, date(2026, 3, 30))
    assert stored == [(ratio.name, pytest.approx(24 * good), pytest.approx(24 * errors),
                       pytest.approx(24 * (good + errors)))]
    # a query the mock cannot evaluate is answered as Prometheus answers a bad query
    refused = requests.get(os.environ["PROMETHEUS_URL"] + "/api/v1/query", params={"query": "up{"}, timeout=5)
    assert refused.status_code == 400 and refused.json()["status"] == "error"
    assert refused.json()["errorType"] == "bad_data"
