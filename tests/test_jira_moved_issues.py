"""A Jira issue moved to another project between two ingestion runs is one issue (docs/metrics.md: "a Jira
issue is its issue id"), shown under its current key, and its sprint's counts are not doubled.

The first run backfills the last 30 days (the Jira ingestion assets through Dagster, one run per day, over
real HTTP to the mock Jira; then the marts_job); then an issue of a closed
sprint is moved (mock switch `jira_move_issue`: same id, the target project's next key, `Key`/`project`
changelog items) and the hourly refresh ingests yesterday and today (the schedule's partition keys), which now hold it under its new key
while its old row stays in an older partition. The expected sprint counts are computed here from the
mock's own simulated histories (docs/metrics.md Planning), not from the program's output.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from dagster import materialize

from emd.settings import database_target
from emd.warehouse import Warehouse
from mock_apis.jira_data import DONE, SPRINT_FIELD, JiraData, JiraIssue, jira_data
from mock_apis.server import MockApi
from orchestration.defs.ingestion import refresh_partition_keys
from orchestration.defs.jira.assets import jira_issues, raw_jira_sprints, raw_jira_statuses
from orchestration.defs.jira.resource import JiraResource
from orchestration.pipeline import MARTS_JOB, run_pipeline
from orchestration.resources import ProjectConfigResource, WarehouseResource

GRACE = timedelta(seconds=60)  # dbt var sprint_completion_grace_seconds (default)
ANCHOR = date(2026, 3, 31)  # tests/conftest.py: the org's last day ("today" for the refresh)
FIRST_DAY = ANCHOR - timedelta(days=29)  # the first run's 30 days
SPRINT = 72  # "API Sprint 11": closed, started 03-03 (inside the first run's days), board 12


@pytest.fixture
def small_config(config_path: Path) -> Path:
    """The org's config with one GitHub repo (acme/docs): this test is about Jira, GitHub stays in the run."""
    config = yaml.safe_load(config_path.read_text())
    config["github"]["repos"] = ["acme/docs"]
    for team in config["teams"].values():
        team["repos"] = [r for r in team["repos"] if r == "acme/docs"]
    config["deployments"]["repos"] = {}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return config_path


def _ingest_jira(partition_keys: list[str]) -> None:
    """One Dagster run of the Jira ingestion assets per day (GitHub's raw tables stay empty: this is about
    Jira, and the marts build on empty GitHub tables), then the marts_job (dbt build through dagster-dbt)."""
    for key in partition_keys:
        result = materialize([jira_issues, raw_jira_sprints, raw_jira_statuses], partition_key=key,
                             resources={"jira": JiraResource(retry_base_delay_seconds=0.01),
                                        "project_config": ProjectConfigResource(), "warehouse": WarehouseResource()})
        assert result.success
    run_pipeline(ANCHOR, ANCHOR, steps=(MARTS_JOB,), log=lambda _: None)


def _sprints_at(issue: JiraIssue, moment: datetime, strictly_before: bool = False) -> list[int]:
    ids = list(issue.initial["sprint_ids"])
    for history in issue.histories:
        if history.created > moment or (strictly_before and history.created == moment):
            break
        for item in history.items:
            if item.field_id == SPRINT_FIELD:
                ids = [int(x) for x in (item.to_value or "").split(", ") if x]
    return ids


def _done_at(issue: JiraIssue, moment: datetime, strictly_before: bool = False) -> bool:
    status = issue.initial["status"]
    for history in issue.histories:
        if history.created > moment or (strictly_before and history.created == moment):
            break
        for item in history.items:
            if item.field_id == "status":
                status = item.to_value
    return status == DONE.id


def expected_counts(data: JiraData, sprint_id: int, ingested_from: datetime) -> dict[str, int]:
    """committed / removed / carryover of one closed sprint by docs/metrics.md, from the mock's histories:
    committed = in the sprint at its start (created by then); removed = left it after the start and before the completion while
    not Done (an exit up to 60 s after a completion on the same board counts at that completion);
    carryover = in it just before the completion and not Done. Sub-tasks are left out (include_subtasks:
    false); only issues the first run could see (updated on or after its first day) count."""
    sprint = data.sprints[sprint_id]
    assert sprint.start is not None and sprint.complete is not None
    completions = [s.complete for s in data.board_sprints[sprint.board_id] if s.complete is not None]
    counts = {"committed": 0, "removed": 0, "carryover": 0}
    for issue in data.issues:
        if issue.issue_type.subtask or issue.updated < ingested_from:
            continue
        if issue.created <= sprint.start and sprint_id in _sprints_at(issue, sprint.start):  # else: added
            counts["committed"] += 1
        for history in issue.histories:
            for item in history.items:
                if item.field_id != SPRINT_FIELD:
                    continue
                before = [int(x) for x in (item.from_value or "").split(", ") if x]
                after = [int(x) for x in (item.to_value or "").split(", ") if x]
                if sprint_id in before and sprint_id not in after:
                    effective = next((c for c in completions if c < history.created <= c + GRACE), history.created)
                    if sprint.start < effective < sprint.complete and not _done_at(issue, history.created):
                        counts["removed"] += 1
        if (sprint_id in _sprints_at(issue, sprint.complete, strictly_before=True)
                and not _done_at(issue, sprint.complete, strictly_before=True)):
            counts["carryover"] += 1
    return counts


