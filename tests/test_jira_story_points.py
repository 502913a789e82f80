"""A story-points value that is not a number ("XL" from a text field, a select option object) does not fail
the Jira day: it is stored as no estimate, counted under unestimated_issues, and noted (a WARN asset check and
the asset's metadata name the issues and the fix). Against the mock Jira over HTTP, through Dagster."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import requests
from dagster import materialize

from emd.config import load_config
from emd.settings import database_target
from emd.warehouse import Warehouse
from mock_apis.jira_data import STORY_POINT_ESTIMATE_FIELD, JiraIssue, jira_data
from mock_apis.server import MockApi
from orchestration.defs.dbt.project import dbt_vars, run_dbt
from orchestration.defs.jira.assets import (
    STORY_POINTS_CHECK,
    jira_issues,
    raw_jira_sprints,
    raw_jira_statuses,
)
from orchestration.defs.jira.ingest import story_points_value
from orchestration.defs.jira.resource import JiraResource
from orchestration.resources import ProjectConfigResource, WarehouseResource

DAY = date(2026, 3, 29)
ACTIVE_SPRINT = 75  # "API Sprint 12", board 12
SELECT_OPTION = {"self": "https://acme.atlassian.net/rest/api/3/customFieldOption/10043", "value": "L",
                 "id": "10043"}


def _ingest(day: date):
    result = materialize([jira_issues, raw_jira_sprints, raw_jira_statuses], partition_key=day.isoformat(),
                         resources={"jira": JiraResource(retry_base_delay_seconds=0.01),
                                    "project_config": ProjectConfigResource(), "warehouse": WarehouseResource()})
    assert result.success  # the day lands
    return result


def _build(work: Path) -> Warehouse:
    target = database_target()
    run_dbt(["build", "--exclude-resource-type", "unit_test"], target, dbt_vars(load_config()), work_dir=work)
    return Warehouse(target)


def _steady_estimates(issues: list[JiraIssue]) -> list[JiraIssue]:
    """Issues of the active sprint, updated on DAY, estimated from creation on and never re-estimated: their
    points are the same at every moment the sprint measures them."""
    return [i for i in issues
            if i.project.key == "API" and not i.issue_type.subtask and ACTIVE_SPRINT in i.sprint_ids
            and i.updated.date() == DAY and i.points is not None and i.initial["points"] is not None
            and not any(item.field_id == STORY_POINT_ESTIMATE_FIELD for h in i.histories for item in h.items)]


def test_values_that_are_not_numbers() -> None:
    assert story_points_value(3) == 3.0 and story_points_value(0.5) == 0.5 and story_points_value("2") == 2.0
    for value in ("XL", "", {"value": "XL"}, ["3"], True, float("nan"), float("inf"), None):
        assert story_points_value(value) is None


def test_non_numeric_story_points_land_as_unestimated(mock_env: MockApi, tmp_path: Path) -> None:
    data = jira_data(mock_env.state.org)
    chosen = _steady_estimates(data.issues)[:2]
    assert len(chosen) == 2
    text_issue, select_issue = chosen

    _ingest(DAY)
    before = _build(tmp_path / "before")
    [(unestimated_before,)] = before.query("select unestimated_issues from mv_planning_by_sprint where sprint_id = ?",
                                           [ACTIVE_SPRINT])

    # The site's estimation field now holds text on one issue and a select option on the other.
    requests.post(mock_env.url + "/_mock/switch", json={"jira_story_points_values": {
        text_issue.key: "XL", select_issue.key: SELECT_OPTION}}, timeout=10).raise_for_status()
    result = _ingest(DAY)
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert meta["raw_jira_issues"]["story_points_not_numeric"].value == 2
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == STORY_POINTS_CHECK]
    assert not check.passed and check.severity.value == "WARN"
    keys = sorted([text_issue.key, select_issue.key], key=lambda k: int(k.split("-")[1]))
    shown = {text_issue.key: "'XL'", select_issue.key: "'L'"}
    note = check.metadata["note"].value
    assert note.startswith(f"2 issue(s) have a story-points value that is not a number "
                           f"({keys[0]}: {shown[keys[0]]}; {keys[1]}: {shown[keys[1]]}); they are stored as unestimated.")
    assert "jira.story_points_field" in note

    after = _build(tmp_path / "after")
    stored = dict(after.query("select key, story_points from raw_jira_issues where key in (?, ?)",
                              [text_issue.key, select_issue.key]))
    assert stored == {text_issue.key: None, select_issue.key: None}
    assert after.query("select count(*) from raw_jira_issues where story_points is not null")[0][0] > 0
    [(unestimated_after,)] = after.query("select unestimated_issues from mv_planning_by_sprint where sprint_id = ?",
                                         [ACTIVE_SPRINT])
    # both were estimated at every moment the sprint measures them; now neither is: two more unestimated issues
    assert unestimated_after == unestimated_before + 2
    rows = after.query("select distinct is_unestimated from int_jira__sprint_scope_events where sprint_id = ? "
                       "and issue_key in (?, ?)", [ACTIVE_SPRINT, text_issue.key, select_issue.key])
    assert rows == [(True,)]

