"""The synthetic GitHub activity of a `SyntheticOrg`: pull requests, reviews, commits, timeline events,
releases and deployments, shaped as GitHub's GraphQL objects (field names as in the public schema).

Deterministic from (seed, scale, anchor, days) and memoized, because tests start a fresh server per test.
Every object is a plain dict keyed by GraphQL field names, so the mock's executor can serve it with
graphql-core's default resolvers; connection fields keep their items under `_`-prefixed keys
(`_reviews`, `_commits`, `_timeline`, `_labels`, `_releases`, `_deployments`, `_statuses`) and the mock
pages them. Datetime fields are ISO-8601 strings (`2026-03-01T12:00:00Z`), as GitHub sends them; the
`_updated` key holds the same `updatedAt` as a datetime for searching.

The shape is meant to exercise the metrics: long-tailed (lognormal) cycle times, drafts that become ready
(and some converted back), self- and bot reviews, PENDING reviews, PRs merged without review, reopened
PRs, closed-unmerged PRs, hotfix and revert PRs, PRs into non-default branches, commits authored before
the PR was opened (and a few with author clock skew after the merge), a few PRs with more than 100
commits or reviews (nested pagination), releases (drafts, prereleases) and deployments with statuses.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mock_apis.org import BOT_LOGIN, Person, Repo, SyntheticOrg

LABEL_COLORS = {"bug": "d73a4a", "fix": "e99695", "feature": "a2eeef", "enhancement": "84b6eb",
                "hotfix": "b60205", "dependencies": "0366d6"}
FEATURE_WORDS = ["search", "billing", "onboarding", "export", "audit log", "dashboard", "webhooks", "caching",
                 "pagination", "sso", "notifications", "reports", "rate limits", "uploads", "settings page"]
FIX_WORDS = ["null pointer in", "timeout in", "race in", "off-by-one in", "memory leak in", "crash in",
             "wrong totals in", "flaky test for"]
CHORE_WORDS = ["Refactor", "Document", "Tidy", "Upgrade CI for", "Add metrics to", "Rename modules in"]
UNICODE_TITLE_SUFFIX = "🚀 (日本語 · русский · café)"
BUMPED = ["lodash", "requests", "urllib3", "react", "express", "pyyaml", "jest", "axios", "protobuf"]
REVIEW_STATES_NON_FINAL = ["COMMENTED", "CHANGES_REQUESTED", "COMMENTED"]
READY_ITEM_TYPES = ("ReadyForReviewEvent", "ConvertToDraftEvent", "ReopenedEvent", "ClosedEvent", "MergedEvent")


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(prefix: str, *parts: object) -> str:
    """A GitHub-like opaque global node id (`PR_kwDO...`), stable for the same parts."""
    digest = hashlib.blake2b("/".join(str(p) for p in parts).encode(), digest_size=9).digest()
    return f"{prefix}_kwDO{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def sha(*parts: object) -> str:
    return hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()  # noqa: S324 - not security


@dataclass
class GitHubData:
    """Everything the mock serves. `repos` maps owner/name -> repository dict; `nodes` maps node id -> object."""

    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    pull_requests: list[dict[str, Any]] = field(default_factory=list)  # sorted by (updatedAt, repo, number)


def actor(person: Person | None, bot: bool = False) -> dict[str, Any]:
    if bot or person is None:
        return {"__typename": "Bot", "login": BOT_LOGIN, "id": node_id("BOT", BOT_LOGIN),
                "url": f"https://github.com/apps/{BOT_LOGIN}"}
    return {"__typename": "User", "login": person.login, "name": person.display_name,
            "id": node_id("U", person.login), "url": f"https://github.com/{person.login}"}


def github_data(org: SyntheticOrg) -> GitHubData:
    """The org's GitHub activity (memoized per seed, scale, anchor and days)."""
    return _generate(org.seed, org.scale, org.anchor.isoformat(), org.days)


