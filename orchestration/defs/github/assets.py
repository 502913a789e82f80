"""GitHub ingestion assets, one UTC day partition [D, D+1) at a time.

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
    asset,
    multi_asset,
)

from orchestration.defs.github.resource import GitHubClient, GitHubResource
from orchestration.defs.github.rows import deployment_rows, pull_request_rows, release_rows
from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.raw_checks import check_specs, write_and_check
from orchestration.partitions import daily_partitions, day_window
from orchestration.resources import ProjectConfigResource, WarehouseResource

KINDS = {"github", "duckdb"}
PULL_REQUEST_TABLES = {
    "raw_github_pull_requests": "Pull requests updated in the day (one row per repo and number), state at fetch time.",
    "raw_github_reviews": "Every review of those pull requests (PENDING ones have no submitted_at).",
    "raw_github_commits": "Every commit of those pull requests (the earliest authored_at starts lead time).",
    "raw_github_timeline_events": "ReadyForReview, ConvertToDraft, Reopened, Closed and Merged events of those PRs.",
}


def _metadata(client: GitHubClient, partition_key: str, rows: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    start, end = day_window(partition_key)
    return {
        "rows": rows,
        **client.stats.as_metadata(),
        "window": f"[{start.isoformat()}, {end.isoformat()})",
        **(extra or {}),
    }



@multi_asset(
    name="github_pull_requests",
    specs=[AssetSpec(table, group_name=INGESTION_GROUP, kinds=KINDS, description=text)
           for table, text in PULL_REQUEST_TABLES.items()],
    check_specs=[spec for table in PULL_REQUEST_TABLES for spec in check_specs(table)],
    partitions_def=daily_partitions,
    can_subset=False,
)
def github_pull_requests(context: AssetExecutionContext, github: GitHubResource,
                         project_config: ProjectConfigResource, warehouse: WarehouseResource
                         ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Pull requests of the configured repos updated in the day, with reviews, commits and timeline events."""
    config = project_config.load()
    start, end = day_window(context.partition_key)
    client = github.client()
    prs = client.pull_requests_updated_between(config.repos, start, end)
    tables = pull_request_rows(prs)
    written, checks = write_and_check(warehouse.get(), tables, context.partition_key)
    context.log.info(f"GitHub {context.partition_key}: {written} in {client.stats.requests} requests")
    for table, count in written.items():
        yield MaterializeResult(asset_key=table, metadata=_metadata(
            client, context.partition_key, count,
            {"pull_requests": len(prs), "search_windows": client.search_windows, "repos": len(config.repos)}))
    yield from checks


@asset(
    name="raw_github_releases",
    group_name=INGESTION_GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions,
    check_specs=check_specs("raw_github_releases"),
)
def raw_github_releases(context: AssetExecutionContext, github: GitHubResource, project_config: ProjectConfigResource,
                        warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Releases of the configured repos created or published in the day (drafts and prereleases included)."""
    config = project_config.load()
    start, end = day_window(context.partition_key)
    client = github.client()
    rows = release_rows(client.releases_between(config.repos, start, end))
    written, checks = write_and_check(warehouse.get(), {"raw_github_releases": rows}, context.partition_key)
    yield MaterializeResult(metadata=_metadata(client, context.partition_key, written["raw_github_releases"]))
    yield from checks


@asset(
    name="raw_github_deployments",
    group_name=INGESTION_GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions,
    check_specs=check_specs("raw_github_deployments"),
)
def raw_github_deployments(context: AssetExecutionContext, github: GitHubResource,
                           project_config: ProjectConfigResource, warehouse: WarehouseResource
                           ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """GitHub deployments (all environments) created in the day or whose latest status changed in it, for the
    repos configured with `deployments.source: deployment`; an empty partition when no repo is."""
    config = project_config.load()
    start, end = day_window(context.partition_key)
    repos = [repo for repo in config.repos if config.deployment_for(repo).source == "deployment"]
    client = github.client()
    rows = deployment_rows(client.deployments_between(repos, start, end)) if repos else []
    written, checks = write_and_check(warehouse.get(), {"raw_github_deployments": rows}, context.partition_key)
    yield MaterializeResult(metadata=_metadata(client, context.partition_key, written["raw_github_deployments"],
                                               {"deployment_repos": len(repos)}))
    yield from checks
