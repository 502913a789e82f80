"""GitHub issues carrying a configured incident label (`incidents.github_labels`), updated in a window.

GraphQL `repository.issues(labels:, filterBy: {since:}, orderBy: UPDATED_AT ASC)`: `since` is the window's
start, and pages are followed until an issue updated at or after the window's end. One repo per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from emd.http import ApiPayloadError
from emd.warehouse import to_db_timestamp, to_json
from orchestration.defs.github.resource import GitHubClient, github_timestamp, parse_timestamp

ISSUES_PAGE_SIZE = 100

LABELLED_ISSUES = f"""
query LabelledIssues($owner: String!, $name: String!, $labels: [String!], $since: DateTime, $cursor: String) {{
  rateLimit {{ cost limit remaining used resetAt nodeCount }}
  repository(owner: $owner, name: $name) {{
    nameWithOwner
    issues(first: {ISSUES_PAGE_SIZE}, after: $cursor, labels: $labels, filterBy: {{since: $since}},
           orderBy: {{field: UPDATED_AT, direction: ASC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ id number title state url createdAt updatedAt closedAt labels(first: 20) {{ nodes {{ name }} }} }}
    }}
  }}
}}
"""


def labelled_issues_between(client: GitHubClient, repos: Iterable[str], labels: Sequence[str], start: datetime,
                            end: datetime) -> list[dict[str, Any]]:
    """Issues of `repos` with any of `labels` whose updatedAt is in [start, end); each carries `repository`."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for repo in sorted(set(repos)):
        owner, name = repo.split("/", 1)
        cursor: str | None = None
        while True:
            data = client.graphql(LABELLED_ISSUES, {"owner": owner, "name": name, "labels": list(labels),
                                                    "since": github_timestamp(start), "cursor": cursor},
                                  f"labelled issues of {repo}")
            page = (data.get("repository") or {}).get("issues")
            if not isinstance(page, dict) or not isinstance(page.get("nodes"), list):
                raise ApiPayloadError(f"GitHub answered the labelled issues of {repo} without `issues`")
            past_window = False
            for issue in page["nodes"]:
                for field in ("id", "number", "createdAt", "updatedAt", "state"):
                    if not isinstance(issue, dict) or issue.get(field) is None:
                        raise ApiPayloadError(f"GitHub returned an issue of {repo} without `{field}`")
                updated = parse_timestamp(issue["updatedAt"])
                if updated >= end:
                    past_window = True
                    break
                if updated >= start:
                    found[(repo, int(issue["number"]))] = {**issue, "repository": repo}
            info = page.get("pageInfo") or {}
            if past_window or not info.get("hasNextPage"):
                break
            cursor = info.get("endCursor")
    return [found[key] for key in sorted(found)]


def issue_rows(issues: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{
        "repo": issue["repository"], "number": int(issue["number"]), "issue_id": issue["id"],
        "title": issue.get("title"), "state": issue["state"],
        "labels": to_json([n["name"] for n in ((issue.get("labels") or {}).get("nodes") or []) if n]),
        "created_at": to_db_timestamp(issue["createdAt"]), "updated_at": to_db_timestamp(issue["updatedAt"]),
        "closed_at": to_db_timestamp(issue.get("closedAt")), "payload": to_json(issue),
    } for issue in issues]
