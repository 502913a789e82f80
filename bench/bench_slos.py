"""SLOs at `--scale large` with 50 SLOs: Prometheus requests per SLO-day of the ingestion, and the /slos page's
render time.

The mock server serves the large synthetic org (10 teams) with its Prometheus-compatible `/api/v1/query`
(mock_apis/prometheus.py); 50 OpenSLO documents (5 per team, over the mock's `http_requests_total`) are ingested by
the real `slo_events` asset for `--days` days (its requests counted by the mock), the SLO marts are built by
dbt (`dbt run`; the other sources stay empty, so no deployments are marked), the build is published as the pipeline publishes it, and the /slos
page is rendered with streamlit's AppTest from the app's entry point (`--repeat` runs; first and warm p50).

    .venv/bin/python bench/bench_slos.py [--days 28] [--slos 50] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = date(2026, 3, 31)

SLO_TEMPLATE = """apiVersion: openslo/v1
kind: SLO
metadata: {{name: {name}, labels: {{team: {team}}}}}
spec:
  service: {service}
  indicator:
    spec:
      ratioMetric:
        counter: true
        good: {{metricSource: {{type: Prometheus, spec: {{query: 'http_requests_total{{service="{service}",code!~"5.."}}'}}}}}}
        total: {{metricSource: {{type: Prometheus, spec: {{query: 'http_requests_total{{service="{service}"}}'}}}}}}
  timeWindow: [{{duration: 28d, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives: [{{target: {target}}}]
"""


def main() -> None:
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--slos", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])

    import requests
    from dagster import materialize

    from emd.settings import parse_database_url
    from emd.snapshot import publish_build
    from emd.warehouse import Warehouse
    from mock_apis.org import SyntheticOrg
    from mock_apis.server import MockApi, MockState
    from orchestration.defs.dbt.project import dbt_vars, run_dbt
    from orchestration.defs.slos.assets import slo_events
    from orchestration.defs.slos.resource import PrometheusResource
    from orchestration.resources import ProjectConfigResource, WarehouseResource

    org = SyntheticOrg(seed=7, anchor=ANCHOR, scale="large")
    with tempfile.TemporaryDirectory() as tmp_name, MockApi(MockState(org=org)) as api:
        tmp = Path(tmp_name)
        config = org.config()
        config["slos"] = {"files": ["slos/*.yaml"]}
        (tmp / "slos").mkdir()
        targets = (0.99, 0.995, 0.999, 0.98, 0.9)
        for i in range(args.slos):
            team = org.teams[i % len(org.teams)]
            name = f"{team}-api-slo-{i:02d}"
            (tmp / "slos" / f"{name}.yaml").write_text(SLO_TEMPLATE.format(
                name=name, team=team, service=f"{team}-api", target=targets[i // len(org.teams) % len(targets)]),
                encoding="utf-8")
        config_path = tmp / "config.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        live = tmp / "warehouse.duckdb"
        os.environ.update({**api.env(), "EMD_CONFIG": str(config_path), "DATABASE_URL": f"duckdb:///{live}"})
        target = parse_database_url(f"duckdb:///{live}")
        warehouse = Warehouse(target)
        with warehouse.connect() as conn:
            warehouse.ensure_raw_tables(conn)

        days = [(ANCHOR - timedelta(days=d)).isoformat() for d in range(args.days - 1, -1, -1)]
        before = requests.get(api.url + "/_mock/counts", timeout=5).json().get("prometheus:query", 0)
        began = time.monotonic()
        resources = {"prometheus": PrometheusResource(), "project_config": ProjectConfigResource(),
                     "warehouse": WarehouseResource()}
        for day in days:
            materialize([slo_events], resources=resources, partition_key=day)
        ingest_s = time.monotonic() - began
        sent = requests.get(api.url + "/_mock/counts", timeout=5).json().get("prometheus:query", 0) - before
        print(f"ingestion: {args.slos} SLOs x {args.days} days: {sent} Prometheus requests = "
              f"{sent / (args.slos * args.days):.2f} per SLO-day; {ingest_s:.1f}s "
              f"({ingest_s / args.days:.2f}s per day, one Dagster run each)", flush=True)

        from emd.config import load_config

        began = time.monotonic()
        run_dbt(["run"], target, dbt_vars(load_config(config_path)), work_dir=tmp)
        print(f"dbt run (every model; sources other than Prometheus empty) in {time.monotonic() - began:.1f}s",
              flush=True)
        publish_build(warehouse)
        rows = warehouse.query("select count(*), count(distinct slo_name) from fct_slo_days")[0]
        print(f"fct_slo_days: {rows[0]} rows, {rows[1]} SLOs", flush=True)

        from emd.metrics import slos
        from emd.metrics.filters import Filters
        from emd.metrics.source import open_source

        source = open_source()
        began = time.monotonic()
        found = slos.reports(source, Filters(start=date.fromisoformat(days[0]), end=date.fromisoformat(days[-1])),
                             True)
        print(f"layer: slos.reports() of {len(found)} SLOs with their burn-downs in "
              f"{(time.monotonic() - began) * 1000:.0f} ms", flush=True)

        from streamlit.testing.v1 import AppTest

        app = ROOT / "app" / "streamlit_app.py"
        timings = []
        for _ in range(args.repeat):
            at = AppTest.from_file(str(app), default_timeout=120)
            at.query_params.update({"start": days[0], "end": days[-1]})
            at.run()
            began = time.monotonic()
            at.switch_page("app_pages/slos.py").run()
            timings.append(time.monotonic() - began)
            assert not at.exception, [e.value for e in at.exception]
            shown = sum(1 for m in at.metric if m.label == "Error budget remaining")
            assert shown == min(args.slos, 12), (f"the page showed {shown} SLOs in detail: "
                                        f"{[i.value for i in at.info]} {[e.value for e in at.error]} {[m.value for m in at.markdown][:5]} {[t.value for t in at.title]}")
        print(f"/slos page with {args.slos} SLOs (a table of all, {min(args.slos, 12)} {args.days}-day burn-downs): first {timings[0]:.2f}s, "
              f"p50 {statistics.median(timings):.2f}s, max {max(timings):.2f}s over {args.repeat} renders", flush=True)


if __name__ == "__main__":
    main()
