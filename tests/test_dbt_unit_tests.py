"""dbt's own unit tests (`_<model>__unit_tests.yml` beside each model: given rows -> hand-computed rows) and data tests,
over an empty warehouse: every model must also build when nothing has been ingested yet."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from emd.settings import parse_database_url
from emd.warehouse import Warehouse
from orchestration.defs.dbt.project import run_dbt

ROOT = Path(__file__).resolve().parents[1]
MARTS = ("fct_pull_requests", "fct_deployments", "fct_jira_issues", "mv_dora_by_repo_day", "mv_flow_by_repo_day",
         "mv_planning_by_sprint", "mv_planning_by_team_day", "metrics_daily", "fct_failure_signals",
         "fct_sprint_issues", "fct_pull_request_reviews")


def expected_unit_tests() -> set[str]:
    """Every unit test declared beside its model (`_<model>__unit_tests.yml`): each must run and pass."""
    names: set[str] = set()
    for path in (ROOT / "dbt_project" / "models").rglob("_*__unit_tests.yml"):
        names |= {test["name"] for test in yaml.safe_load(path.read_text(encoding="utf-8"))["unit_tests"]}
    return names


def test_dbt_build_on_an_empty_warehouse_passes_every_unit_and_data_test(tmp_path):
    target = parse_database_url(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    warehouse = Warehouse(target)
    with warehouse.connect() as conn:
        warehouse.ensure_raw_tables(conn)
    run_dbt(["build"], target, None, work_dir=tmp_path)
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    unit = {uid.split(".")[-1]: s for uid, s in statuses.items() if uid.startswith("unit_test.")}
    assert set(unit) == expected_unit_tests()
    assert len(unit) >= 13
    assert set(unit.values()) == {"pass"}
    failed = {uid: s for uid, s in statuses.items() if s not in ("pass", "success", "no-op")}  # no-op: exposures
    assert failed == {}
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    with warehouse.connect(read_only=True) as conn:
        assert conn.execute("select count(*) from metrics_daily").fetchone() == (0,)
        # every mart column a user sees is described in the YAML (dbt docs)
        for mart in MARTS:
            node = manifest["nodes"][f"model.engineering_metrics.{mart}"]
            described = {name for name, column in node["columns"].items() if column.get("description")}
            built = [row[0] for row in conn.execute(f"describe {mart}").fetchall()]  # noqa: S608 - our names
            assert [c for c in built if c not in described] == [], mart
