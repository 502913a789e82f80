"""GitHub Actions workflow runs (REST), for repos configured with `deployments.source: workflow`.

`workflow_runs_between(client, workflows, branches, start, end)` lists, per repo and configured workflow,
`GET /repos/{owner}/{repo}/actions/workflows/{workflow}/runs?branch=<default>&status=success&
created=START..END&per_page=100`, following the `Link: rel="next"` pages. A 404 names the workflow file and
the config key to fix. Which runs are deployments (re-runs of an already deployed commit are not) is
decided in dbt (int_github__deployments).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from emd import settings
from emd.http import ApiNotFoundError, ApiPayloadError
from emd.warehouse import to_db_timestamp, to_json
from orchestration.defs.github.resource import GitHubClient, github_timestamp

PER_PAGE = 100
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


def _next_link(headers: Mapping[str, str]) -> str | None:
    match = _NEXT.search(headers.get("link") or headers.get("Link") or "")
    return match.group(1) if match else None


def workflow_runs(client: GitHubClient, repo: str, workflow: str, branch: str | None, start: datetime,
                  end: datetime) -> list[dict[str, Any]]:
    """Successful runs of one workflow created in [start, end) (GitHub's range is inclusive: end - 1 s)."""
    params: dict[str, Any] = {"status": "success", "per_page": PER_PAGE,
                              "created": f"{github_timestamp(start)}..{github_timestamp(end - timedelta(seconds=1))}"}
    if branch:
        params["branch"] = branch
    url: str | None = f"{client.api_url}/repos/{repo}/actions/workflows/{quote(workflow, safe='')}/runs"
    runs: list[dict[str, Any]] = []
    first = True
    while url:
        try:
            body, headers = client.http.request_json("GET", url, params=params if first else None)
        except ApiNotFoundError as exc:
            raise ApiNotFoundError(
                f"GitHub has no workflow {workflow!r} in {repo} (404 from {url}). Check `deployments.repos.{repo}."
                f"workflows` (or `deployments.workflows`) in the project config ({settings.config_path()}): name the "
                f"file under .github/workflows/ (e.g. deploy.yml), and that {client.credentials} can read {repo}'s Actions."
            ) from exc
        first = False
        if not isinstance(body, dict) or not isinstance(body.get("workflow_runs"), list):
            raise ApiPayloadError(f"GitHub answered {url} without `workflow_runs`; nothing was written for this partition")
        for run in body["workflow_runs"]:
            for field in ("id", "head_sha", "created_at", "updated_at", "conclusion"):
                if not isinstance(run, dict) or run.get(field) is None:
                    raise ApiPayloadError(f"GitHub returned a workflow run of {repo} {workflow} without `{field}`")
            runs.append(run)
        url = _next_link(headers)
    return runs


def workflow_run_rows(client: GitHubClient, workflows: Mapping[str, tuple[str, ...]],
                      branches: Mapping[str, str | None], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """raw_github_workflow_runs rows for every configured (repo, workflow)."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for repo, names in sorted(workflows.items()):
        for workflow in names:
            for run in workflow_runs(client, repo, workflow, branches.get(repo), start, end):
                rows[(repo, int(run["id"]))] = {
                    "repo": repo, "run_id": int(run["id"]), "workflow": workflow, "workflow_path": run.get("path"),
                    "name": run.get("name"), "head_branch": run.get("head_branch"), "head_sha": run["head_sha"],
                    "default_branch": branches.get(repo), "event": run.get("event"), "status": run.get("status"),
                    "conclusion": run["conclusion"], "run_number": run.get("run_number"),
                    "run_attempt": run.get("run_attempt") or 1,
                    "created_at": to_db_timestamp(run["created_at"]), "updated_at": to_db_timestamp(run["updated_at"]),
                    "run_started_at": to_db_timestamp(run.get("run_started_at")), "payload": to_json(run),
                }
    return [rows[key] for key in sorted(rows)]
