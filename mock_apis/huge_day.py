"""`emd mock-api --huge-day YYYY-MM-DD`: one day on which a bulk edit or a migration touched everything.

On that day (after the synthetic org's anchor, so it never mixes with the org's own activity) the mock
serves `pull_requests` extra PRs of `repo` (default 50,000 of acme/api), `updatedAt` spread evenly over
the day, each with a label, a review, two commits and two timeline events, and `jira_issues` extra Jira
issues of `project` (default 200,000 of API), each a story with one status change on that day. They are
built from their index when a search page asks for them, never all at once, so the mock stays small and
starts at once; the APIs' rules still apply (GitHub: 1,000 results per search string, pages of at most
100; Jira: pages of 100 with nextPageToken).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mock_apis.github_data import iso, node_id, sha

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class HugeDay:
    day: date
    pull_requests: int = 50_000
    jira_issues: int = 200_000
    repo: str = "acme/api"
    project: str = "API"

    @property
    def start(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)

    def updated_at(self, index: int) -> datetime:
        """PR `index`'s updatedAt, whole seconds, ascending with the index."""
        return self.start + timedelta(seconds=index * DAY_SECONDS // self.pull_requests)

    def index_range(self, lo: datetime, hi: datetime) -> range:
        """Indices whose updatedAt is in [lo, hi] (both inclusive, as GitHub's `updated:` ranges are)."""
        def first_at_or_after(when: datetime) -> int:
            seconds = (when - self.start).total_seconds()
            if seconds <= 0:
                return 0
            # smallest i with i * DAY // n >= seconds
            i = int(-(-int(seconds) * self.pull_requests // DAY_SECONDS))
            while i > 0 and self.updated_at(i - 1) >= when:
                i -= 1
            while i < self.pull_requests and self.updated_at(i) < when:
                i += 1
            return min(i, self.pull_requests)

        end_of_day = self.start + timedelta(days=1)
        if hi < self.start or lo >= end_of_day:
            return range(0)
        return range(first_at_or_after(lo), first_at_or_after(hi + timedelta(seconds=1)))

    def pull_request(self, index: int, repo_obj: dict[str, Any]) -> dict[str, Any]:
        """PR `index` in the shape github_data uses (GraphQL field names, `_`-prefixed connections)."""
        number = 100_000 + index
        updated = self.updated_at(index)
        created = updated - timedelta(hours=6)
        pr_id = node_id("PR", self.repo, number)
        author = {"__typename": "User", "login": "bulk-migrator", "name": "Bulk Migrator",
                  "id": node_id("U", "bulk-migrator"), "url": "https://github.com/bulk-migrator"}
        reviewer = {"__typename": "User", "login": "reviewer", "name": "Reviewer", "id": node_id("U", "reviewer"),
                    "url": "https://github.com/reviewer"}
        review_at = created + timedelta(hours=1)
        review_id = node_id("PRR", pr_id, 0)
        commits = [{
            "__typename": "PullRequestCommit", "id": node_id("PURC", pr_id, i),
            "commit": {"__typename": "Commit", "oid": sha(self.repo, number, "commit", i),
                       "authoredDate": iso(created - timedelta(minutes=30 - i)),
                       "committedDate": iso(created - timedelta(minutes=20 - i)), "message": f"Migrate module {index}",
                       "author": {"__typename": "GitActor", "name": "Bulk Migrator", "email": "bulk@example.com",
                                  "date": iso(created), "user": author}},
        } for i in range(2)]
        timeline = [
            {"__typename": "MergedEvent", "id": node_id("ME", pr_id), "createdAt": iso(updated), "actor": reviewer,
             "mergeRefName": "main", "_at": updated},
            {"__typename": "ClosedEvent", "id": node_id("CE", pr_id), "createdAt": iso(updated), "actor": reviewer,
             "_at": updated},
        ]
        return {
            "__typename": "PullRequest", "id": pr_id, "databaseId": 900_000_000 + index, "number": number,
            "title": f"Migrate module {index} to the new build", "url": f"https://github.com/{self.repo}/pull/{number}",
            "state": "MERGED", "closed": True, "merged": True, "isDraft": False, "baseRefName": "main",
            "headRefName": f"migrate/module-{index}", "author": author, "additions": 12, "deletions": 9,
            "changedFiles": 2, "createdAt": iso(created), "updatedAt": iso(updated), "closedAt": iso(updated),
            "mergedAt": iso(updated), "mergeCommit": {"__typename": "Commit", "oid": sha(self.repo, number, "merge")},
            "repository": repo_obj, "authorAssociation": "MEMBER",
            "_labels": [{"__typename": "Label", "id": node_id("LA", self.repo, "migration"), "name": "migration",
                         "color": "ededed"}],
            "_reviews": [{"__typename": "PullRequestReview", "id": review_id, "databaseId": 800_000_000 + index,
                          "author": reviewer, "authorAssociation": "MEMBER", "state": "APPROVED",
                          "submittedAt": iso(review_at), "createdAt": iso(review_at),
                          "url": f"https://github.com/{self.repo}/pull/{number}#pullrequestreview-{index}",
                          "_comments": 0, "_at": review_at}],
            "_commits": commits, "_timeline": timeline,
            "_updated": updated, "_created": created, "_repo": self.repo,
        }

    def matches(self, repos: list[str], lo: datetime, hi: datetime) -> range:
        """The indices a search with these `repo:` qualifiers (none = every repo) and updated range finds."""
        if repos and self.repo.lower() not in repos:
            return range(0)
        return self.index_range(lo, hi)

    # -- Jira ------------------------------------------------------------------------------------------
    def jira_updated_at(self, index: int) -> datetime:
        """Issue `index`'s `updated` (milliseconds, as Jira keeps them), ascending with the index."""
        micros = index * DAY_SECONDS * 1_000_000 // max(1, self.jira_issues)
        return self.start + timedelta(milliseconds=micros // 1000)

    def jira_issue(self, index: int, project: Any, reporter: Any) -> Any:
        """Issue `index` of `project` (a mock JiraIssue): a story moved to In Progress by the bulk edit."""
        from mock_apis.jira_data import IN_PROGRESS, STORY, ChangeItem, History, JiraIssue

        updated = self.jira_updated_at(index)
        issue = JiraIssue(project=project, issue_type=STORY, summary=f"Migrated ticket {index}",
                          created=self.start - timedelta(days=10), reporter=reporter, id=5_000_000 + index,
                          key=f"{project.key}-{100_000 + index}", status=IN_PROGRESS, assignee=reporter)
        issue.histories = [History(id=90_000_000 + index, created=updated, author=reporter, items=[
            ChangeItem("status", "jira", "status", "10000", "To Do", IN_PROGRESS.id, IN_PROGRESS.name)])]
        return issue
