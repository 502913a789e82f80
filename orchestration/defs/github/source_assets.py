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

from dagster import AssetCheckResult, AssetExecutionContext, AssetKey, MaterializeResult, asset

from orchestration.defs.github.actions import workflow_run_rows
from orchestration.defs.github.assets import KINDS, _metadata
from orchestration.defs.github.codeowners import codeowners_rows, pull_request_files, repository_heads
from orchestration.defs.github.issues import issue_rows, labelled_issues_between
from orchestration.defs.github.resource import GitHubResource
from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.raw_checks import check_specs, write_and_check
from orchestration.partitions import daily_partitions, day_window
from orchestration.resources import ProjectConfigResource, WarehouseResource


@asset(name="raw_github_workflow_runs", group_name=INGESTION_GROUP, kinds=KINDS, partitions_def=daily_partitions,
       check_specs=check_specs("raw_github_workflow_runs"))
def raw_github_workflow_runs(context: AssetExecutionContext, github: GitHubResource,
                             project_config: ProjectConfigResource, warehouse: WarehouseResource
                             ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Successful GitHub Actions runs of the configured deploy workflows on the default branch, created in the
    day (repos with `deployments.source: workflow`); an empty partition when no repo is configured so."""
    config = project_config.load()
    start, end = day_window(context.partition_key)
    workflows = config.workflow_repos()
    rows = []
    client = github.client() if workflows else None
    if client is not None:
        branches = {repo: head.default_branch for repo, head in repository_heads(client, workflows).items()}
        rows = workflow_run_rows(client, workflows, branches, start, end)
    written, checks = write_and_check(warehouse.get(), {"raw_github_workflow_runs": rows}, context.partition_key)
    extra = {"workflow_repos": len(workflows)}
    yield MaterializeResult(metadata=_metadata(client, context.partition_key, written["raw_github_workflow_runs"], extra)
                            if client else {"rows": 0, **extra})
    yield from checks


@asset(name="raw_github_issues", group_name=INGESTION_GROUP, kinds=KINDS, partitions_def=daily_partitions,
       check_specs=check_specs("raw_github_issues"))
def raw_github_issues(context: AssetExecutionContext, github: GitHubResource, project_config: ProjectConfigResource,
                      warehouse: WarehouseResource) -> Iterator[MaterializeResult | AssetCheckResult]:
    """GitHub issues of the configured repos carrying a label of `incidents.github_labels`, updated in the day
    (incidents for change failure rate and recovery time); an empty partition when no label is configured."""
    config = project_config.load()
    start, end = day_window(context.partition_key)
    labels = config.incident_labels
    client = github.client() if labels else None
    rows = issue_rows(labelled_issues_between(client, config.repos, labels, start, end)) if client else []
    written, checks = write_and_check(warehouse.get(), {"raw_github_issues": rows}, context.partition_key)
    yield MaterializeResult(metadata=_metadata(client, context.partition_key, written["raw_github_issues"],
                                               {"labels": ", ".join(labels)}) if client else {"rows": 0})
    yield from checks


@asset(name="raw_github_codeowners", group_name=INGESTION_GROUP, kinds=KINDS, partitions_def=daily_partitions,
       check_specs=check_specs("raw_github_codeowners"))
def raw_github_codeowners(context: AssetExecutionContext, github: GitHubResource,
                          project_config: ProjectConfigResource, warehouse: WarehouseResource
                          ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """The CODEOWNERS rules of every configured repo's default branch when the partition ran (the newest
    fetch is what counts); an empty partition when no team lists `github_teams`."""
    config = project_config.load()
    client = github.client() if config.uses_codeowners else None
    heads = repository_heads(client, config.repos) if client else {}
    rows = codeowners_rows(heads)
    written, checks = write_and_check(warehouse.get(), {"raw_github_codeowners": rows}, context.partition_key)
    with_file = sum(1 for head in heads.values() if head.codeowners_path)
    yield MaterializeResult(metadata=_metadata(client, context.partition_key, written["raw_github_codeowners"],
                                               {"repos_with_codeowners": with_file}) if client else {"rows": 0})
    yield from checks


@asset(name="raw_github_pull_request_files", group_name=INGESTION_GROUP, kinds=KINDS,
       partitions_def=daily_partitions, deps=[AssetKey("raw_github_pull_requests")],
       check_specs=check_specs("raw_github_pull_request_files"))
def raw_github_pull_request_files(context: AssetExecutionContext, github: GitHubResource,
                                  project_config: ProjectConfigResource, warehouse: WarehouseResource
                                  ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Changed files (path, additions, deletions) of the PRs in the same day's raw_github_pull_requests
    partition, for CODEOWNERS team attribution; an empty partition when no team lists `github_teams`."""
    config = project_config.load()
    store = warehouse.get()
    prs: list[tuple[str, int, str]] = []
    client = None
    if config.uses_codeowners:
        ph = "?" if store.kind == "duckdb" else "%s"
        with store.connect() as conn:  # the table exists even before the first PR partition lands
            store.ensure_raw_tables(conn)
        prs = [(str(r[0]), int(r[1]), str(r[2])) for r in store.query(
            f"select repo, number, pr_id from raw_github_pull_requests where partition_date = {ph} "  # noqa: S608
            "order by repo, number", [day_window(context.partition_key)[0].date()])]
        client = github.client()
    rows = pull_request_files(client, prs) if client else []
    written, checks = write_and_check(store, {"raw_github_pull_request_files": rows}, context.partition_key)
    yield MaterializeResult(metadata=_metadata(client, context.partition_key, written["raw_github_pull_request_files"],
                                               {"pull_requests": len(prs)}) if client else {"rows": 0})
    yield from checks
