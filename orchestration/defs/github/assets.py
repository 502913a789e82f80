"""GitHub ingestion assets, one UTC day partition [D, D+1) at a time (a backfill run holds up to 30 days,
each fetched, written and replaced on its own: `context.partition_keys`).

- `github_pull_requests` (one @multi_asset): raw_github_pull_requests, raw_github_reviews,
  raw_github_commits and raw_github_timeline_events, written in ONE transaction: every PR whose
  `updatedAt` is in the day, with its full reviews, commits and timeline events as they are at fetch time.
- `raw_github_releases`: releases created or published in the day.
- `raw_github_deployments`: deployments created in the day or whose latest status changed in it, for the
  repos whose config says `deployments.source: deployment` (an empty partition when there are none).

A configured repository GitHub cannot show (deleted, no access, SAML SSO) is left out without failing the
others; the `repositories_readable` check fails and the metadata (`repo_problems`) names it and the fix.
A renamed or transferred repo is followed and stored under its configured name (the check warns:
update the config). PR pages are written as they arrive, inside the partition's one transaction.
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

from orchestration.defs.github.resource import GitHubClient, GitHubResource
from orchestration.defs.github.rows import deployment_rows, pull_request_rows, release_rows
from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.raw_checks import IngestedDays, check_specs, ingest_day_chunks, ingest_days
from orchestration.partitions import daily_partitions, day_window, ingestion_backfill_policy, run_pacing
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource

# The warehouse's kind (duckdb / postgres) is added where the Definitions are built (orchestration/definitions.py).
KINDS = {"github"}
REPOSITORIES_CHECK = "repositories_readable"
PULL_REQUEST_TABLES = {
    "raw_github_pull_requests": "Pull requests updated in the day (one row per repo and number), state at fetch time.",
    "raw_github_reviews": "Every review of those pull requests (PENDING ones have no submitted_at).",
    "raw_github_commits": "Every commit of those pull requests (the earliest authored_at starts lead time).",
    "raw_github_timeline_events": "ReadyForReview, ConvertToDraft, Reopened, Closed and Merged events of those PRs.",
}


def _repositories_spec(table: str) -> AssetCheckSpec:
    return AssetCheckSpec(REPOSITORIES_CHECK, asset=table, description=(
        "Every configured repository could be read under its configured name. Fails (naming the repo and the "
        "fix) when one was left out (deleted, or the token cannot see it, or SSO); warns when one was renamed "
        "or transferred and followed to its new name."))


def _repositories_check(table: str, client: GitHubClient) -> AssetCheckResult:
    problems, renamed = client.repo_problems, client.renamed
    severity = AssetCheckSeverity.ERROR if problems else AssetCheckSeverity.WARN
    return AssetCheckResult(asset_key=table, check_name=REPOSITORIES_CHECK, passed=not problems and not renamed,
                            severity=severity, metadata=client.repository_metadata())


def _log_repository_notes(context: AssetExecutionContext, client: GitHubClient) -> None:
    for repo in sorted(client.repo_problems):
        context.log.warning(client.repo_problems[repo])
    for note in client.repository_metadata()["repo_renames"].splitlines():
        if note != "none":
            context.log.warning(note)


def asset_metadata(client: GitHubClient | None, days: IngestedDays, table: str, extra: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """A GitHub ingestion asset's metadata: what it wrote, the API requests it spent and its pacing (none when
    the config does not use the source and no client was made), and `extra`."""
    spent = {**client.stats.as_metadata(), **client.http.pacing.as_metadata(),
             **client.auth_metadata()} if client is not None else {}
    return {**days.metadata(table), **spent, **(extra or {})}



@multi_asset(
    name="github_pull_requests",
    specs=[AssetSpec(table, group_name=INGESTION_GROUP, kinds=KINDS, description=text)
           for table, text in PULL_REQUEST_TABLES.items()],
    check_specs=[spec for table in PULL_REQUEST_TABLES for spec in check_specs(table)]
    + [_repositories_spec("raw_github_pull_requests")],
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
    client.http.pacing = run_pacing(context)
    pull_requests = 0

    def chunks(key: str) -> Iterator[dict[str, list[dict[str, Any]]]]:
        # One search page of complete PRs at a time, written as it arrives (a day of 50,000 PRs stays small).
        nonlocal pull_requests
        for prs in client.pull_request_chunks(config.repos, *day_window(key)):
            pull_requests += len(prs)
            yield pull_request_rows(prs)

    days = ingest_day_chunks(warehouse.get(), context.partition_keys, list(PULL_REQUEST_TABLES), chunks,
                             asset="github_pull_requests")
    context.log.info(f"GitHub {days.window()}: {days.written} in {client.stats.requests} requests")
    _log_repository_notes(context, client)
    for table in days.written:
        yield MaterializeResult(asset_key=table, metadata=asset_metadata(
            client, days, table,
            {"pull_requests": pull_requests, "search_windows": client.search_windows, "repos": len(config.repos),
             **client.page_sizes.as_metadata(), **client.repository_metadata()}))
    yield from days.checks
    yield _repositories_check("raw_github_pull_requests", client)


@asset(
    name="raw_github_releases",
    group_name=INGESTION_GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions,
    backfill_policy=ingestion_backfill_policy,
    pool=WAREHOUSE_POOL,
    check_specs=check_specs("raw_github_releases") + [_repositories_spec("raw_github_releases")],
)
def raw_github_releases(context: AssetExecutionContext, github: GitHubResource, project_config: ProjectConfigResource,
                        warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Releases of the configured repos created or published in the day (drafts and prereleases included)."""
    config = project_config.load()
    client = github.client()
    client.http.pacing = run_pacing(context)
    days = ingest_days(warehouse.get(), context.partition_keys, lambda key: {
        "raw_github_releases": release_rows(client.releases_between(config.repos, *day_window(key)))},
        asset="raw_github_releases")
    _log_repository_notes(context, client)
    yield MaterializeResult(metadata=asset_metadata(client, days, "raw_github_releases", client.repository_metadata()))
    yield from days.checks
    yield _repositories_check("raw_github_releases", client)


@asset(
    name="raw_github_deployments",
    group_name=INGESTION_GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions,
    backfill_policy=ingestion_backfill_policy,
    pool=WAREHOUSE_POOL,
    check_specs=check_specs("raw_github_deployments") + [_repositories_spec("raw_github_deployments")],
)
def raw_github_deployments(context: AssetExecutionContext, github: GitHubResource,
                           project_config: ProjectConfigResource, warehouse: WarehouseResource
                           ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """GitHub deployments (all environments) created in the day or whose latest status changed in it, for the
    repos configured with `deployments.source: deployment`; an empty partition when no repo is."""
    config = project_config.load()
    repos = [repo for repo in config.repos if config.deployment_for(repo).source == "deployment"]
    client = github.client()
    client.http.pacing = run_pacing(context)
    days = ingest_days(warehouse.get(), context.partition_keys, lambda key: {
        "raw_github_deployments": deployment_rows(client.deployments_between(repos, *day_window(key)))
        if repos else []}, asset="raw_github_deployments")
    _log_repository_notes(context, client)
    yield MaterializeResult(metadata=asset_metadata(client, days, "raw_github_deployments",
                                               {"deployment_repos": len(repos), **client.repository_metadata()}))
    yield from days.checks
    yield _repositories_check("raw_github_deployments", client)
