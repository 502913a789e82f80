"""The optional GitHub sources, each its own day-partitioned ingestion asset (an empty partition when the
project config does not use it):

- `raw_github_workflow_runs`: successful runs, created in the day, of the workflows of the repos configured
  with `deployments.source: workflow` (on each repo's default branch);
- `raw_github_issues`: issues carrying a label of `incidents.github_labels`, updated in the day;
- `raw_github_codeowners`: each repo's CODEOWNERS rules on its default branch, as fetched that day (only
  when a team lists `github_teams`);
- `raw_github_pull_request_files`: the changed files of the PRs in that day's raw_github_pull_requests
  partition (only when a team lists `github_teams`).
"""

# No `from __future__ import annotations`: Dagster reads the `context` and resource annotations at runtime.

from collections.abc import Iterator
from typing import Any

from dagster import AssetCheckResult, AssetExecutionContext, AssetKey, MaterializeResult, asset

from orchestration.defs.github.actions import workflow_run_rows
from orchestration.defs.github.assets import KINDS, asset_metadata
from orchestration.defs.github.codeowners import codeowners_rows, pull_request_files, repository_heads
from orchestration.defs.github.issues import issue_rows, labelled_issues_between
from orchestration.defs.github.resource import GitHubClient, GitHubResource
from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.raw_checks import IngestedDays, check_specs, ingest_days
from orchestration.partitions import daily_partitions, day_window, ingestion_backfill_policy
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource


def _source_asset(name: str, **kwargs: Any):
    return asset(name=name, group_name=INGESTION_GROUP, kinds=KINDS, partitions_def=daily_partitions,
                 backfill_policy=ingestion_backfill_policy, pool=WAREHOUSE_POOL, check_specs=check_specs(name),
                 **kwargs)


def _result(client: GitHubClient | None, days: IngestedDays, table: str, extra: dict[str, Any]) -> MaterializeResult:
    """The same metadata as the other GitHub assets; a source the config does not use made no requests."""
    return MaterializeResult(metadata=asset_metadata(client, days, table, extra))


@_source_asset("raw_github_workflow_runs")
def raw_github_workflow_runs(context: AssetExecutionContext, github: GitHubResource,
                             project_config: ProjectConfigResource, warehouse: WarehouseResource
                             ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Successful GitHub Actions runs of the configured deploy workflows on the default branch, created in the
    day (repos with `deployments.source: workflow`); an empty partition when no repo is configured so."""
    config = project_config.load()
    workflows = config.workflow_repos()
    client = github.client() if workflows else None
    branches = ({repo: head.default_branch for repo, head in repository_heads(client, workflows).items()}
                if client is not None else {})

    def fetch(key: str) -> dict[str, list[dict[str, Any]]]:
        rows = workflow_run_rows(client, workflows, branches, *day_window(key)) if client is not None else []
        return {"raw_github_workflow_runs": rows}

    days = ingest_days(warehouse.get(), context.partition_keys, fetch, asset="raw_github_workflow_runs")
    yield _result(client, days, "raw_github_workflow_runs", {"workflow_repos": len(workflows)})
    yield from days.checks


@_source_asset("raw_github_issues")
def raw_github_issues(context: AssetExecutionContext, github: GitHubResource, project_config: ProjectConfigResource,
                      warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """GitHub issues of the configured repos carrying a label of `incidents.github_labels`, updated in the day
    (incidents for change failure rate and recovery time); an empty partition when no label is configured."""
    config = project_config.load()
    labels = config.incident_labels
    client = github.client() if labels else None

    def fetch(key: str) -> dict[str, list[dict[str, Any]]]:
        rows = (issue_rows(labelled_issues_between(client, config.repos, labels, *day_window(key)))
                if client is not None else [])
        return {"raw_github_issues": rows}

    days = ingest_days(warehouse.get(), context.partition_keys, fetch, asset="raw_github_issues")
    yield _result(client, days, "raw_github_issues", {"labels": ", ".join(labels)})
    yield from days.checks


@_source_asset("raw_github_codeowners")
def raw_github_codeowners(context: AssetExecutionContext, github: GitHubResource,
                          project_config: ProjectConfigResource, warehouse: WarehouseResource
                          ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """The CODEOWNERS rules of every configured repo's default branch when the partition ran (the newest
    fetch is what counts); an empty partition when no team lists `github_teams`."""
    config = project_config.load()
    client = github.client() if config.uses_codeowners else None
    # Read once per run: every day of the run records the default branch's rules as they are now.
    heads = repository_heads(client, config.repos) if client is not None else {}
    days = ingest_days(warehouse.get(), context.partition_keys,
                       lambda key: {"raw_github_codeowners": codeowners_rows(heads)},
                       asset="raw_github_codeowners")
    with_file = sum(1 for head in heads.values() if head.codeowners_path)
    yield _result(client, days, "raw_github_codeowners", {"repos_with_codeowners": with_file})
    yield from days.checks


@_source_asset("raw_github_pull_request_files", deps=[AssetKey("raw_github_pull_requests")])
def raw_github_pull_request_files(context: AssetExecutionContext, github: GitHubResource,
                                  project_config: ProjectConfigResource, warehouse: WarehouseResource
                                  ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Changed files (path, additions, deletions) of the PRs in the same day's raw_github_pull_requests
    partition, for CODEOWNERS team attribution; an empty partition when no team lists `github_teams`."""
    config = project_config.load()
    store = warehouse.get()
    client = github.client() if config.uses_codeowners else None
    pull_requests = 0
    if client is not None:
        with store.connect() as conn:  # the table exists even before the first PR partition lands
            store.ensure_raw_tables(conn)
    ph = "?" if store.kind == "duckdb" else "%s"

    def fetch(key: str) -> dict[str, list[dict[str, Any]]]:
        nonlocal pull_requests
        if client is None:
            return {"raw_github_pull_request_files": []}
        prs = [(str(r[0]), int(r[1]), str(r[2])) for r in store.query(
            f"select repo, number, pr_id from raw_github_pull_requests where partition_date = {ph} "  # noqa: S608
            "order by repo, number", [day_window(key)[0].date()])]
        pull_requests += len(prs)
        return {"raw_github_pull_request_files": pull_request_files(client, prs)}

    days = ingest_days(store, context.partition_keys, fetch, asset="raw_github_pull_request_files")
    yield _result(client, days, "raw_github_pull_request_files", {"pull_requests": pull_requests})
    yield from days.checks
