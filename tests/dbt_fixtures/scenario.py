"""A small hand-crafted org whose every mart value is computed by hand in tests/test_dbt_marts.py.

Days 2026-03-02 .. 2026-03-06 (UTC). Repos: acme/api (platform, merge), acme/web (web, release),
acme/infra (platform, deployment), acme/tools (no team, merge). Jira: board 12 (platform) with
sprints 100 (closed) and 101 (active); projects API (platform) and WEB (web, no board).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

CONFIG: dict[str, Any] = {
    "org": "acme",
    "github": {"repos": ["acme/api", "acme/web", "acme/infra", "acme/tools"]},
    "jira": {"projects": ["API", "WEB"], "boards": [12], "incident_types": ["Incident"]},
    "teams": {
        "platform": {"repos": ["acme/api", "acme/infra"], "jira_projects": ["API"], "jira_boards": [12],
                     "members": ["alice", "bob"]},
        "web": {"repos": ["acme/web"], "jira_projects": ["WEB"], "members": ["carol"]},
    },
    "deployments": {"source": "merge", "environment": "production",
                    "repos": {"acme/web": {"source": "release"}, "acme/infra": {"source": "deployment"}}},
    "bots": ["renovate"],
}


def t(text: str) -> datetime:
    """'03-02 09:00' -> 2026-03-02 09:00:00 (naive UTC, as the warehouse stores timestamps)."""
    return datetime.strptime("2026-" + text, "%Y-%m-%d %H:%M" if text.count(":") == 1 else "%Y-%m-%d %H:%M:%S")


def pr(repo: str, number: int, author: str, title: str, created: str, *, state: str = "MERGED",
       merged: str | None = None, closed: str | None = None, base: str = "main", head: str = "topic",
       labels: tuple[str, ...] = (), author_type: str = "User", is_draft: bool = False,
       additions: int = 10, deletions: int = 2) -> dict[str, Any]:
    return {
        "repo": repo, "number": number, "pr_id": f"PR_{repo}_{number}", "title": title,
        "author_login": author, "author_type": author_type, "state": state, "is_draft": is_draft,
        "base_branch": base, "head_branch": head, "default_branch": "main", "labels": json.dumps(list(labels)),
        "additions": additions, "deletions": deletions, "changed_files": 1, "commit_count": 1, "review_count": 0,
        "created_at": t(created), "updated_at": t(created), "merged_at": t(merged) if merged else None,
        "closed_at": t(closed) if closed else (t(merged) if merged else None), "merge_commit_sha": None,
        "url": None, "payload": "{}",
    }


def review(repo: str, number: int, review_id: str, author: str, state: str, submitted: str | None,
           comments: int = 0, author_type: str = "User") -> dict[str, Any]:
    return {"repo": repo, "pr_number": number, "review_id": review_id, "author_login": author,
            "author_type": author_type, "state": state, "submitted_at": t(submitted) if submitted else None,
            "created_at": t(submitted) if submitted else None, "comment_count": comments, "payload": "{}"}


def commit(repo: str, number: int, oid: str, authored: str) -> dict[str, Any]:
    return {"repo": repo, "pr_number": number, "oid": oid, "authored_at": t(authored), "committed_at": t(authored),
            "author_login": None, "payload": "{}"}


def event(repo: str, number: int, event_id: str, event_type: str, at: str) -> dict[str, Any]:
    return {"repo": repo, "pr_number": number, "event_id": event_id, "event_type": event_type,
            "actor_login": None, "created_at": t(at), "payload": "{}"}


def github_partitions() -> dict[str, dict[str, list[dict[str, Any]]]]:
    api, web, infra, tools = "acme/api", "acme/web", "acme/infra", "acme/tools"
    newest = {
        "raw_github_pull_requests": [
            pr(api, 1, "alice", "feat: add cache", "03-02 09:00", merged="03-02 18:00"),
            pr(api, 2, "bob", "fix: null check", "03-03 10:00", merged="03-03 20:00"),
            pr(api, 3, "bob", "Refactor", "03-03 10:00", merged="03-03 11:00", base="develop"),
            pr(api, 4, "alice", 'Revert "Add cache"', "03-04 09:00", merged="03-04 10:00", head="revert-12-add-cache"),
            pr(api, 5, "renovate", "Bump lib", "03-04 11:00", merged="03-04 12:00"),
            pr(api, 6, "alice", "Try idea", "03-05 09:00", state="CLOSED", closed="03-05 11:00", labels=("enhancement",)),
            pr(api, 7, "bob", "Login broken", "03-05 12:00", merged="03-05 14:00", head="fix/login", labels=("hotfix",)),
            pr(web, 1, "carol", "New page", "03-02 14:00", merged="03-03 09:00"),
            pr(web, 2, "carol", "Patch release", "03-03 10:00", merged="03-03 12:30", base="release/1.0", head="patch"),
            pr(tools, 1, "carol", "Tooling", "03-06 09:00", merged="03-06 10:00"),
        ],
        "raw_github_reviews": [
            review(api, 1, "r1", "bob", "PENDING", None),
            review(api, 1, "r2", "dependabot", "COMMENTED", "03-02 12:30", comments=4, author_type="Bot"),
            review(api, 1, "r3", "alice", "COMMENTED", "03-02 13:00", comments=1),
            review(api, 1, "r4", "bob", "CHANGES_REQUESTED", "03-02 14:00", comments=2),
            review(api, 1, "r5", "carol", "APPROVED", "03-02 16:00", comments=1),
            review(api, 7, "r6", "alice", "APPROVED", "03-05 13:00"),
        ],
        "raw_github_commits": [
            commit(api, 1, "c1", "03-02 08:00"), commit(api, 1, "c2", "03-02 10:00"),
            commit(api, 2, "c3", "03-03 09:00"), commit(api, 3, "c4", "03-03 10:00"),
            commit(api, 4, "c5", "03-04 08:00"), commit(api, 5, "c6", "03-04 13:00"),
            commit(api, 7, "c7", "03-05 11:00"), commit(web, 1, "c8", "03-02 13:00"),
            commit(web, 2, "c9", "03-03 10:00"), commit(tools, 1, "c10", "03-06 08:30"),
        ],
        "raw_github_timeline_events": [
            event(api, 1, "e1", "ReadyForReviewEvent", "03-02 12:00"),
            event(api, 1, "e2", "MergedEvent", "03-02 18:00"),
            event(api, 6, "e3", "ClosedEvent", "03-05 09:30"),
            event(api, 6, "e4", "ReopenedEvent", "03-05 10:00"),
            event(api, 6, "e5", "ClosedEvent", "03-05 11:00"),
        ],
        "raw_github_releases": [
            {"repo": web, "release_id": "v1.0", "tag_name": "v1.0", "name": "v1.0", "is_draft": False,
             "is_prerelease": False, "created_at": t("03-02 11:00"), "published_at": t("03-02 12:00"), "payload": "{}"},
            {"repo": web, "release_id": "v1.1-rc", "tag_name": "v1.1-rc", "name": "rc", "is_draft": False,
             "is_prerelease": True, "created_at": t("03-03 11:00"), "published_at": t("03-03 12:00"), "payload": "{}"},
            {"repo": web, "release_id": "v1.1-draft", "tag_name": "v1.1-draft", "name": "draft", "is_draft": True,
             "is_prerelease": False, "created_at": t("03-03 15:00"), "published_at": None, "payload": "{}"},
            {"repo": web, "release_id": "v1.1", "tag_name": "v1.1", "name": "v1.1", "is_draft": False,
             "is_prerelease": False, "created_at": t("03-04 11:00"), "published_at": t("03-04 12:00"), "payload": "{}"},
        ],
        "raw_github_deployments": [
            {"repo": infra, "deployment_id": "d1", "environment": "production", "sha": "a", "ref": "main",
             "created_at": t("03-02 14:50"), "latest_status": "success", "latest_status_at": t("03-02 15:00"), "payload": "{}"},
            {"repo": infra, "deployment_id": "d2", "environment": "staging", "sha": "b", "ref": "main",
             "created_at": t("03-03 09:00"), "latest_status": "success", "latest_status_at": t("03-03 09:10"), "payload": "{}"},
            {"repo": infra, "deployment_id": "d3", "environment": "production", "sha": "c", "ref": "main",
             "created_at": t("03-04 09:00"), "latest_status": "failure", "latest_status_at": t("03-04 09:10"), "payload": "{}"},
            {"repo": infra, "deployment_id": "d4", "environment": "production", "sha": "d", "ref": "main",
             "created_at": t("03-05 15:50"), "latest_status": "success", "latest_status_at": t("03-05 16:00"), "payload": "{}"},
        ],
    }
    # An older fetch of api#1 (still an open draft) with a review that later disappeared: staging must
    # keep only the newest row and the child rows fetched with it.
    stale = {
        "raw_github_pull_requests": [pr(api, 1, "alice", "feat: add cache", "03-02 09:00", state="OPEN", is_draft=True)],
        "raw_github_reviews": [review(api, 1, "r0", "carol", "COMMENTED", "03-02 10:30")],
        "raw_github_commits": [], "raw_github_timeline_events": [], "raw_github_releases": [], "raw_github_deployments": [],
    }
    # The scenario ingested every day 03-02 .. 03-06; the days in between were fetched but their rows were
    # re-fetched into 03-06 (the newest fetch), so their partitions are recorded empty (the ingested calendar).
    return {"2026-03-02": stale, **_quiet_days(newest), "2026-03-06": newest}


INGESTED_DAYS = ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06")


def _quiet_days(tables: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Empty partitions of `tables` for the scenario's ingested days between 03-02 and 03-06."""
    return {day: {table: [] for table in tables} for day in INGESTED_DAYS[1:-1]}


