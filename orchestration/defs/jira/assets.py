"""Jira ingestion assets, one UTC day partition [D, D+1) at a time.

- `jira_issues` (one @multi_asset): raw_jira_issues and raw_jira_changelog in ONE transaction: every issue
  of the configured projects whose `updated` is in the day, in its state at fetch time, with its complete
  changelog (one row per changelog item).
- `raw_jira_sprints`: the configured boards' sprints that overlap the day (plus the active and future ones
  when the day is today or later), state as fetched.
- `raw_jira_statuses`: every status with its category (new / indeterminate / done), per partition.

Jira is optional: with no `jira.projects` (or `jira.boards`) configured the partitions are written empty.
With Jira configured, missing JIRA_* variables fail the run with a message naming them.
"""

# No `from __future__ import annotations`: Dagster reads the `context` and resource annotations at runtime.

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    asset,
    multi_asset,
)

from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.jira.ingest import (
    CHANGELOG,
    ISSUES,
    SPRINTS,
    STATUSES,
    issue_partition_chunks,
    sprint_rows,
    status_rows,
)
from orchestration.defs.jira.resource import JiraClient, JiraResource
from orchestration.defs.raw_checks import check_specs, write_and_check, write_chunks_and_check
from orchestration.partitions import daily_partitions, day_window
from orchestration.resources import ProjectConfigResource, WarehouseResource

KINDS = {"jira", "duckdb"}
STORY_POINTS_CHECK = "story_points_numeric"
ISSUE_TABLES = {
    ISSUES: "Jira issues of the configured projects updated in the UTC day (one row per issue id), state at "
            "fetch time.",
    CHANGELOG: "The complete changelog of those issues, one row per changed item; sprint, story_points, status "
               "and flagged are normalized (see orchestration/defs/jira/ingest.py).",
}



def _metadata(client: JiraClient | None, partition_key: str, rows: int, extra: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    start, end = day_window(partition_key)
    spend = client.stats.as_metadata() if client else {"api_requests": 0, "retries": 0, "rate_limit_waits": 0,
                                                        "rate_limit_wait_seconds": 0.0}
    return {"rows": rows, **spend, "window": f"[{start.isoformat()}, {end.isoformat()})", **(extra or {})}


@multi_asset(
    name="jira_issues",
    specs=[AssetSpec(table, group_name=INGESTION_GROUP, kinds=KINDS, description=text)
           for table, text in ISSUE_TABLES.items()],
    check_specs=[*(spec for table in ISSUE_TABLES for spec in check_specs(table)),
                 AssetCheckSpec(STORY_POINTS_CHECK, asset=ISSUES,
                                description="Every story-points value is a number (others are stored as no "
                                            "estimate and count under unestimated_issues).")],
    partitions_def=daily_partitions,
    can_subset=False,
)
def jira_issues(context: AssetExecutionContext, jira: JiraResource, project_config: ProjectConfigResource,
                warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Issues of the configured Jira projects updated in the day, each with its complete changelog."""
    config = project_config.load()
    start, end = day_window(context.partition_key)
    client = jira.client() if config.jira_projects else None
    # A batch of issues at a time, written as it arrives inside the partition's one transaction.
    partition, chunks = issue_partition_chunks(client, config.jira_projects, config.jira_boards,
                                               config.story_points_field, start, end)
    written, checks = write_chunks_and_check(warehouse.get(), list(ISSUE_TABLES), chunks, context.partition_key)
    context.log.info(f"Jira {context.partition_key}: {written} in {client.stats.requests if client else 0} requests")
    if partition.story_points_not_numeric:
        context.log.warning(f"Jira {context.partition_key}: {story_points_note(partition.story_points_not_numeric)}")
    for table, count in written.items():
        yield MaterializeResult(asset_key=table, metadata=_metadata(
            client, context.partition_key, count,
            {"issues": written[ISSUES], "projects": ", ".join(config.jira_projects),
             **partition.metadata}))
    yield from checks
    yield story_points_check(partition.story_points_not_numeric)


def story_points_note(not_numeric: list[str]) -> str:
    shown = "; ".join(not_numeric[:10]) + (f"; and {len(not_numeric) - 10} more" if len(not_numeric) > 10 else "")
    return (f"{len(not_numeric)} issue(s) have a story-points value that is not a number ({shown}); they are "
            "stored as unestimated. Estimate them with a number field, or set jira.story_points_field in the "
            "project config to the numeric field your boards estimate with.")


def story_points_check(not_numeric: list[str]) -> AssetCheckResult:
    # A warning: the day lands (those issues count as unestimated), but someone should fix the estimates.
    return AssetCheckResult(asset_key=ISSUES, check_name=STORY_POINTS_CHECK, passed=not not_numeric,
                            severity=AssetCheckSeverity.WARN,
                            metadata={"issues_not_numeric": len(not_numeric),
                                      "note": story_points_note(not_numeric) if not_numeric else "all numeric"})


@asset(
    name=SPRINTS,
    group_name=INGESTION_GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions,
    check_specs=check_specs(SPRINTS),
)
def raw_jira_sprints(context: AssetExecutionContext, jira: JiraResource, project_config: ProjectConfigResource,
                     warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Sprints of the configured boards whose start..completion (or end) overlaps the day, plus the active and
    future ones when the day is today or later; state as fetched."""
    config = project_config.load()
    start, end = day_window(context.partition_key)
    client = jira.client() if config.jira_boards else None
    rows = sprint_rows(client, config.jira_boards, start, end) if client else []
    written, checks = write_and_check(warehouse.get(), {SPRINTS: rows}, context.partition_key)
    yield MaterializeResult(metadata=_metadata(client, context.partition_key, written[SPRINTS],
                                               {"boards": ", ".join(map(str, config.jira_boards))}))
    yield from checks


@asset(
    name=STATUSES,
    group_name=INGESTION_GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions,
    check_specs=check_specs(STATUSES),
)
def raw_jira_statuses(context: AssetExecutionContext, jira: JiraResource, project_config: ProjectConfigResource,
                      warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Every Jira status with its category (new / indeterminate / done), as of the fetch."""
    config = project_config.load()
    client = jira.client() if (config.jira_projects or config.jira_boards) else None
    rows = status_rows(client) if client else []
    written, checks = write_and_check(warehouse.get(), {STATUSES: rows}, context.partition_key)
    yield MaterializeResult(metadata=_metadata(client, context.partition_key, written[STATUSES]))
    yield from checks
