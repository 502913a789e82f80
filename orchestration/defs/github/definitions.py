"""Definitions of the github part of the code location: ingestion assets (with their checks) and the client."""

from __future__ import annotations

from dagster import Definitions

from orchestration.defs.github.assets import github_pull_requests, raw_github_deployments, raw_github_releases
from orchestration.defs.github.copilot import github_copilot_usage
from orchestration.defs.github.resource import GitHubResource
from orchestration.defs.github.source_assets import (
    raw_github_codeowners,
    raw_github_issues,
    raw_github_pull_request_files,
    raw_github_workflow_runs,
)


def github_defs() -> Definitions:
    # The credentials (a GitHub App, else GITHUB_TOKEN) and GITHUB_API_URL are read when a run uses the resource.
    return Definitions(
        assets=[github_pull_requests, raw_github_releases, raw_github_deployments, raw_github_workflow_runs,
                raw_github_issues, raw_github_codeowners, raw_github_pull_request_files, github_copilot_usage],
        resources={"github": GitHubResource()},
    )
