"""The Jira ingestion assets run through Dagster against the mock, into a real DuckDB file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from dagster import ExecuteInProcessResult, materialize

from emd.settings import parse_database_url
from emd.warehouse import RAW_TABLES, Warehouse
from mock_apis.jira_data import jira_data
from mock_apis.server import MockApi
from orchestration.defs.jira.assets import jira_issues, raw_jira_sprints, raw_jira_statuses
from orchestration.defs.jira.resource import JiraResource
from orchestration.resources import ProjectConfigResource, WarehouseResource

JIRA_TABLES = ("raw_jira_issues", "raw_jira_changelog", "raw_jira_sprints", "raw_jira_statuses")
ORDER = {"raw_jira_issues": "key", "raw_jira_changelog": "issue_key, history_id, item_index",
         "raw_jira_sprints": "sprint_id", "raw_jira_statuses": "status_id"}


def _run(partition_key: str, raise_on_error: bool = True) -> ExecuteInProcessResult:
    # Config and warehouse come from EMD_CONFIG / DATABASE_URL (set by the mock_env fixture), read at run time.
    return materialize(
        [jira_issues, raw_jira_sprints, raw_jira_statuses],
        partition_key=partition_key,
        resources={"jira": JiraResource(retry_base_delay_seconds=0.01), "project_config": ProjectConfigResource(),
                   "warehouse": WarehouseResource()},
        raise_on_error=raise_on_error,
    )


def _warehouse(path: Path) -> Warehouse:
    return Warehouse(parse_database_url(f"duckdb:///{path}"))


def _rows(path: Path, table: str, partition_key: str | None = None) -> list[tuple]:
    where, params = ("where partition_date = ?", [partition_key]) if partition_key else ("", [])
    return _warehouse(path).query(f"select * exclude (fetched_at) from {table} {where} order by partition_date, "  # noqa: S608
                                  f"{ORDER[table]}", params)


def _failure(result: ExecuteInProcessResult) -> str:
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:
                error = error.cause
            texts.append(error.message if error else "")
    return " ".join(texts)


def test_a_day_through_dagster(mock_env: MockApi, warehouse_path: Path) -> None:
    data = jira_data(mock_env.state.org)
    longest = max(data.issues, key=lambda i: len(i.histories))
    key = longest.updated.date().isoformat()
    start = datetime.fromisoformat(key).replace(tzinfo=UTC)
    result = _run(key)
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    meta = {e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    expected = {i.key for i in data.issues_updated_between(start, start + timedelta(days=1))}
    assert meta["raw_jira_issues"]["rows"].value == len(expected)
    assert meta["raw_jira_issues"]["user_time_zone"].value == "America/Los_Angeles"
    assert meta["raw_jira_issues"]["api_requests"].value >= 5
    assert meta["raw_jira_issues"]["window"].value == f"[{start.isoformat()}, {(start + timedelta(days=1)).isoformat()})"

    issues = _warehouse(warehouse_path).query(
        "select key, sprint_ids, story_points_field, payload, updated_at from raw_jira_issues")
    assert {r[0] for r in issues} == expected
    for _key, sprint_ids, sp_field, payload, updated_at in issues:
        assert isinstance(json.loads(sprint_ids), list) and sp_field == "customfield_10016"
        assert "changelog" not in json.loads(payload)
        assert start.replace(tzinfo=None) <= updated_at < (start + timedelta(days=1)).replace(tzinfo=None)
    # Every column of the contract is filled where the entity has a value.
    nullable = {"resolved_at", "story_points", "assignee_account_id", "summary"}
    columns = [c for c, _ in RAW_TABLES["raw_jira_issues"] if c not in nullable]
    nulls = _warehouse(warehouse_path).query(
        "select " + ", ".join(f"count(*) - count({c})" for c in columns) + " from raw_jira_issues")[0]  # noqa: S608
    assert dict(zip(columns, nulls, strict=True)) == dict.fromkeys(columns, 0)

    # The long issue's complete changelog landed, one row per item.
    items = sum(len(h.items) for h in longest.histories)
    stored = _warehouse(warehouse_path).query(
        "select count(*), count(distinct history_id) from raw_jira_changelog where issue_key = ?", [longest.key])[0]
    assert stored == (items, len(longest.histories)) and len(longest.histories) > 100
    # Rolled back from the raw rows, its points at its first sprint's start are 5: created with 3, re-estimated
    # to 5 two hours later, to 8 four days into the sprint. Both changes are older than the 40 the search embeds.
    first_sprint = data.sprints[longest.initial["sprint_ids"][0]]
    points = _warehouse(warehouse_path).query(
        "select created_at, from_value, to_value from raw_jira_changelog where issue_key = ? "
        "and field = 'story_points' order by created_at", [longest.key])
    assert [(f, t) for _c, f, t in points] == [("3", "5"), ("5", "8")]
    at_start = next(t for c, _f, t in reversed(points)
                    if c <= first_sprint.start.astimezone(UTC).replace(tzinfo=None))
    assert at_start == "5"
    statuses = _warehouse(warehouse_path).query("select name, category from raw_jira_statuses order by name")
    assert ("Blocked", "indeterminate") in statuses and ("Done", "done") in statuses


def test_sprint_rows_and_carryover_timing(mock_env: MockApi, warehouse_path: Path) -> None:
    data = jira_data(mock_env.state.org)
    sprints = data.board_sprints[12]
    closed, nxt = sprints[0], sprints[1].id
    assert closed.complete is not None
    assert _run(closed.complete.date().isoformat()).success
    rows = _warehouse(warehouse_path).query(
        "select sprint_id, board_id, state, start_at, completed_at from raw_jira_sprints")
    by_id = {r[0]: r for r in rows}
    # The day the sprint completed overlaps both it and its successor (started minutes to hours later).
    assert by_id[closed.id][1:3] == (12, "closed") and nxt in by_id
    completed_at = closed.complete.astimezone(UTC).replace(tzinfo=None)
    assert by_id[closed.id][4] == completed_at
    # Carryover: the next sprint's id is appended seconds after completeDate, with the full id lists. An
    # issue's rows land in the partition of its last update, so ingest the day of a carried-over issue.
    carried_issue = next(i for i in data.issues if not i.issue_type.subtask and any(
        item.field_id == "customfield_10020" and item.to_value == f"{closed.id}, {nxt}"
        and timedelta(0) < h.created - closed.complete <= timedelta(seconds=60)
        for h in i.histories for item in h.items))
    assert _run(carried_issue.updated.date().isoformat()).success
    moves = _warehouse(warehouse_path).query(
        "select from_value, to_value, from_string, created_at from raw_jira_changelog "
        "where field = 'sprint' and issue_key = ? order by created_at", [carried_issue.key])
    carried = [m for m in moves if timedelta(0) < m[3] - completed_at <= timedelta(seconds=60)]
    assert [(m[0], m[1], m[2]) for m in carried] == [(str(closed.id), f"{closed.id},{nxt}", closed.name)]


def test_replaying_a_partition_gives_identical_rows(mock_env: MockApi, warehouse_path: Path) -> None:
    for key in ("2026-03-29", "2026-03-30"):
        assert _run(key).success
    first = {t: _rows(warehouse_path, t) for t in JIRA_TABLES}
    assert _run("2026-03-30").success
    again = {t: _rows(warehouse_path, t) for t in JIRA_TABLES}
    assert again == first and all(first[t] for t in JIRA_TABLES)


def test_a_user_in_kolkata_gets_the_same_utc_partition(mock_env: MockApi, warehouse_path: Path) -> None:
    assert _run("2026-03-25").success
    la = {t: _rows(warehouse_path, t) for t in ("raw_jira_issues", "raw_jira_changelog")}
    mock_env.state.jira_timezone = "Asia/Kolkata"
    result = _run("2026-03-25")
    meta = {e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert meta["raw_jira_issues"]["user_time_zone"].value == "Asia/Kolkata"
    kolkata = {t: _rows(warehouse_path, t) for t in ("raw_jira_issues", "raw_jira_changelog")}
    # Only the payload differs: Jira writes the timestamps with the user's offset (+0530 instead of -0700).
    strip = {"raw_jira_issues": RAW_TABLES["raw_jira_issues"], "raw_jira_changelog": RAW_TABLES["raw_jira_changelog"]}
    for table, columns in strip.items():
        names = [c for c, _ in columns if c != "fetched_at"]
        drop = names.index("payload")
        assert [r[:drop] + r[drop + 1:] for r in kolkata[table]] == [r[:drop] + r[drop + 1:] for r in la[table]]
    assert "+0530" in kolkata["raw_jira_issues"][0][-1]


def test_twenty_percent_faults_give_the_same_tables(mock_env: MockApi, warehouse_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    days = ("2026-03-17", "2026-03-31")
    for key in days:
        assert _run(key).success
    clean = {t: _rows(warehouse_path, t) for t in JIRA_TABLES}
    faulty_path = tmp_path / "faulty.duckdb"
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{faulty_path}")
    mock_env.state.faults.retry_after_s = 0
    requests.post(mock_env.url + "/_mock/switch", json={"fault_rate": 0.2, "fault_seed": 3}, timeout=10)
    retries = 0
    for key in days:
        result = _run(key)
        assert result.success
        retries += sum(e.materialization.metadata["retries"].value for e in result.get_asset_materialization_events())
    counts = requests.get(mock_env.url + "/_mock/counts", timeout=10).json()
    assert sum(v for k, v in counts.items() if k.startswith("fault:")) >= 3 and retries >= 3
    assert {t: _rows(faulty_path, t) for t in JIRA_TABLES} == clean


def test_without_jira_configured_partitions_are_empty(mock_env: MockApi, config_path: Path, warehouse_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config.pop("jira")
    for team in config["teams"].values():
        team.pop("jira_projects", None)
        team.pop("jira_boards", None)
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    for name in ("JIRA_BASE_URL", "JIRA_EMAIL", "JIRA_API_TOKEN"):
        monkeypatch.delenv(name)
    result = _run("2026-03-20")
    assert result.success
    for table in JIRA_TABLES:
        assert _rows(warehouse_path, table) == []
    counts = requests.get(mock_env.url + "/_mock/counts", timeout=10).json()
    assert not any(k.startswith("jira:") for k in counts)


def test_failures_name_the_cause_and_keep_the_previous_partition(mock_env: MockApi, warehouse_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run("2026-03-20").success
    before = {t: _rows(warehouse_path, t) for t in JIRA_TABLES}
    monkeypatch.delenv("JIRA_API_TOKEN")
    result = _run("2026-03-20", raise_on_error=False)
    assert not result.success and "JIRA_API_TOKEN is not set" in _failure(result)
    monkeypatch.setenv("JIRA_API_TOKEN", mock_env.state.jira_token)
    requests.post(mock_env.url + "/_mock/switch", json={"jira_payload_bug": "issue_without_updated"}, timeout=10)
    result = _run("2026-03-20", raise_on_error=False)
    assert not result.success and "field `fields.updated` is missing" in _failure(result)
    assert {t: _rows(warehouse_path, t) for t in JIRA_TABLES} == before


@pytest.mark.postgres
def test_a_day_into_postgres(mock_env: MockApi, monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> None:
    url = postgres_url  # a schema of our own (conftest): other tests use the same database
    monkeypatch.setenv("DATABASE_URL", url)
    assert _run("2026-03-31").success
    first = Warehouse(parse_database_url(url)).query(
        "select key, sprint_ids, story_points, is_subtask from raw_jira_issues order by key")
    assert _run("2026-03-31").success
    again = Warehouse(parse_database_url(url)).query(
        "select key, sprint_ids, story_points, is_subtask from raw_jira_issues order by key")
    expected = {i.key for i in jira_data(mock_env.state.org).issues if i.updated.date().isoformat() == "2026-03-31"}
    assert first == again and {r[0] for r in first} == expected
