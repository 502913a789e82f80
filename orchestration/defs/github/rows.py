"""GitHub GraphQL entities -> rows of the raw_github_* tables (emd.warehouse.RAW_TABLES).

Pure functions (no I/O), so the mapping is easy to read and to test. Timestamps become naive UTC via
`to_db_timestamp`; `payload` is the entity's JSON as the API returned it.
"""

from __future__ import annotations

import json
from typing import Any

from emd.http import ApiPayloadError
from emd.warehouse import to_db_timestamp, to_json
from orchestration.defs.github.resource import strip_nested


def _login(actor: Any) -> str | None:
    return actor.get("login") if isinstance(actor, dict) else None


def _typename(actor: Any) -> str | None:
    return actor.get("__typename") if isinstance(actor, dict) else None


def pull_request_rows(prs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """One PR's rows in every PR-related raw table, for a list of complete PRs (from the client).

    A field the query selects but the answer lacks (GitHub changed shape) is an error naming the PR and
    the field, never a silent NULL (a missing `mergedAt` would make every merged PR look unmerged)."""
    tables = _pull_request_rows([])
    for pr in prs:
        try:
            rows = _pull_request_rows([pr])
        except KeyError as exc:
            where = f"{(pr.get('repository') or {}).get('nameWithOwner', '?')}#{pr.get('number', '?')}"
            raise ApiPayloadError(f"GitHub pull request {where}: field `{exc.args[0]}` is missing from GitHub's "
                                  "answer (the GraphQL API changed shape, or a proxy altered it)") from None
        for table, part in rows.items():
            tables[table].extend(part)
    return tables


def _pull_request_rows(prs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {
        "raw_github_pull_requests": [], "raw_github_reviews": [], "raw_github_commits": [],
        "raw_github_timeline_events": [],
    }
    for pr in prs:
        repo = pr["repository"]["nameWithOwner"]
        number = pr["number"]
        default_branch = (pr["repository"].get("defaultBranchRef") or {}).get("name")
        tables["raw_github_pull_requests"].append({
            "repo": repo, "number": number, "pr_id": pr["id"], "url": pr.get("url"), "title": pr["title"],
            "author_login": _login(pr["author"]), "author_type": _typename(pr["author"]),
            "state": pr["state"], "is_draft": pr["isDraft"], "base_branch": pr["baseRefName"],
            "head_branch": pr["headRefName"], "default_branch": default_branch,
            "labels": json.dumps([label["name"] for label in pr["labels"]["nodes"]]),
            "additions": pr["additions"], "deletions": pr["deletions"], "changed_files": pr["changedFiles"],
            "commit_count": pr["commits"].get("totalCount", len(pr["commits"]["nodes"])),
            "review_count": pr["reviews"].get("totalCount", len(pr["reviews"]["nodes"])),
            "created_at": to_db_timestamp(pr["createdAt"]), "updated_at": to_db_timestamp(pr["updatedAt"]),
            "closed_at": to_db_timestamp(pr["closedAt"]), "merged_at": to_db_timestamp(pr["mergedAt"]),
            "merge_commit_sha": (pr.get("mergeCommit") or {}).get("oid"),
            "payload": to_json(strip_nested(pr)),
        })
        for review in pr["reviews"]["nodes"]:
            tables["raw_github_reviews"].append({
                "repo": repo, "pr_number": number, "review_id": review["id"],
                "author_login": _login(review.get("author")), "author_type": _typename(review.get("author")),
                "state": review["state"], "submitted_at": to_db_timestamp(review.get("submittedAt")),
                "created_at": to_db_timestamp(review["createdAt"]),
                "comment_count": (review.get("comments") or {}).get("totalCount", 0),
                "payload": to_json(review),
            })
        for item in pr["commits"]["nodes"]:
            commit = item["commit"]
            author = commit.get("author") or {}
            tables["raw_github_commits"].append({
                "repo": repo, "pr_number": number, "oid": commit["oid"],
                "authored_at": to_db_timestamp(commit["authoredDate"]),
                "committed_at": to_db_timestamp(commit["committedDate"]),
                "author_login": _login(author.get("user")), "payload": to_json(item),
            })
        for event in pr["timelineItems"]["nodes"]:
            tables["raw_github_timeline_events"].append({
                "repo": repo, "pr_number": number, "event_id": event["id"], "event_type": event["__typename"],
                "actor_login": _login(event.get("actor")), "created_at": to_db_timestamp(event["createdAt"]),
                "payload": to_json(event),
            })
    return tables


def release_rows(releases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{
        "repo": r["repository"], "release_id": r["id"], "tag_name": r["tagName"], "name": r.get("name"),
        "is_draft": bool(r.get("isDraft")), "is_prerelease": bool(r.get("isPrerelease")),
        "created_at": to_db_timestamp(r["createdAt"]), "published_at": to_db_timestamp(r.get("publishedAt")),
        "payload": to_json(r),
    } for r in releases]


def deployment_rows(deployments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for d in deployments:
        status = d.get("latestStatus") or {}
        rows.append({
            "repo": d["repository"], "deployment_id": d["id"], "environment": d.get("environment"),
            "sha": d["commitOid"], "ref": (d.get("ref") or {}).get("name"),
            "created_at": to_db_timestamp(d["createdAt"]),
            "latest_status": status["state"].lower() if status.get("state") else None,
            "latest_status_at": to_db_timestamp(status.get("createdAt")),
            "payload": to_json(d),
        })
    return rows
