"""Request tracing and counters as they run (DESIGN.md "Observability"): the PagerDuty ingestion asset runs
through Dagster against the mock over HTTP (two days written, one failed), the build is published, and a real
`emd api` (uvicorn) answers with `X-Request-ID`, writes one JSON access line per request and serves
`GET /prometheus` in the Prometheus text format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import yaml
from dagster import materialize
from dbt_fixtures import sources_scenario as scenario
from prometheus_client.parser import text_string_to_metric_families

from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.warehouse import Warehouse
from mock_apis.server import MockApi
from orchestration.defs.pagerduty.assets import raw_pagerduty_incidents
from orchestration.defs.pagerduty.resource import PagerDutyResource
from orchestration.resources import ProjectConfigResource, WarehouseResource
from tests.fixtures.api import API_LOG, API_TOKEN, build_api_warehouse, running_api, write_config


def ingest_pagerduty(day: str) -> object:
    return materialize([raw_pagerduty_incidents], partition_key=day, raise_on_error=False,
                       resources={"pagerduty": PagerDutyResource(), "project_config": ProjectConfigResource(),
                                  "warehouse": WarehouseResource()})


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_request_ids_access_lines_and_prometheus_counters(tmp_path: Path, mock_api: MockApi,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    live = build_api_warehouse(tmp_path / "warehouse.duckdb")
    mock_api.state.extra["pagerduty_incidents"] = scenario.pagerduty()
    config = scenario.config()
    config_path = tmp_path / "sources.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    for key, value in mock_api.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EMD_CONFIG", str(config_path))
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{live}")
    # 03-03: #1 (PPLAT01, high) -- #4's service PXOTHER is not asked for. 03-04: #2 (high); #3 is low urgency.
    assert ingest_pagerduty("2026-03-03").success and ingest_pagerduty("2026-03-04").success
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "a-revoked-key")  # 03-05 fails (401) and keeps nothing
    failed = ingest_pagerduty("2026-03-05")
    assert not failed.success
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", mock_api.env()["PAGERDUTY_API_TOKEN"])
    second = ingest_pagerduty("2026-03-04")  # a re-run: a third partition written, still one row
    metadata = second.asset_materializations_for_node("raw_pagerduty_incidents")[0].metadata
    assert (metadata["pagerduty_partitions_succeeded_total"].value, metadata["pagerduty_partitions_failed_total"].value,
            metadata["pagerduty_rows_total"].value, metadata["pagerduty_runs_total"].value) == (3, 1, 3, 4)
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")))

    env = {"DATABASE_URL": f"duckdb:///{live}", "EMD_CONFIG": str(write_config(tmp_path / "config.yaml")),
           "EMD_API_TOKEN": API_TOKEN}
    with running_api(tmp_path, env) as url:
        log = tmp_path / API_LOG
        given = requests.get(url + "/metrics/tiles", params={"team": "platform", "from": "2026-03-02",
                                                            "to": "2026-03-15"},
                             headers={"X-Request-ID": "trace-42"}, timeout=30)
        assert given.status_code == 200 and given.headers["X-Request-ID"] == "trace-42"
        made = requests.get(url + "/metrics/tiles", params={"team": "nosuchteam"}, timeout=30)
        assert made.status_code == 422 and len(made.headers["X-Request-ID"]) == 32
        odd = requests.get(url + "/healthz", headers={"X-Request-ID": "x" * 500}, timeout=30)  # not echoed
        assert odd.headers["X-Request-ID"] != "x" * 500
        scraped = requests.get(url + "/prometheus", timeout=30)
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        assert scraped.headers["X-Request-ID"]
        text = scraped.text
        lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()
                 if line.startswith("{") and '"emd.api.access"' in line]

    found = samples(text)
    tiles = (("method", "GET"), ("route", "/metrics/tiles"), ("status", "200"))
    assert found[("emd_api_requests_total", tiles)] == 1
    assert found[("emd_api_requests_total", (("method", "GET"), ("route", "/metrics/tiles"), ("status", "422")))] == 1
    # the readiness polls of the fixture are counted too, so /healthz is at least the one asked for above
    assert found[("emd_api_requests_total", (("method", "GET"), ("route", "/healthz"), ("status", "200")))] >= 1
    pagerduty = (("source", "pagerduty"),)
    # four asset runs; partitions written: 03-03, 03-04, 03-04 again; one failed (03-05); rows 1 + 1 + 1
    assert found[("emd_ingestion_runs_total", pagerduty)] == 4
    assert found[("emd_ingestion_partitions_total", pagerduty)] == 3
    assert found[("emd_ingestion_failures_total", pagerduty)] == 1
    assert found[("emd_ingestion_rows_total", pagerduty)] == 3
    assert ("emd_ingestion_last_success_timestamp_seconds", pagerduty) in found
    assert found[("emd_last_refresh_timestamp_seconds", ())] > 1.7e9

    by_id = {line["request_id"]: line for line in lines}
    traced = by_id["trace-42"]
    assert (traced["route"], traced["path"], traced["status"], traced["method"]) == (
        "/metrics/tiles", "/metrics/tiles", 200, "GET")
    assert traced["duration_ms"] > 0 and traced["subject"] is None  # no sign-in here
    assert by_id[made.headers["X-Request-ID"]]["status"] == 422
    assert "nosuchteam" not in json.dumps(lines)  # the query string is not logged