STATUSES = {"1": ("To Do", "new"), "3": ("In Progress", "indeterminate"), "5": ("Blocked", "indeterminate"),
            "10": ("Done", "done")}


def issue(key: str, created: str, status_id: str, *, points: float | None = None, sprints: tuple[int, ...] = (),
          issue_type: str = "Story", is_subtask: bool = False, resolved: str | None = None,
          flagged: bool = False) -> dict[str, Any]:
    name, category = STATUSES[status_id]
    return {"issue_id": key, "key": key, "project_key": key.split("-")[0], "issue_type": issue_type,
            "is_subtask": is_subtask, "summary": f"Issue {key}", "status_id": status_id, "status_name": name,
            "status_category": category, "created_at": t(created), "updated_at": t(created),
            "resolved_at": t(resolved) if resolved else None, "story_points": points,
            "sprint_ids": json.dumps(list(sprints)), "flagged": flagged, "assignee_account_id": None,
            "story_points_field": "customfield_10016", "payload": "{}"}


_history_ids = iter(range(1000, 100000))


def change(key: str, at: str, field: str, from_value: str | None, to_value: str | None,
           from_string: str | None = None, to_string: str | None = None) -> dict[str, Any]:
    """One changelog item. Sprint: ids in from/to_value. Points: the number in from/to_string.
    Status: ids in *_value, names in *_string. Flagged: to_string 'Impediment' or None."""
    return {"issue_key": key, "history_id": str(next(_history_ids)), "item_index": 0, "created_at": t(at),
            "author_account_id": None, "field": field, "field_id": field, "from_value": from_value,
            "from_string": from_string, "to_value": to_value, "to_string": to_string, "payload": "{}"}


