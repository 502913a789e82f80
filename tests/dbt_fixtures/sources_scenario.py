"""A small hand-made organisation for the workflow, incident and CODEOWNERS sources, served by the mock APIs
(installed as the mock's GitHubData and PagerDuty incidents), with every expected value worked out by hand
in tests/test_sources_pipeline.py from docs/metrics.md.

acme/mono (team platform, deployments from the `deploy.yml` workflow, CODEOWNERS in .github/):
    *                 @acme/platform-team
    /web/             @acme/web-team
    /web/docs/*.md    @octocat            (a user: no configured team -> the repo's team)
  mono#1 merged 03-02 10:00 (first commit 06:00): web/app.ts 60+20, lib/core.py 20+5, web/docs/guide.md 10+0
  mono#2 merged 03-03 11:00 (first commit 08:00): lib/a.py 10+0, web/b.ts 6+4 (a tie)
  mono#3 merged 03-04 09:00 (first commit 07:00): README.md 5+0
  deploy.yml runs: 11 s1 main success 03-02 10:30 | 12 s2 main failure | 13 s2 main success attempt 2 03-03 12:40
                   | 14 s1 main success attempt 2 (a re-run of a deployed commit) 03-03 13:30
                   | 15 s9 feature/x success | 16 s3 main success 03-04 09:40; ci.yml run 17 s1 main success
acme/svc (team web, merge deployments, no CODEOWNERS): svc#1 merged 03-02 14:00 (first commit 11:00);
  issue #50 labelled incident, created 03-02 16:00, closed 20:00; issue #51 labelled bug.
PagerDuty: PPLAT01 (platform) high 03-03 15:00 resolved 18:00; high 03-04 12:00 open; low 03-04 13:00;
  PXOTHER (not mapped) high 03-03 10:00.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mock_apis.github_data import GitHubData, node_id
from mock_apis.pagerduty import incident

START_DAY, END_DAY = "2026-03-02", "2026-03-06"
CODEOWNERS = """# Owners of the monorepo
*                 @acme/platform-team
/web/             @acme/web-team   # the web team's app
/web/docs/*.md    @octocat
"""


def t(text: str) -> datetime:
    """`03-02 10:30` -> 2026-03-02 10:30 UTC."""
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def iso(text: str) -> str:
    return t(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def config() -> dict[str, Any]:
    return {
        "org": "acme",
        "github": {"repos": ["acme/mono", "acme/svc"]},
        "teams": {
            "platform": {"repos": ["acme/mono"], "members": ["alice"], "github_teams": ["@acme/platform-team"]},
            "web": {"repos": ["acme/svc"], "members": ["bob"], "github_teams": ["acme/web-team"]},
        },
        "deployments": {"source": "merge", "repos": {"acme/mono": {"source": "workflow", "workflows": ["deploy.yml"]}}},
        "incidents": {"github_labels": ["incident"],
                      "pagerduty": {"services": {"PPLAT01": "platform", "PWEB001": "web"}, "urgency": "high"}},
    }


def repository(full: str, blobs: dict[str, str] | None = None) -> dict[str, Any]:
    owner, name = full.split("/")
    return {"__typename": "Repository", "id": node_id("R", full), "databaseId": abs(hash(full)) % 10**6,
            "name": name, "nameWithOwner": full, "owner": {"__typename": "Organization", "login": owner},
            "url": f"https://github.com/{full}",
            "defaultBranchRef": {"__typename": "Ref", "name": "main", "prefix": "refs/heads/", "id": node_id("REF", full)},
            "_prs": [], "_releases": [], "_deployments": [], "_issues": [], "_blobs": blobs or {},
            "_workflow_runs": [], "_workflows": ("deploy.yml", "ci.yml")}


def pull_request(repo: dict[str, Any], number: int, author: str, created: str, merged: str, first_commit: str,
                 files: list[tuple[str, int, int]], title: str | None = None, head: str | None = None) -> dict[str, Any]:
    full = repo["nameWithOwner"]
    pr_id = node_id("PR", full, number)
    person = {"__typename": "User", "login": author, "id": node_id("U", author), "url": f"https://github.com/{author}"}
    commit = {"__typename": "PullRequestCommit", "id": node_id("PURC", pr_id, 0),
              "commit": {"__typename": "Commit", "oid": f"{number:040x}", "authoredDate": iso(first_commit),
                         "committedDate": iso(first_commit), "message": "work",
                         "author": {"__typename": "GitActor", "name": author, "email": f"{author}@example.com",
                                    "date": iso(first_commit), "user": person}},
              "_at": t(first_commit)}
    additions, deletions = sum(f[1] for f in files), sum(f[2] for f in files)
    return {
        "__typename": "PullRequest", "id": pr_id, "databaseId": number, "number": number, "title": title or f"Change {number}",
        "url": f"https://github.com/{full}/pull/{number}", "state": "MERGED", "closed": True, "merged": True,
        "isDraft": False, "baseRefName": "main", "headRefName": head or f"feat/change-{number}", "author": person,
        "additions": additions, "deletions": deletions, "changedFiles": len(files),
        "createdAt": iso(created), "updatedAt": iso(merged), "closedAt": iso(merged), "mergedAt": iso(merged),
        "mergeCommit": {"__typename": "Commit", "oid": f"m{number:039x}"}, "repository": repo,
        "authorAssociation": "MEMBER", "_labels": [], "_reviews": [], "_commits": [commit], "_timeline": [],
        "_files": [{"__typename": "PullRequestChangedFile", "path": p, "additions": a, "deletions": d,
                    "changeType": "MODIFIED"} for p, a, d in files],
        "_updated": t(merged), "_created": t(created), "_repo": full,
    }


def workflow_run(run_id: int, sha: str, branch: str, conclusion: str, created: str, updated: str, attempt: int = 1,
         workflow: str = "deploy.yml") -> dict[str, Any]:
    return {"id": run_id, "name": workflow.split(".")[0], "node_id": f"WFR_{run_id}", "head_branch": branch,
            "head_sha": sha, "path": f".github/workflows/{workflow}", "run_number": run_id, "run_attempt": attempt,
            "event": "push", "status": "completed", "conclusion": conclusion,
            "workflow_id": 7001 if workflow == "deploy.yml" else 7002, "created_at": iso(created),
            "updated_at": iso(updated), "run_started_at": iso(created),
            "html_url": f"https://github.com/acme/mono/actions/runs/{run_id}"}


def labelled_issue(repo: dict[str, Any], number: int, labels: list[str], created: str, closed: str | None) -> dict[str, Any]:
    full = repo["nameWithOwner"]
    return {"__typename": "Issue", "id": node_id("I", full, number), "number": number, "title": f"Outage {number}",
            "url": f"https://github.com/{full}/issues/{number}", "state": "CLOSED" if closed else "OPEN",
            "createdAt": iso(created), "updatedAt": iso(closed or created), "closedAt": iso(closed) if closed else None,
            "_labels": [{"__typename": "Label", "id": node_id("LA", full, n), "name": n} for n in labels]}


def github() -> GitHubData:
    mono = repository("acme/mono", {".github/CODEOWNERS": CODEOWNERS})
    svc = repository("acme/svc")
    data = GitHubData(repos={"acme/mono": mono, "acme/svc": svc})
    prs = [
        pull_request(mono, 1, "alice", "03-02 08:00", "03-02 10:00", "03-02 06:00",
            [("web/app.ts", 60, 20), ("lib/core.py", 20, 5), ("web/docs/guide.md", 10, 0)]),
        pull_request(mono, 2, "alice", "03-03 09:00", "03-03 11:00", "03-03 08:00", [("lib/a.py", 10, 0), ("web/b.ts", 6, 4)]),
        pull_request(mono, 3, "alice", "03-04 08:00", "03-04 09:00", "03-04 07:00", [("README.md", 5, 0)]),
        pull_request(svc, 1, "bob", "03-02 12:00", "03-02 14:00", "03-02 11:00", [("src/main.go", 3, 1)]),
    ]
    for pr in prs:
        pr["repository"]["_prs"].append(pr)
        data.nodes[pr["id"]] = pr
    data.pull_requests = sorted(prs, key=lambda p: (p["_updated"], p["_repo"], p["number"]))
    mono["_workflow_runs"] = [
        workflow_run(11, "s1", "main", "success", "03-02 10:05", "03-02 10:30"),
        workflow_run(12, "s2", "main", "failure", "03-03 11:05", "03-03 11:20"),
        workflow_run(13, "s2", "main", "success", "03-03 12:00", "03-03 12:40", attempt=2),
        workflow_run(14, "s1", "main", "success", "03-03 13:00", "03-03 13:30", attempt=2),
        workflow_run(15, "s9", "feature/x", "success", "03-03 14:00", "03-03 14:10"),
        workflow_run(16, "s3", "main", "success", "03-04 09:10", "03-04 09:40"),
        workflow_run(17, "s1", "main", "success", "03-02 10:01", "03-02 10:20", workflow="ci.yml"),
    ]
    svc["_issues"] = [labelled_issue(svc, 50, ["incident", "sev2"], "03-02 16:00", "03-02 20:00"),
                      labelled_issue(svc, 51, ["bug"], "03-03 09:00", None)]
    return data


def pagerduty() -> list[dict[str, Any]]:
    return [
        incident(1, "PPLAT01", t("03-03 15:00"), t("03-03 18:00"), "high", "Checkout errors"),
        incident(2, "PPLAT01", t("03-04 12:00"), None, "high", "Queue backlog"),
        incident(3, "PPLAT01", t("03-04 13:00"), None, "low", "Disk 80%"),
        incident(4, "PXOTHER", t("03-03 10:00"), None, "high", "Another team's pager"),
    ]
