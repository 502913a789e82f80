"""The synthetic Jira activity is realistic in the ways the planning metrics depend on, and self-consistent:
rolling each issue's current values back through its changelog reproduces its creation-time values."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from mock_apis.jira_data import (
    BLOCKED,
    FLAGGED_FIELD,
    SPRINT_FIELD,
    STORY_POINT_ESTIMATE_FIELD,
    JiraData,
    JiraIssue,
    generate,
    jira_data,
)
from mock_apis.org import SyntheticOrg


def _ids(text: str | None) -> list[int]:
    return [int(x) for x in (text or "").split(", ") if x]


def _roll_back(issue: JiraIssue) -> dict:
    """Undo every change, newest first, starting from the issue's current values."""
    values = {
        "status": issue.status.id, "points": issue.points, "sprint_ids": list(issue.sprint_ids),
        "flagged": issue.flagged, "assignee": issue.assignee.account_id if issue.assignee else None,
        "labels": issue.labels, "priority": issue.priority,
        "resolution": issue.resolution["id"] if issue.resolution else None,
    }
    for history in reversed(issue.histories):
        for item in reversed(history.items):
            if item.field_id == "status":
                assert values["status"] == item.to_value
                values["status"] = item.from_value
            elif item.field_id == SPRINT_FIELD:
                assert values["sprint_ids"] == _ids(item.to_value)
                values["sprint_ids"] = _ids(item.from_value)
            elif item.field_id == STORY_POINT_ESTIMATE_FIELD:
                assert values["points"] == (float(item.to_string) if item.to_string else None)
                values["points"] = float(item.from_string) if item.from_string else None
            elif item.field_id == FLAGGED_FIELD:
                assert values["flagged"] == (item.to_string is not None)
                values["flagged"] = item.from_string is not None
            elif item.field_id == "assignee":
                values["assignee"] = item.from_value
            elif item.field_id == "labels":
                values["labels"] = tuple((item.from_string or "").split())
            elif item.field_id == "priority":
                values["priority"] = item.from_string
            elif item.field_id == "resolution":
                values["resolution"] = item.from_value
    return values


def test_rolling_back_the_changelog_reproduces_creation_values(org: SyntheticOrg) -> None:
    data = jira_data(org)
    for issue in data.issues:
        rolled = _roll_back(issue)
        initial = dict(issue.initial)
        assert rolled == {**initial, "labels": tuple(initial["labels"])}, issue.key


def test_generation_is_deterministic_and_memoized(org: SyntheticOrg) -> None:
    again = SyntheticOrg(seed=org.seed, anchor=org.anchor)
    assert jira_data(again) is jira_data(org)
    other = SyntheticOrg(seed=org.seed + 1, anchor=org.anchor)
    assert [i.summary for i in jira_data(other).issues] != [i.summary for i in jira_data(org).issues]


def _sprint_changes(data: JiraData):
    for issue in data.issues:
        for history in issue.histories:
            for item in history.items:
                if item.field_id == SPRINT_FIELD:
                    yield issue, history, _ids(item.from_value), _ids(item.to_value)


def test_sprints_per_board_and_the_board_less_team(org: SyntheticOrg) -> None:
    data = jira_data(org)
    boards = {p.board_id for p in org.projects if p.board_id is not None}
    assert set(data.board_sprints) == boards
    for sprints in data.board_sprints.values():
        states = [s.state for s in sprints]
        assert states.count("active") == 1 and states.count("future") == 1 and states.count("closed") >= 2
        for sprint in sprints:
            if sprint.state == "closed":
                assert sprint.start and sprint.end and sprint.complete
                assert sprint.end - sprint.start == timedelta(days=14)
                assert sprint.complete < org.end_dt
    data_team = next(p for p in org.projects if p.team == "data")
    assert data_team.board_id is None
    assert all(not i.sprint_ids and not i.initial["sprint_ids"] for i in data.issues if i.project == data_team)