@functools.lru_cache(maxsize=4)
def _generate(seed: int, scale: str, anchor: str, days: int) -> GitHubData:
    from datetime import date

    from mock_apis.github_ai import annotate  # noqa: PLC0415 - AI annotations live in their own module

    org = SyntheticOrg(seed=seed, scale=scale, anchor=date.fromisoformat(anchor), days=days)
    data = _Generator(org).run()
    annotate(data, org)
    return data


class _Generator:
    def __init__(self, org: SyntheticOrg):
        self.org = org
        self.cut = org.end_dt - timedelta(seconds=1)  # nothing happens after the anchor day
        self.data = GitHubData()
        self.prs_per_repo_day = 14.4 if org.scale == "large" else 1.35

    def run(self) -> GitHubData:
        for index, repo in enumerate(self.org.repos):
            self._repo(index, repo)
        self.data.pull_requests.sort(key=lambda pr: (pr["_updated"], pr["_repo"], pr["number"]))
        return self.data

    # -- repositories -------------------------------------------------------------------------------
    def _repo(self, index: int, repo: Repo) -> None:
        owner, name = repo.full_name.split("/")
        repo_obj: dict[str, Any] = {
            "__typename": "Repository", "id": node_id("R", repo.full_name), "databaseId": 100000 + index,
            "name": name, "nameWithOwner": repo.full_name, "owner": {"__typename": "Organization", "login": owner},
            "url": f"https://github.com/{repo.full_name}",
            "defaultBranchRef": {"__typename": "Ref", "name": repo.default_branch, "prefix": "refs/heads/",
                                 "id": node_id("REF", repo.full_name, repo.default_branch)},
            "_prs": [], "_releases": [], "_deployments": [],
        }
        self.data.repos[repo.full_name] = repo_obj
        self.data.nodes[repo_obj["id"]] = repo_obj
        rng = self.org.rng(f"github:{repo.full_name}")
        team = self.org.members(repo.team) or self.org.people
        others = [p for p in self.org.people if p.team != repo.team] or team
        number = 1
        merged: list[dict[str, Any]] = []
        day = self.org.start_dt
        big_commits_done = big_reviews_done = False
        middle = self.org.start_dt + timedelta(days=self.org.days // 2)
        while day <= self.cut:
            weekend = day.weekday() >= 5
            count = _poisson(rng, self.prs_per_repo_day * (0.25 if weekend else 1.2))
            for _ in range(count):
                created = day + timedelta(hours=rng.uniform(6, 20) if not weekend else rng.uniform(0, 24))
                if created > self.cut - timedelta(minutes=5):
                    continue
                special = None
                if not big_commits_done and index in (0, 1) and created >= middle:
                    special, big_commits_done = "many_commits", True
                elif not big_reviews_done and index == 0 and created >= middle + timedelta(days=2):
                    special, big_reviews_done = "many_reviews", True
                elif self.org.scale == "large" and rng.random() < 0.0004:
                    special = rng.choice(["many_commits", "many_reviews"])
                pr = self._pull_request(rng, repo, repo_obj, number, created, team, others, merged, special)
                number += 1
                repo_obj["_prs"].append(pr)
                self.data.pull_requests.append(pr)
                self.data.nodes[pr["id"]] = pr
                if pr["mergedAt"] and pr["baseRefName"] == repo.default_branch:
                    merged.append(pr)
            day += timedelta(days=1)
        self._releases(rng, repo, repo_obj, team, merged)
        if repo.deployment_source == "deployment":
            self._deployments(rng, repo, repo_obj, team, merged)

    # -- pull requests ------------------------------------------------------------------------------
    def _pull_request(self, rng: random.Random, repo: Repo, repo_obj: dict[str, Any], number: int,
                      created: datetime, team: list[Person], others: list[Person],
                      merged_before: list[dict[str, Any]], special: str | None) -> dict[str, Any]:
        roll = rng.random()
        kind = ("bot" if roll < 0.05 else "revert" if roll < 0.08 and merged_before else
                "hotfix" if roll < 0.13 else "bug" if roll < 0.38 else "chore" if roll < 0.52 else "feature")
        if special:
            kind = "feature"
        author = rng.choice(others) if rng.random() < 0.12 else rng.choice(team)
        is_bot = kind == "bot"
        labels: list[str] = []
        base = repo.default_branch
        if kind == "bot":
            dep = rng.choice(BUMPED)
            old = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
            new = old.rsplit(".", 1)[0] + f".{int(old.rsplit('.', 1)[1]) + 1}"
            title, head = f"Bump {dep} from {old} to {new}", f"dependabot/pip/{dep}-{new}"
            labels = ["dependencies"]
        elif kind == "revert":
            target = rng.choice(merged_before[-10:])
            title = f'Revert "{target["title"]}"'
            head = f"revert-{target['number']}-{target['headRefName']}"
        elif kind == "hotfix":
            what = rng.choice(FIX_WORDS) + " " + rng.choice(FEATURE_WORDS)
            title, head = f"Hotfix: {what}", f"hotfix/{_slug(what)}-{number}"
            if rng.random() < 0.5:
                base = f"release/1.{rng.randint(2, 9)}"
            if rng.random() < 0.6:
                labels = ["hotfix"]
        elif kind == "bug":
            what = rng.choice(FIX_WORDS) + " " + rng.choice(FEATURE_WORDS)
            title, head = f"Fix {what}", f"fix/{_slug(what)}-{number}"
            if rng.random() < 0.6:
                labels = [rng.choice(["bug", "fix"])]
        elif kind == "chore":
            what = rng.choice(CHORE_WORDS) + " " + rng.choice(FEATURE_WORDS)
            title, head = what, f"chore/{_slug(what)}-{number}"
        else:
            what = rng.choice(FEATURE_WORDS)
            title, head = f"Add {what}", f"feat/{_slug(what)}-{number}"
            if number % 10 == 7:  # real titles carry emoji and non-Latin text (no random draw: same org)
                title += f" {UNICODE_TITLE_SUFFIX}"
            if rng.random() < 0.6:
                labels = [rng.choice(["feature", "enhancement"])]
        if kind in ("feature", "chore", "bug") and rng.random() < 0.04:
            base = rng.choice(["develop", "release/1.9"])  # merged into a non-default branch
        pr_id = node_id("PR", repo.full_name, number)
        author_obj = actor(None, bot=True) if is_bot else actor(author)
        timeline: list[dict[str, Any]] = []
        reviews: list[dict[str, Any]] = []

        def event(typename: str, at: datetime, who: dict[str, Any] | None) -> None:
            ev: dict[str, Any] = {"__typename": typename, "id": node_id(typename[:4].upper() + "E", pr_id, len(timeline)),
                                  "createdAt": iso(at), "actor": who, "_at": at}
            if typename == "MergedEvent":
                ev["mergeRefName"] = base
            if typename == "ClosedEvent":
                ev["stateReason"] = None
            timeline.append(ev)

        # Drafts: opened as draft, marked ready later (some go back to draft and ready again).
        t = created
        is_draft = kind in ("feature", "chore") and rng.random() < 0.18
        ready_at = created
        if is_draft:
            ready_at = created + timedelta(hours=_lognormal(rng, 6, 1.0))
            if ready_at <= self.cut:
                if rng.random() < 0.2:
                    event("ReadyForReviewEvent", ready_at, author_obj)
                    back = ready_at + timedelta(hours=rng.uniform(0.5, 6))
                    ready_at = back + timedelta(hours=_lognormal(rng, 4, 0.8))
                    if back <= self.cut:
                        event("ConvertToDraftEvent", back, author_obj)
                if ready_at <= self.cut:
                    event("ReadyForReviewEvent", ready_at, author_obj)
                    is_draft = False
            t = ready_at
        # Cycle time: long-tailed; hotfixes and reverts merge fast.
        median_h = {"hotfix": 2.0, "revert": 1.0, "bot": 30.0}.get(kind, 22.0)
        finish = t + timedelta(hours=_lognormal(rng, median_h, 1.1))
        fate_roll = rng.random()
        fate = "closed" if fate_roll < 0.10 else "merged"
        if is_draft:
            fate = "open"
        reopen = fate != "open" and rng.random() < 0.06
        # Reviews.
        no_review = kind == "bot" and rng.random() < 0.5 or rng.random() < 0.08
        review_people = [p for p in team if p.login != author.login] or others
        n_reviews = 0 if no_review else rng.choice([1, 1, 1, 2, 2, 3, 4])
        if special == "many_reviews":
            n_reviews = 120 + rng.randint(0, 15)
            finish = t + timedelta(days=4)
        if special == "many_commits":
            finish = t + timedelta(days=3)
        first_review = t + timedelta(hours=_lognormal(rng, 3.5, 1.0))
        if n_reviews and first_review > finish:
            finish = first_review + timedelta(hours=_lognormal(rng, 2, 0.8))
        span = max((finish - first_review).total_seconds(), 60.0)
        for i in range(n_reviews):
            at = first_review + timedelta(seconds=span * (i / max(n_reviews, 1)) * rng.uniform(0.6, 1.0))
            if at > self.cut:
                break
            r = rng.random()
            if r < 0.05 and not is_bot:
                reviewer, state = author_obj, "COMMENTED"  # self-review
            elif r < 0.09:
                reviewer, state = actor(None, bot=True), "COMMENTED"  # bot review
            else:
                reviewer = actor(rng.choice(review_people))
                last = i == n_reviews - 1
                state = "APPROVED" if last and fate == "merged" else rng.choice(REVIEW_STATES_NON_FINAL)
                if rng.random() < 0.03:
                    state = "DISMISSED"
            pending = rng.random() < 0.03 and reviewer["__typename"] == "User"
            rev_id = node_id("PRR", pr_id, i)
            started = at - timedelta(minutes=rng.randint(1, 30))
            reviews.append({
                "__typename": "PullRequestReview", "id": rev_id, "databaseId": _db_id(rev_id),
                "author": reviewer, "authorAssociation": "MEMBER", "state": "PENDING" if pending else state,
                "submittedAt": None if pending else iso(at), "createdAt": iso(started),
                "url": f"https://github.com/{repo.full_name}/pull/{number}#pullrequestreview-{_db_id(rev_id)}",
                "_comments": rng.choice([0, 0, 0, 1, 2, 3, 5]), "_at": started if pending else at,
            })
        # Closing, reopening, merging.
        state, closed_at, merged_at, merge_commit = "OPEN", None, None, None
        if fate != "open" and finish <= self.cut:
            if reopen:
                first_close = t + (finish - t) * 0.5
                event("ClosedEvent", first_close, author_obj)
                event("ReopenedEvent", first_close + (finish - first_close) * 0.3, author_obj)
            if fate == "merged":
                state, merged_at, closed_at = "MERGED", finish, finish
                merge_commit = {"__typename": "Commit", "oid": sha(repo.full_name, number, "merge")}
                event("MergedEvent", finish, actor(rng.choice(team)))
                event("ClosedEvent", finish, actor(rng.choice(team)))
            else:
                state, closed_at = "CLOSED", finish
                event("ClosedEvent", finish, author_obj)
        # Commits: the first is usually authored before the PR was opened.
        n_commits = 1 if kind in ("bot", "revert") else rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 12])
        if special == "many_commits":
            n_commits = 130 + rng.randint(0, 40)
        first_authored = created - timedelta(hours=_lognormal(rng, 20, 1.2))
        last_commit_at = min(finish if merged_at else max(created, min(finish, self.cut)), self.cut)
        skew = merged_at is not None and kind == "feature" and rng.random() < 0.015
        commits: list[dict[str, Any]] = []
        for i in range(n_commits):
            if i == 0:
                authored = first_authored
            else:
                authored = first_authored + (last_commit_at - first_authored) * (i / n_commits)
            committed = min(max(authored, created - timedelta(minutes=1)) + timedelta(minutes=rng.randint(0, 90)),
                            last_commit_at)
            committed = max(committed, authored)
            if skew and merged_at is not None:  # the author's clock ran ahead: authored after the merge
                authored = min(merged_at + timedelta(hours=rng.uniform(1, 5)), self.cut)
            oid = sha(repo.full_name, number, "commit", i)
            person = None if is_bot else author
            commits.append({
                "__typename": "PullRequestCommit", "id": node_id("PURC", pr_id, i),
                "commit": {"__typename": "Commit", "oid": oid, "authoredDate": iso(authored),
                           "committedDate": iso(committed), "message": f"{title} ({i + 1}/{n_commits})",
                           "author": {"__typename": "GitActor", "name": person.display_name if person else BOT_LOGIN,
                                      "email": f"{person.login if person else BOT_LOGIN}@users.noreply.github.com",
                                      "date": iso(authored),
                                      "user": actor(person) if person else None}},
                "_at": committed,
            })
        activity: list[datetime] = [created, *(e["_at"] for e in timeline), *(r["_at"] for r in reviews),
                                    *(c["_at"] for c in commits)]
        if skew:
            activity += [datetime.fromisoformat(str(c["commit"]["authoredDate"]).replace("Z", "+00:00"))
                         for c in commits]
        updated = min(max(activity), self.cut)
        timeline.sort(key=lambda e: e["_at"])
        additions = int(_lognormal(rng, 80, 1.3)) + 1
        deletions = int(_lognormal(rng, 25, 1.4))
        if special == "many_commits":
            additions *= 20
        return {
            "__typename": "PullRequest", "id": pr_id, "databaseId": _db_id(pr_id), "number": number,
            "title": title, "url": f"https://github.com/{repo.full_name}/pull/{number}",
            "state": state, "closed": state != "OPEN", "merged": state == "MERGED", "isDraft": is_draft,
            "baseRefName": base, "headRefName": head, "author": author_obj,
            "additions": additions, "deletions": deletions,
            "changedFiles": max(1, min(additions + deletions, int(_lognormal(rng, 4, 0.9)) + 1)),
            "createdAt": iso(created), "updatedAt": iso(updated),
            "closedAt": iso(closed_at) if closed_at else None, "mergedAt": iso(merged_at) if merged_at else None,
            "mergeCommit": merge_commit, "repository": repo_obj,
            "authorAssociation": "NONE" if is_bot else "MEMBER",
            "_labels": [{"__typename": "Label", "id": node_id("LA", repo.full_name, name), "name": name,
                         "color": LABEL_COLORS.get(name, "ededed")} for name in labels],
            "_reviews": reviews, "_commits": commits, "_timeline": timeline,
            # GitHub's timestamps (and search qualifiers) have whole seconds: search on what the API shows.
            "_updated": updated.replace(microsecond=0), "_created": created.replace(microsecond=0),
            "_repo": repo.full_name,
        }

    # -- releases and deployments --------------------------------------------------------------------
    def _releases(self, rng: random.Random, repo: Repo, repo_obj: dict[str, Any], team: list[Person],
                  merged: list[dict[str, Any]]) -> None:
        every_days = 2.0 if repo.deployment_source == "release" else 7.0
        at = self.org.start_dt + timedelta(days=rng.uniform(0.5, every_days), hours=0)
        minor = 1
        while at <= self.cut:
            created = at.replace(hour=rng.randint(9, 17), minute=rng.randint(0, 59))
            if created > self.cut:
                break
            draft = rng.random() < 0.1
            prerelease = not draft and rng.random() < 0.12
            tag = f"v2.{minor}.0" + ("-rc.1" if prerelease else "")
            published = None if draft else min(created + timedelta(minutes=rng.randint(1, 180)), self.cut)
            shipped = [pr for pr in merged if datetime.fromisoformat(pr["mergedAt"][:-1] + "+00:00") <= created]
            target = shipped[-1]["mergeCommit"]["oid"] if shipped else sha(repo.full_name, "init")
            rel_id = node_id("RE", repo.full_name, tag, minor)
            release = {
                "__typename": "Release", "id": rel_id, "databaseId": _db_id(rel_id), "tagName": tag,
                "name": f"Release {tag}", "isDraft": draft, "isPrerelease": prerelease, "isLatest": False,
                "createdAt": iso(created), "publishedAt": iso(published) if published else None,
                "updatedAt": iso(published or created),
                "url": f"https://github.com/{repo.full_name}/releases/tag/{tag}",
                "author": actor(rng.choice(team)), "tagCommit": {"__typename": "Commit", "oid": target},
                "_created": created.replace(microsecond=0),
            }
            repo_obj["_releases"].append(release)
            self.data.nodes[rel_id] = release
            minor += 1
            at += timedelta(days=rng.uniform(0.6, 1.4) * every_days)
        published_ones = [r for r in repo_obj["_releases"] if not r["isDraft"] and not r["isPrerelease"]]
        if published_ones:
            published_ones[-1]["isLatest"] = True

    def _deployments(self, rng: random.Random, repo: Repo, repo_obj: dict[str, Any], team: list[Person],
                     merged: list[dict[str, Any]]) -> None:
        for pr in merged:
            merged_at = datetime.fromisoformat(pr["mergedAt"][:-1] + "+00:00")
            oid = pr["mergeCommit"]["oid"]
            start = merged_at + timedelta(minutes=rng.randint(2, 20))
            for environment in ("staging", "production"):
                if start > self.cut:
                    break
                dep_id = node_id("DE", repo.full_name, pr["number"], environment)
                roll = rng.random()
                final = "FAILURE" if roll < 0.1 else "ERROR" if roll < 0.12 else "SUCCESS"
                statuses = [("QUEUED", start), ("IN_PROGRESS", start + timedelta(minutes=1))]
                done = start + timedelta(minutes=rng.randint(4, 40))
                if done <= self.cut and rng.random() >= 0.03:  # a few stay in progress (stuck or still running)
                    statuses.append((final, done))
                status_objs = [{"__typename": "DeploymentStatus", "id": node_id("DES", dep_id, i), "state": s,
                                "createdAt": iso(a), "updatedAt": iso(a), "environment": environment,
                                "description": f"{s.lower().replace('_', ' ')} by the deploy workflow"}
                               for i, (s, a) in enumerate(statuses) if a <= self.cut]
                latest = status_objs[-1]
                state_map = {"SUCCESS": "ACTIVE", "FAILURE": "FAILURE", "ERROR": "ERROR", "IN_PROGRESS": "IN_PROGRESS",
                             "QUEUED": "QUEUED"}
                deployment = {
                    "__typename": "Deployment", "id": dep_id, "databaseId": _db_id(dep_id), "environment": environment,
                    "latestEnvironment": environment, "createdAt": iso(start), "updatedAt": latest["updatedAt"],
                    "commitOid": oid, "commit": {"__typename": "Commit", "oid": oid},
                    "ref": {"__typename": "Ref", "name": repo.default_branch, "prefix": "refs/heads/",
                            "id": node_id("REF", repo.full_name, repo.default_branch)},
                    "task": "deploy", "description": f"Deploy #{pr['number']}", "creator": actor(rng.choice(team)),
                    "state": state_map.get(latest["state"], "PENDING"), "latestStatus": latest,
                    "_statuses": status_objs, "_created": start.replace(microsecond=0),
                }
                repo_obj["_deployments"].append(deployment)
                self.data.nodes[dep_id] = deployment
                if latest["state"] != "SUCCESS":
                    break  # a failed or unfinished staging deploy never reaches production
                start = done + timedelta(minutes=rng.randint(5, 120))
        repo_obj["_deployments"].sort(key=lambda d: d["_created"])


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _db_id(node: str) -> int:
    return int(hashlib.blake2b(node.encode(), digest_size=4).hexdigest(), 16) % 2_000_000_000