def sprint_change(key: str, at: str, before: str, after: str) -> dict[str, Any]:
    return change(key, at, "sprint", before, after, before, after)


def points_change(key: str, at: str, before: str | None, after: str | None) -> dict[str, Any]:
    return change(key, at, "story_points", None, None, before, after)


def status_change(key: str, at: str, before: str, after: str) -> dict[str, Any]:
    return change(key, at, "status", before, after, STATUSES[before][0], STATUSES[after][0])


def jira_partitions() -> dict[str, dict[str, list[dict[str, Any]]]]:
    issues = [
        issue("API-1", "03-01 10:00", "10", points=3, sprints=(100,), resolved="03-04 15:00"),
        issue("API-2", "03-01 10:00", "3", points=8, sprints=(100, 101)),
        issue("API-3", "03-03 09:00", "10", points=2, sprints=(100,), resolved="03-05 12:00"),
        issue("API-4", "03-01 12:00", "1", points=1, sprints=()),
        issue("API-5", "03-04 08:00", "5", points=None, sprints=(100, 101)),
        issue("API-6", "03-01 10:00", "1", points=5, sprints=(100,), issue_type="Sub-task", is_subtask=True),
        issue("API-7", "03-01 10:00", "10", points=2, sprints=(100,), resolved="03-05 09:00"),
        issue("API-9", "03-05 18:00", "10", issue_type="Incident", resolved="03-06 06:00"),
        issue("WEB-1", "03-02 09:00", "3"),
    ]
    changelog = [
        sprint_change("API-1", "03-01 11:00", "", "100"),
        points_change("API-1", "03-01 10:30", None, "3"),
        status_change("API-1", "03-02 10:00", "1", "3"),
        status_change("API-1", "03-04 15:00", "3", "10"),

        sprint_change("API-2", "03-01 11:00", "", "100"),
        points_change("API-2", "03-01 10:30", None, "5"),
        points_change("API-2", "03-03 12:00", "5", "8.0"),
        status_change("API-2", "03-03 09:00", "1", "3"),
        sprint_change("API-2", "03-06 10:00:30", "100", "100, 101"),  # moved by the completion of sprint 100

        points_change("API-3", "03-03 09:30", None, "2"),
        sprint_change("API-3", "03-03 10:00", "", "100"),
        status_change("API-3", "03-05 12:00", "1", "10"),

        sprint_change("API-4", "03-01 12:00", "", "100"),
        points_change("API-4", "03-01 12:00", None, "1"),
        sprint_change("API-4", "03-04 09:00", "100", ""),

        sprint_change("API-5", "03-04 09:00", "", "100"),
        status_change("API-5", "03-04 10:00", "1", "5"),
        sprint_change("API-5", "03-06 10:00:45", "100", "100, 101"),

        sprint_change("API-6", "03-01 11:00", "", "100"),

        sprint_change("API-7", "03-01 11:00", "", "100"),
        points_change("API-7", "03-01 10:30", None, "2"),
        status_change("API-7", "03-02 09:30", "1", "3"),
        change("API-7", "03-03 08:00", "flagged", None, None, None, "Impediment"),
        change("API-7", "03-05 08:00", "flagged", None, None, "Impediment", ""),
        status_change("API-7", "03-05 09:00", "3", "10"),

        status_change("API-9", "03-05 20:00", "1", "3"),
        status_change("API-9", "03-06 06:00", "3", "10"),

        status_change("WEB-1", "03-02 10:00", "1", "3"),
    ]
    sprints = [
        {"sprint_id": 100, "board_id": 12, "name": "Sprint 100", "state": "closed", "start_at": t("03-02 09:00"),
         "end_at": t("03-06 09:00"), "completed_at": t("03-06 10:00"), "goal": None, "payload": "{}"},
        {"sprint_id": 101, "board_id": 12, "name": "Sprint 101", "state": "active", "start_at": t("03-06 10:00"),
         "end_at": t("03-20 10:00"), "completed_at": None, "goal": None, "payload": "{}"},
    ]
    statuses = [{"status_id": sid, "name": name, "category": cat, "payload": "{}"}
                for sid, (name, cat) in STATUSES.items()]
    newest = {"raw_jira_issues": issues, "raw_jira_changelog": changelog, "raw_jira_sprints": sprints,
              "raw_jira_statuses": statuses}
    return {INGESTED_DAYS[0]: {table: [] for table in newest}, **_quiet_days(newest), "2026-03-06": newest}