def test_carryover_is_logged_seconds_after_completion(org: SyntheticOrg) -> None:
    data = jira_data(org)
    carried = 0
    for sprints in data.board_sprints.values():
        for index, sprint in enumerate(sprints):
            if sprint.state != "closed":
                continue
            assert sprint.complete is not None
            nxt = sprints[index + 1].id
            for issue, history, before, after in _sprint_changes(data):
                if sprint.id in before and nxt in after and nxt not in before:
                    delay = (history.created - sprint.complete).total_seconds()
                    if 0 < delay <= 60:
                        carried += 1
                        # Unfinished at completion; a sub-task moves with its parent even when it is done.
                        if not issue.issue_type.subtask:
                            assert issue.status.category != "done" or issue.resolved > sprint.complete
    assert carried >= 5
    assert sum(1 for i in data.issues if len(i.sprint_ids) >= 2) >= 5  # issues in several sprints


def test_scope_changes_estimates_blocks_and_flags(org: SyntheticOrg) -> None:
    data = jira_data(org)
    sprints = data.sprints
    added_after_start = removed_before_completion = 0
    for _issue, history, before, after in _sprint_changes(data):
        for sid in set(after) - set(before):
            s = sprints[sid]
            if s.start and history.created > s.start and (s.complete is None or history.created < s.complete):
                added_after_start += 1
        for sid in set(before) - set(after):
            s = sprints[sid]
            if s.start and history.created > s.start and (s.complete is None or history.created < s.complete):
                removed_before_completion += 1
    assert added_after_start >= 3 and removed_before_completion >= 1

    def estimate_changes(when) -> int:
        count = 0
        for issue in data.issues:
            for h in issue.histories:
                for item in h.items:
                    if item.field_id == STORY_POINT_ESTIMATE_FIELD and item.from_string and when(issue, h):
                        count += 1
        return count

    def in_sprint(issue: JiraIssue, h) -> bool:
        return any(sprints[s].start and sprints[s].start < h.created for s in issue.sprint_ids)

    assert estimate_changes(lambda i, h: not in_sprint(i, h)) >= 1  # re-estimated before a sprint
    assert estimate_changes(in_sprint) >= 1  # re-estimated during one
    assert sum(1 for i in data.issues if i.points is None and i.sprint_ids) >= 1  # unestimated, yet planned

    blocked = [i for i in data.issues for h in i.histories for item in h.items
               if item.field_id == "status" and item.to_value == BLOCKED.id]
    assert blocked and BLOCKED.category == "indeterminate" and BLOCKED.name == "Blocked"
    flag_spans = []
    for issue in data.issues:
        raised = None
        for h in issue.histories:
            for item in h.items:
                if item.field_id == FLAGGED_FIELD:
                    if item.to_string == "Impediment":
                        raised = h.created
                    elif raised is not None:
                        flag_spans.append(h.created - raised)
    assert flag_spans and max(flag_spans) >= timedelta(days=2)


def test_issue_types_incidents_subtasks_and_a_long_changelog(org: SyntheticOrg) -> None:
    data = jira_data(org)
    types = Counter(i.issue_type.name for i in data.issues)
    assert {"Story", "Bug", "Task", "Sub-task", "Incident"} <= set(types)
    assert 200 <= len(data.issues) <= 800  # a realistic few hundred at the default scale
    for sub in (i for i in data.issues if i.issue_type.subtask):
        assert sub.parent is not None and sub.parent.project == sub.project
        assert sub.sprint_ids == sub.parent.sprint_ids  # a sub-task lives in its parent's sprints
    incidents = [i for i in data.issues if i.issue_type.name == "Incident"]
    teams_with_repos = {r.team for r in org.repos}
    assert all(i.project.team in teams_with_repos and not i.sprint_ids for i in incidents)
    resolved = [i for i in incidents if i.resolved]
    assert resolved and len(resolved) < len(incidents)  # some are still open
    durations = [(i.resolved - i.created).total_seconds() / 3600 for i in resolved if i.resolved]
    assert min(durations) < 24 and max(durations) > 24  # hours to days
    longest = max(data.issues, key=lambda i: len(i.histories))
    assert len(longest.histories) > 100
    assert all(i.created >= org.start_dt and i.updated < org.end_dt for i in data.issues)


def test_large_scale_has_twenty_thousand_issues() -> None:
    org = SyntheticOrg(seed=7, scale="large", days=45)
    data = generate(org)  # not cached: the other tests need only the default org
    assert len(data.issues) >= 20_000
    assert len(data.board_sprints) == len(org.teams)
