"""Turning Jira's answers into raw_jira_* rows for one UTC day partition (no Dagster here).

Row conventions the dbt models rely on (see the module docs of each builder):
- raw_jira_issues: the issue's state at fetch time; `sprint_ids` a JSON array of sprint ids (ints),
  `story_points` the value of `story_points_field` (the field id used for that issue's project), NULL when
  unestimated or when the value is not a number (a select option such as "XL", text): such values are
  counted in the partition's metadata (`story_points_not_numeric`) and the `story_points_numeric` check, and
  the issue counts as unestimated. `issue_id` is the issue's identity: a move to another project changes
  `key`, not `issue_id`.
- raw_jira_changelog: one row per changelog item. For the four fields the marts rebuild, `field` is
  normalized (sprint / story_points / status / flagged) and `from_value`/`to_value` are machine values:
    sprint        sprint ids joined by ',' without spaces ('76,80'), NULL for none
                  (Jira writes '76, 80'; from_string/to_string keep Jira's sprint names 'API Sprint 10, ...')
    story_points  number text ('3', '0.5') or NULL (no estimate, or not a number)  (strings: Jira's text)
    status        status ids                                   (strings: status names)
    flagged       'true' / 'false'                             (strings: 'Impediment' or NULL)
  Every other item keeps Jira's field name and Jira's from/to/fromString/toString; `resolution` is
  Jira's own name already. `payload` is the item exactly as Jira sent it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emd.http import ApiPayloadError
from emd.warehouse import to_db_timestamp, to_json
from orchestration.defs.jira.resource import (
    STORY_POINT_NAMES,
    IssueBatch,
    JiraClient,
    StoryPointsFields,
    parse_jira_time,
    sprint_ids_of,
)

ISSUES = "raw_jira_issues"
CHANGELOG = "raw_jira_changelog"
SPRINTS = "raw_jira_sprints"
STATUSES = "raw_jira_statuses"


@dataclass
class IssuePartition:
    rows: dict[str, list[dict[str, Any]]]
    metadata: dict[str, Any] = field(default_factory=dict)
    # "API-12: 'XL'" for each issue whose story-points value is not a number (stored as NULL)
    story_points_not_numeric: list[str] = field(default_factory=list)


def fetch_issue_partition(client: JiraClient | None, projects: Sequence[str], boards: Sequence[int],
                          story_points_override: str | None, start: datetime, end: datetime) -> IssuePartition:
    """Issues of `projects` updated in [start, end) and their complete changelogs, as raw rows."""
    window = f"[{start.isoformat()}, {end.isoformat()})"
    if client is None or not projects:
        return IssuePartition({ISSUES: [], CHANGELOG: []}, {"window": window, "note": "no jira.projects configured"})
    points = client.story_points_fields(projects, boards, story_points_override)
    sprint_field = client.sprint_field()
    flagged_field = client.flagged_field()
    extra = [sprint_field, flagged_field, *points.by_project.values()]
    batch = client.issues_updated_between(projects, start, end, [f for f in extra if f])
    not_numeric: list[str] = []
    issue_rows, changelog_rows = issue_and_changelog_rows(batch, points, sprint_field, flagged_field, not_numeric)
    metadata = {
        "window": window,
        "user_time_zone": batch.time_zone,
        "jql": batch.jql,
        "story_points_fields": points.describe(),
        "changelogs_completed_beyond_search": batch.completed_changelogs,
        "issues_outside_window_dropped": batch.dropped_outside_window,
        "duplicate_issue_ids_dropped": batch.duplicates_dropped,
        "story_points_not_numeric": len(not_numeric),
    }
    return IssuePartition({ISSUES: issue_rows, CHANGELOG: changelog_rows}, metadata, not_numeric)


def issue_partition_chunks(client: JiraClient | None, projects: Sequence[str], boards: Sequence[int],
                           story_points_override: str | None, start: datetime, end: datetime
                           ) -> tuple[IssuePartition, Iterator[dict[str, list[dict[str, Any]]]]]:
    """The rows of `fetch_issue_partition`, a batch of issues at a time (for a write that streams them into one
    swap of the partition). The partition's `metadata` and `story_points_not_numeric` are complete once the
    iterator is exhausted; its `rows` stay empty."""
    window = f"[{start.isoformat()}, {end.isoformat()})"
    partition = IssuePartition({}, {"window": window})
    if client is None or not projects:
        partition.metadata["note"] = "no jira.projects configured"
        return partition, iter([{ISSUES: [], CHANGELOG: []}])
    points = client.story_points_fields(projects, boards, story_points_override)
    sprint_field = client.sprint_field()
    flagged_field = client.flagged_field()
    extra = [sprint_field, flagged_field, *points.by_project.values()]
    metadata = partition.metadata
    metadata.update({"story_points_fields": points.describe(), "changelogs_completed_beyond_search": 0})

    def chunks() -> Iterator[dict[str, list[dict[str, Any]]]]:
        for batch in client.issue_batches_updated_between(projects, start, end, [f for f in extra if f]):
            issue_rows, changelog_rows = issue_and_changelog_rows(batch, points, sprint_field, flagged_field,
                                                                  partition.story_points_not_numeric)
            metadata.update({"user_time_zone": batch.time_zone, "jql": batch.jql,
                             "issues_outside_window_dropped": batch.dropped_outside_window,
                             "duplicate_issue_ids_dropped": batch.duplicates_dropped,
                             "story_points_not_numeric": len(partition.story_points_not_numeric)})
            metadata["changelogs_completed_beyond_search"] += batch.completed_changelogs
            yield {ISSUES: issue_rows, CHANGELOG: changelog_rows}

    return partition, chunks()


def issue_and_changelog_rows(batch: IssueBatch, points: StoryPointsFields, sprint_field: str | None,
                             flagged_field: str | None, not_numeric: list[str] | None = None
                             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    issue_rows: list[dict[str, Any]] = []
    changelog_rows: list[dict[str, Any]] = []
    for issue in batch.issues:
        fields = issue["fields"]
        project = fields["project"]["key"]
        sp_field = points.by_project.get(project)
        issue_rows.append(issue_row(issue, sp_field, sprint_field, flagged_field, not_numeric))
        for history in batch.histories.get(issue["id"], []):
            changelog_rows.extend(changelog_item_rows(issue["key"], history, sp_field, sprint_field, flagged_field))
    return issue_rows, changelog_rows


def issue_row(issue: dict[str, Any], sp_field: str | None, sprint_field: str | None,
              flagged_field: str | None, not_numeric: list[str] | None = None) -> dict[str, Any]:
    fields = issue["fields"]
    key = issue["key"]
    entity = f"Jira issue {key}"
    status = fields["status"]
    issue_type = fields["issuetype"]
    raw_points = fields.get(sp_field) if sp_field else None
    points = story_points_value(raw_points)
    if raw_points is not None and points is None and not_numeric is not None:
        # A select or text field used for estimates ("XL"): no estimate, noted, and the day still lands.
        not_numeric.append(f"{key}: {_shown(raw_points)}")
    payload = {k: v for k, v in issue.items() if k != "changelog"}  # the changelog has its own table
    return {
        "issue_id": str(issue["id"]),
        "key": key,
        "project_key": fields["project"]["key"],
        "issue_type": issue_type["name"],
        "is_subtask": bool(issue_type.get("subtask", False)),
        "summary": fields.get("summary"),
        "status_id": str(status["id"]),
        "status_name": status.get("name"),
        "status_category": status["statusCategory"]["key"],
        "created_at": to_db_timestamp(parse_jira_time(fields["created"], entity, "fields.created")),
        "updated_at": to_db_timestamp(parse_jira_time(fields["updated"], entity, "fields.updated")),
        "resolved_at": to_db_timestamp(parse_jira_time(fields["resolutiondate"], entity, "fields.resolutiondate"))
        if fields.get("resolutiondate") else None,
        "story_points": points,
        "sprint_ids": json.dumps(sprint_ids_of(fields.get(sprint_field)) if sprint_field else []),
        "flagged": bool(fields.get(flagged_field)) if flagged_field else False,
        "assignee_account_id": (fields.get("assignee") or {}).get("accountId"),
        "story_points_field": sp_field,
        "payload": to_json(payload),
    }


def changelog_item_rows(issue_key: str, history: dict[str, Any], sp_field: str | None, sprint_field: str | None,
                        flagged_field: str | None) -> list[dict[str, Any]]:
    entity = f"Jira changelog of {issue_key}"
    created = to_db_timestamp(parse_jira_time(history.get("created"), entity, f"histories[{history['id']}].created"))
    author = (history.get("author") or {}).get("accountId")
    rows = []
    for index, item in enumerate(history["items"]):
        if not isinstance(item, dict):
            raise ApiPayloadError(f"{entity}: field `histories[{history['id']}].items[{index}]` is not an object")
        field_name, from_value, to_value = normalize_item(item, sp_field, sprint_field, flagged_field)
        rows.append({
            "issue_key": issue_key,
            "history_id": str(history["id"]),
            "item_index": index,
            "created_at": created,
            "author_account_id": author,
            "field": field_name,
            "field_id": item.get("fieldId"),
            "from_value": from_value,
            "from_string": item.get("fromString"),
            "to_value": to_value,
            "to_string": item.get("toString"),
            "payload": to_json(item),
        })
    return rows


def normalize_item(item: dict[str, Any], sp_field: str | None, sprint_field: str | None,
                   flagged_field: str | None) -> tuple[str, str | None, str | None]:
    """(field, from_value, to_value) with the normalization described in the module docstring."""
    field_id = item.get("fieldId")
    name = str(item.get("field") or "")

    def is_field(fid: str | None, fallback_name: str) -> bool:
        # Old histories can lack fieldId; then the name is all there is.
        return (field_id is not None and field_id == fid) or (field_id is None and name == fallback_name)

    if is_field(sprint_field, "Sprint"):
        return "sprint", _sprint_list(item.get("from")), _sprint_list(item.get("to"))
    if sp_field is not None and (field_id == sp_field or (field_id is None and name in STORY_POINT_NAMES)):
        return ("story_points", _number(item.get("from"), item.get("fromString")),
                _number(item.get("to"), item.get("toString")))
    if field_id == "status" or (field_id is None and name.lower() == "status"):
        return "status", _text(item.get("from")), _text(item.get("to"))
    if is_field(flagged_field, "Flagged"):
        return "flagged", _flag(item.get("from"), item.get("fromString")), _flag(item.get("to"), item.get("toString"))
    return name, _text(item.get("from")), _text(item.get("to"))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _sprint_list(value: Any) -> str | None:
    ids = [part.strip() for part in ("" if value is None else str(value)).split(",") if part.strip()]
    for part in ids:
        if not part.isdigit():
            raise ApiPayloadError(f"Jira changelog: Sprint value {value!r} is not a list of sprint ids")
    return ",".join(ids) or None


def _number(value: Any, text: Any) -> str | None:
    # Jira writes a number field's value in the strings (from/to are null); a select field's from/to hold
    # option ids and its strings the option ("XL"), which is no number: then no estimate, not the option id.
    raw = text if text not in (None, "") else value
    if raw in (None, ""):
        return None
    number = story_points_value(str(raw))
    if number is None:
        return None
    return str(int(number)) if number.is_integer() else repr(number)


def story_points_value(raw: Any) -> float | None:
    """A story-points value as a number, or None when there is none or it is not a number: a select
    option (`{"value": "XL"}`), free text ("XL"), a boolean, NaN or infinity."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _shown(value: Any) -> str:
    """A short, quoted rendering of an outside value for metadata (never the whole payload)."""
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _flag(value: Any, text: Any) -> str:
    return "true" if (value not in (None, "", "[]") or text not in (None, "")) else "false"


