"""Definitions of the github part of the code location: ingestion assets (with their checks) and the client."""

from __future__ import annotations

from dagster import Definitions, EnvVar

from orchestration.defs.github.assets import github_pull_requests, raw_github_deployments, raw_github_releases
from orchestration.defs.github.resource import TOKEN_ENV, GitHubResource


def github_defs() -> Definitions:
    # EnvVar is resolved when a run uses the resource, never at import time; api_url unset means GITHUB_API_URL.
    return Definitions(
        assets=[github_pull_requests, raw_github_releases, raw_github_deployments],
        resources={"github": GitHubResource(token=EnvVar(TOKEN_ENV))},
    )
