"""GitHub ingestion assets, one UTC day partition [D, D+1) at a time (a backfill run holds up to 30 days,
each fetched, written and replaced on its own: `context.partition_keys`).

- `github_pull_requests` (one @multi_asset): raw_github_pull_requests, raw_github_reviews,
  raw_github_commits and raw_github_timeline_events, written in ONE transaction: every PR whose
  `updatedAt` is in the day, with its full reviews, commits and timeline events as they are at fetch time.
- `raw_github_releases`: releases created or published in the day.
- `raw_github_deployments`: deployments created in the day or whose latest status changed in it, for the
  repos whose config says `deployments.source: deployment` (an empty partition when there are none).
"""

# No `from __future__ import annotations`: Dagster reads the `context` and resource annotations at runtime.

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from orchestration.defs.github.resource import GitHubClient, GitHubResource
from orchestration.defs.github.rows import deployment_rows, pull_request_rows, release_rows
from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.raw_checks import IngestedDays, check_specs, ingest_days
from orchestration.partitions import daily_partitions, day_window, ingestion_backfill_policy
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource

# The warehouse's kind (duckdb / postgres) is added where the Definitions are built (orchestration/definitions.py).
KINDS = {"github"}
PULL_REQUEST_TABLES = {
    "raw_github_pull_requests": "Pull requests updated in the day (one row per repo and number), state at fetch time.",
    "raw_github_reviews": "Every review of those pull requests (PENDING ones have no submitted_at).",
    "raw_github_commits": "Every commit of those pull requests (the earliest authored_at starts lead time).",
    "raw_github_timeline_events": "ReadyForReview, ConvertToDraft, Reopened, Closed and Merged events of those PRs.",
}


def _metadata(client: GitHubClient, days: IngestedDays, table: str, extra: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    return {
        "rows": days.written[table],
        **client.stats.as_metadata(),
        "window": days.window(),
        "partitions": len(days.by_day),
        "rows_by_day": MetadataValue.json(days.rows_by_day(table)),
        **(extra or {}),
    }



@multi_asset(
    name="github_pull_requests",
    specs=[AssetSpec(table, group_name=INGESTION_GROUP, kinds=KINDS, description=text)
           for table, text in PULL_REQUEST_TABLES.items()],
    check_specs=[spec for table in PULL_REQUEST_TABLES for spec in check_specs(table)],
    partitions_def=daily_partitions,
    backfill_policy=ingestion_backfill_policy,
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def github_pull_requests(context: AssetExecutionContext, github: GitHubResource,
                         project_config: ProjectConfigResource, warehouse: WarehouseResource
                         ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Pull requests of the configured repos updated in the day, with reviews, commits and timeline events."""
    config = project_config.load()
    client = github.client()
    pull_requests = 0

    def fetch(key: str) -> dict[str, list[dict[str, Any]]]:
        nonlocal pull_requests
        prs = client.pull_requests_updated_between(config.repos, *day_window(key))
        pull_requests += len(prs)
        return pull_request_rows(prs)

    days = ingest_days(warehouse.get(), context.partition_keys, fetch)
    context.log.info(f"GitHub {days.window()}: {days.written} in {client.stats.requests} requests")
    for table in days.written:
        yield MaterializeResult(asset_key=table, metadata=_metadata(
            client, days, table,
            {"pull_requests": pull_requests, "search_windows": client.search_windows, "repos": len(config.repos)}))
    yield from days.checks


@asset(
    name="raw_github_releases",
    group_name=INGESTION_GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions,
    backfill_policy=ingestion_backfill_policy,
    pool=WAREHOUSE_POOL,
    check_specs=check_specs("raw_github_releases"),
)
def raw_github_releases(context: AssetExecutionContext, github: GitHubResource, project_config: ProjectConfigResource,
                        warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Releases of the configured repos created or published in the day (drafts and prereleases included)."""
    config = project_config.load()
    client = github.client()
    days = ingest_days(warehouse.get(), context.partition_keys, lambda key: {
        "raw_github_releases": release_rows(client.releases_between(config.repos, *day_window(key)))})
    yield MaterializeResult(metadata=_metadata(client, days, "raw_github_releases"))
    yield from days.checks


@asset(
    name="raw_github_deployments",
    group_name=INGESTION_GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions,
    backfill_policy=ingestion_backfill_policy,
    pool=WAREHOUSE_POOL,
    check_specs=check_specs("raw_github_deployments"),
)
def raw_github_deployments(context: AssetExecutionContext, github: GitHubResource,
                           project_config: ProjectConfigResource, warehouse: WarehouseResource
                           ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """GitHub deployments (all environments) created in the day or whose latest status changed in it, for the
    repos configured with `deployments.source: deployment`; an empty partition when no repo is."""
    config = project_config.load()
    repos = [repo for repo in config.repos if config.deployment_for(repo).source == "deployment"]
    client = github.client()
    days = ingest_days(warehouse.get(), context.partition_keys, lambda key: {
        "raw_github_deployments": deployment_rows(client.deployments_between(repos, *day_window(key)))
        if repos else []})
    yield MaterializeResult(metadata=_metadata(client, days, "raw_github_deployments",
                                               {"deployment_repos": len(repos)}))
    yield from days.checks