def _mover(data: JiraData, refreshed: list[str]) -> JiraIssue:
    """An API story carried over from the sprint, with no sub-tasks, last updated before the refreshed days
    (so its old row stays behind in an older partition)."""
    sprint = data.sprints[SPRINT]
    assert sprint.complete is not None
    parents = {i.parent.id for i in data.issues if i.parent is not None}
    candidates = [i for i in data.issues
                  if i.project.key == "API" and not i.issue_type.subtask and i.id not in parents
                  and i.updated.date().isoformat() < refreshed[0]
                  and i.created <= sprint.start and SPRINT in _sprints_at(i, sprint.start)
                  and SPRINT in _sprints_at(i, sprint.complete, strictly_before=True)
                  and not _done_at(i, sprint.complete, strictly_before=True)]
    assert candidates, "the synthetic org has no carried-over API issue to move"
    return candidates[0]


def _sprint_row(conn, sprint_id: int) -> dict:
    cursor = conn.execute("select committed_issues, removed_issues, carryover_issues, sprint_name "
                          "from mv_planning_by_sprint where sprint_id = ?", [sprint_id])
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def test_issue_moved_between_runs_is_one_issue_under_its_new_key(mock_env: MockApi, small_config: Path) -> None:
    org = mock_env.state.org
    assert org.anchor == ANCHOR
    data = jira_data(org)
    refreshed = refresh_partition_keys(datetime(2026, 3, 31, 23, 15, tzinfo=UTC))  # the hourly schedule's days
    assert refreshed == ["2026-03-30", "2026-03-31"]
    first_day = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=UTC)
    expected = expected_counts(data, SPRINT, first_day)
    assert expected["committed"] > 0 and expected["carryover"] > 0
    mover = _mover(data, refreshed)
    old_key, issue_id = mover.key, str(mover.id)

    # 1. the first run: 30 days, then the marts
    _ingest_jira([(FIRST_DAY + timedelta(days=n)).isoformat() for n in range(30)])
    warehouse = Warehouse(database_target())
    with warehouse.connect(read_only=True) as conn:
        before = _sprint_row(conn, SPRINT)
        assert conn.execute("select issue_key from fct_jira_issues where issue_id = ?", [issue_id]).fetchall() == [
            (old_key,)]

    # 2. someone moves the issue to project WEB this evening (UTC), after the first run
    moved_at = "2026-03-31T20:00:00+00:00"
    requests.post(mock_env.url + "/_mock/switch", json={"jira_move_issue": {"key": old_key, "to": "WEB",
                                                                            "at": moved_at}}, timeout=10)
    new_key = f"WEB-{1 + max(int(i.key.split('-')[1]) for i in data.issues if i.project.key == 'WEB')}"

    # 3. the hourly refresh: yesterday and today, then the marts
    _ingest_jira(refreshed)
    with warehouse.connect(read_only=True) as conn:
        # the raw tables now hold the issue twice: under its old key in an older partition, and its new one
        raw = conn.execute("select key, partition_date from raw_jira_issues where issue_id = ? order by key",
                           [issue_id]).fetchall()
        assert [r[0] for r in raw] == sorted([old_key, new_key])
        after = _sprint_row(conn, SPRINT)
        # one issue, under its current key, in its current project
        assert conn.execute("select issue_key, project_key from fct_jira_issues where issue_id = ?",
                            [issue_id]).fetchall() == [(new_key, "WEB")]
        assert conn.execute("select count(*) from fct_jira_issues where issue_key = ?", [old_key]).fetchone() == (0,)
        roles = conn.execute("select issue_key, role from int_jira__sprint_scope_events "
                             "where sprint_id = ? and issue_id = ? order by role", [SPRINT, issue_id]).fetchall()
        assert roles == [(new_key, "carryover"), (new_key, "committed")]
        # the move is in the changelog the marts read
        items = conn.execute("select field, from_string, to_string from stg_jira__changelog "
                             "where issue_id = ? and field in ('key', 'project') order by field",
                             [issue_id]).fetchall()
        assert items == [("key", old_key, new_key), ("project", "Platform project", "Web project")]

    counts = {k: after[f"{k}_issues"] for k in ("committed", "removed", "carryover")}
    assert counts == expected  # not doubled: the moved issue counts once
    assert {k: before[f"{k}_issues"] for k in ("committed", "removed", "carryover")} == expected
