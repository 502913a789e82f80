"""Jira ingestion assets, one UTC day partition [D, D+1) at a time (a backfill run holds up to 30 days, each
fetched, written and replaced on its own; the run's one Jira client makes its lookups once).

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

from emd.http import ApiStats
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
from orchestration.defs.raw_checks import IngestedDays, check_specs, ingest_day_chunks, ingest_days
from orchestration.partitions import daily_partitions, day_window, ingestion_backfill_policy, run_pacing
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource

# The warehouse's kind (duckdb / postgres) is added where the Definitions are built (orchestration/definitions.py).
KINDS = {"jira"}
STORY_POINTS_CHECK = "story_points_numeric"
ISSUE_TABLES = {
    ISSUES: "Jira issues of the configured projects updated in the UTC day (one row per issue id), state at "
            "fetch time.",
    CHANGELOG: "The complete changelog of those issues, one row per changed item; sprint, story_points, status "
               "and flagged are normalized (see orchestration/defs/jira/ingest.py).",
}



def _spent_before(client: JiraClient | None) -> ApiStats:
    return ApiStats(**vars(client.stats)) if client else ApiStats()


def _metadata(client: JiraClient | None, before: ApiStats, days: IngestedDays, table: str,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """`api_requests` etc. are this step's spend (the run's client is shared by the Jira steps)."""
    now = client.stats if client else ApiStats()
    spend = ApiStats(requests=now.requests - before.requests, retries=now.retries - before.retries,
                     rate_limit_waits=now.rate_limit_waits - before.rate_limit_waits,
                     rate_limit_wait_s=now.rate_limit_wait_s - before.rate_limit_wait_s)
    paced = {**client.http.pacing.as_metadata(), **client.auth_metadata()} if client else {}
    return {**days.metadata(table), **spend.as_metadata(), **paced, **(extra or {})}


@multi_asset(
    name="jira_issues",
    specs=[AssetSpec(table, group_name=INGESTION_GROUP, kinds=KINDS, description=text)
           for table, text in ISSUE_TABLES.items()],
    check_specs=[*(spec for table in ISSUE_TABLES for spec in check_specs(table)),
                 AssetCheckSpec(STORY_POINTS_CHECK, asset=ISSUES,
                                description="Every story-points value is a number (others are stored as no "
                                            "estimate and count under unestimated_issues).")],
    partitions_def=daily_partitions,
    backfill_policy=ingestion_backfill_policy,
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def jira_issues(context: AssetExecutionContext, jira: JiraResource, project_config: ProjectConfigResource,
                warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Issues of the configured Jira projects updated in the day, each with its complete changelog."""
    config = project_config.load()
    client = jira.client() if config.jira_projects else None
    if client is not None:
        client.http.pacing = run_pacing(context)
    before = _spent_before(client)
    last: dict[str, Any] = {}
    not_numeric: list[str] = []

    def chunks(key: str) -> Iterator[dict[str, list[dict[str, Any]]]]:
        # A batch of issues at a time, written as it arrives inside the day's one transaction.
        partition, day_chunks = issue_partition_chunks(client, config.jira_projects, config.jira_boards,
                                                       config.story_points_field, *day_window(key))
        yield from day_chunks
        last.update(partition.metadata)
        not_numeric.extend(partition.story_points_not_numeric)

    days = ingest_day_chunks(warehouse.get(), context.partition_keys, list(ISSUE_TABLES), chunks, asset="jira_issues")
    context.log.info(f"Jira {days.window()}: {days.written} in {client.stats.requests - before.requests if client else 0}"
                     " requests")
    if not_numeric:
        context.log.warning(f"Jira {days.window()}: {story_points_note(not_numeric)}")
    for table in days.written:
        yield MaterializeResult(asset_key=table, metadata=_metadata(
            client, before, days, table,
            {"issues": days.written[ISSUES], "projects": ", ".join(config.jira_projects),
             **{k: v for k, v in last.items() if k != "window"}}))
    yield from days.checks
    yield story_points_check(not_numeric)


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
    backfill_policy=ingestion_backfill_policy,
    pool=WAREHOUSE_POOL,
    check_specs=check_specs(SPRINTS),
)
def raw_jira_sprints(context: AssetExecutionContext, jira: JiraResource, project_config: ProjectConfigResource,
                     warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Sprints of the configured boards whose start..completion (or end) overlaps the day, plus the active and
    future ones when the day is today or later; state as fetched."""
    config = project_config.load()
    client = jira.client() if config.jira_boards else None
    if client is not None:
        client.http.pacing = run_pacing(context)
    before = _spent_before(client)
    days = ingest_days(warehouse.get(), context.partition_keys, lambda key: {
        SPRINTS: sprint_rows(client, config.jira_boards, *day_window(key)) if client else []}, asset=SPRINTS)
    yield MaterializeResult(metadata=_metadata(client, before, days, SPRINTS,
                                               {"boards": ", ".join(map(str, config.jira_boards))}))
    yield from days.checks


@asset(
    name=STATUSES,
    group_name=INGESTION_GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions,
    backfill_policy=ingestion_backfill_policy,
    pool=WAREHOUSE_POOL,
    check_specs=check_specs(STATUSES),
)
def raw_jira_statuses(context: AssetExecutionContext, jira: JiraResource, project_config: ProjectConfigResource,
                      warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Every Jira status with its category (new / indeterminate / done), as of the fetch."""
    config = project_config.load()
    client = jira.client() if (config.jira_projects or config.jira_boards) else None
    if client is not None:
        client.http.pacing = run_pacing(context)
    before = _spent_before(client)
    days = ingest_days(warehouse.get(), context.partition_keys,
                       lambda key: {STATUSES: status_rows(client) if client else []}, asset=STATUSES)
    yield MaterializeResult(metadata=_metadata(client, before, days, STATUSES))
    yield from days.checks