# ----------------------------------------------------------------------------------------------------------
# Sprints and statuses


def sprint_rows(client: JiraClient, boards: Sequence[int], start: datetime, end: datetime,
                now: datetime | None = None) -> list[dict[str, Any]]:
    """The boards' sprints whose start..completion (or end) overlaps [start, end); plus active and future
    sprints when the window is today or later. State as fetched."""
    now = now or datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows: dict[int, dict[str, Any]] = {}
    for board_id in boards:
        for sprint in client.sprints(board_id):
            entity = f"Jira sprint {sprint['id']}"
            begins = _optional_time(sprint.get("startDate"), entity, "startDate")
            ends = _optional_time(sprint.get("endDate"), entity, "endDate")
            completed = _optional_time(sprint.get("completeDate"), entity, "completeDate")
            finish = completed or ends
            overlaps = begins is not None and begins < end and (finish is None or finish >= start)
            current = sprint["state"] in ("active", "future") and start >= today
            if not (overlaps or current) or sprint["id"] in rows:
                continue
            origin = sprint.get("originBoardId")
            rows[sprint["id"]] = {
                "sprint_id": int(sprint["id"]),
                "board_id": int(origin) if isinstance(origin, int) and origin in boards else int(board_id),
                "name": sprint.get("name"),
                "state": sprint["state"],
                "start_at": to_db_timestamp(begins),
                "end_at": to_db_timestamp(ends),
                "completed_at": to_db_timestamp(completed),
                "goal": sprint.get("goal"),
                "payload": to_json(sprint),
            }
    return sorted(rows.values(), key=lambda r: r["sprint_id"])


def status_rows(client: JiraClient) -> list[dict[str, Any]]:
    rows = {}
    for status in client.statuses():
        rows[str(status["id"])] = {
            "status_id": str(status["id"]),
            "name": status["name"],
            "category": status["statusCategory"]["key"],
            "payload": to_json(status),
        }
    return [rows[k] for k in sorted(rows)]


def _optional_time(value: Any, entity: str, field_name: str) -> datetime | None:
    return parse_jira_time(value, entity, field_name) if value else None
