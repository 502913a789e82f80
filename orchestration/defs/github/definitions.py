"""Definitions of the github part of the code location: ingestion assets (with their checks) and the client."""

from __future__ import annotations

from dagster import Definitions

from orchestration.defs.github.assets import github_pull_requests, raw_github_deployments, raw_github_releases
from orchestration.defs.github.resource import GitHubResource


def github_defs() -> Definitions:
    # The token and URL are read from GITHUB_TOKEN / GITHUB_API_URL when a run uses the resource.
    return Definitions(
        assets=[github_pull_requests, raw_github_releases, raw_github_deployments],
        resources={"github": GitHubResource()},
    )
