"""Mock GitHub REST: `GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs` (and under `/api/v3`).

As GitHub does: the workflow is named by its file name (`deploy.yml`) or numeric id, else 404 "Not Found";
`branch`, `status` (a status or a conclusion, e.g. `success`), `created` (`A..B`, `>=A`, ... with ISO-8601
times), `per_page` (at most 100) and `page` filter and page the runs, newest first, with a `Link` header
(`rel="next"`, `rel="last"`); `Authorization: bearer|token <token>` else 401 "Bad credentials"; an App's
installation token without `actions` gets 403 "Resource not accessible by integration" with the header
`X-Accepted-GitHub-Permissions: actions=read`.

The runs are the repository's `_workflow_runs` (REST-shaped dicts) in the served GitHubData.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from mock_apis.github import _date_filter, served_data
from mock_apis.github_app import authorized, token_permissions
from mock_apis.server import MockState, Request, Response, Router

DOCS = "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow"
STATUSES = {"completed", "action_required", "cancelled", "failure", "neutral", "skipped", "stale", "success",
            "timed_out", "in_progress", "queued", "requested", "waiting", "pending"}




def _parse_time(text: str) -> Any:
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def register(router: Router, state: MockState) -> None:
    def runs(req: Request, m: re.Match[str]) -> Response:
        state.count("github:rest:workflow_runs")
        if not authorized(req, state):
            return Response(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                  "status": "401"})
        permissions = token_permissions(req, state)
        if permissions is not None and "actions" not in permissions:
            # GitHub's answer to an installation token without the permission, and the header naming it.
            return Response(403, {"message": "Resource not accessible by integration", "documentation_url": DOCS,
                                  "status": "403"}, {"X-Accepted-GitHub-Permissions": "actions=read"})
        data = served_data(state)
        full = f"{m['owner']}/{m['repo']}"
        repo = next((r for name, r in data.repos.items() if name.lower() == full.lower()), None)
        workflow = m["workflow"]
        items = [run for run in (repo or {}).get("_workflow_runs", [])
                 if run["path"].rsplit("/", 1)[-1] == workflow or str(run["workflow_id"]) == workflow]
        if repo is None or not items and not any(w == workflow for w in (repo or {}).get("_workflows", ())):
            return Response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
        branch, status, created = req.arg("branch"), req.arg("status"), req.arg("created")
        if status is not None and status not in STATUSES:
            return Response(422, {"message": f"Invalid status: {status}", "documentation_url": DOCS, "status": "422"})
        if branch:
            items = [r for r in items if r["head_branch"] == branch]
        if status:
            items = [r for r in items if r["status"] == status or r.get("conclusion") == status]
        if created:
            lo, hi = _date_filter(created)
            items = [r for r in items if lo <= _parse_time(r["created_at"]) <= hi]
        items.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        per_page = min(100, max(1, int(req.arg("per_page") or 30)))
        page = max(1, int(req.arg("page") or 1))
        chunk = items[(page - 1) * per_page: page * per_page]
        last = max(1, -(-len(items) // per_page))
        headers: dict[str, str] = {}
        if page < last:
            base = {k: v[0] for k, v in req.query.items() if k != "page"}
            host = req.headers.get("host", "127.0.0.1")
            link = f"http://{host}{req.path}?"
            headers["Link"] = (f'<{link}{urlencode({**base, "page": page + 1})}>; rel="next", '
                               f'<{link}{urlencode({**base, "page": last})}>; rel="last"')
        return Response(200, {"total_count": len(items), "workflow_runs": chunk}, headers)

    for prefix in ("", "/api/v3"):
        router.add("GET", prefix + r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/workflows/(?P<workflow>[^/]+)/runs",
                   runs)
