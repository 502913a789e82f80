"""dbt's own unit tests (dbt_project/models/unit_tests/: given rows -> hand-computed rows) and data tests,
over an empty warehouse: every model must also build when nothing has been ingested yet."""

from __future__ import annotations

import json

from orchestration.defs.dbt.project import run_dbt
from orchestration.settings import parse_database_url
from orchestration.warehouse import Warehouse

MARTS = ("fct_pull_requests", "fct_deployments", "fct_jira_issues", "mv_dora_by_repo_day", "mv_flow_by_repo_day",
         "mv_planning_by_sprint", "mv_planning_by_team_day", "metrics_daily")
EXPECTED_UNIT_TESTS = {
    "pull_request_durations_and_review_depth", "ready_at_is_last_ready_for_review_before_first_review",
    "failure_goes_to_latest_prior_deployment_in_window", "deployment_failure_rework_and_recovery",
    "dora_day_percentiles_and_rates", "flow_day_rework_rate_and_review_metrics", "sprint_percentages",
    "field_history_rolls_back_from_current_value", "blocked_age_wip_and_throughput_at_end_of_day",
    "sprint_membership_spans_and_60_second_rule", "sprint_scope_events_points_at_the_right_moments",
    "deployments_per_repo_source", "pr_type_config_rules",
}


def test_dbt_build_on_an_empty_warehouse_passes_every_unit_and_data_test(tmp_path):
    target = parse_database_url(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    warehouse = Warehouse(target)
    with warehouse.connect() as conn:
        warehouse.ensure_raw_tables(conn)
    run_dbt(["build"], target, None, work_dir=tmp_path)
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    unit = {uid.split(".")[-1]: s for uid, s in statuses.items() if uid.startswith("unit_test.")}
    assert set(unit) == EXPECTED_UNIT_TESTS
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
