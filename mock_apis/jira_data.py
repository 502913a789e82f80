"""The synthetic organisation's Jira activity: issues, changelogs, sprints and statuses.

Deterministic from the `SyntheticOrg` (every random choice comes from `org.rng(purpose)`) and memoized per
(seed, scale, anchor, days), because tests start a fresh mock server per test.

How the data is made, so that it behaves like a real Jira site:
- Each issue is *simulated*: it starts with its creation-time values and every later change (status,
  resolution, sprint, story points, flag, assignee, labels) goes through `_IssueSim.change`, which records a
  changelog history with the before/after values. The current field values are the simulation's end state,
  so rolling them back change by change reproduces the past exactly (tests check this).
- Each board runs two-week sprints: closed ones (with `complete`), one active, one future. Issues are
  committed before a sprint starts (created in it, or added by a Sprint change), added after it started,
  removed before it completed, re-estimated before and during it; at completion Jira moves unfinished
  issues to the next sprint with a Sprint change logged a few seconds after the sprint's completeDate.
- Work follows To Do -> In Progress -> (Blocked) -> In Review -> Done with long-tailed durations; some
  issues are flagged (Impediment) for days, some reviews bounce, a few issues are reopened.
- Incidents are created in the projects of teams that own repos and resolved hours to days later (some are
  still open). Sub-tasks follow their parent's sprint. Each board project has one long-running issue whose
  changelog is longer than any page (> 100 histories).
- Nothing happens at or after `org.end_dt`: a planned change that would fall later has not happened yet.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from mock_apis.org import JiraProject, Person, SyntheticOrg

# Field ids as a Jira Cloud site typically has them.
STORY_POINT_ESTIMATE_FIELD = "customfield_10016"  # "Story point estimate" (what the boards estimate with)
STORY_POINTS_FIELD = "customfield_10026"  # "Story Points" (classic field; exists, unused on this site)
SPRINT_FIELD = "customfield_10020"
FLAGGED_FIELD = "customfield_10021"
IMPEDIMENT = {"id": "10019", "value": "Impediment"}

FIBONACCI = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0)


@dataclass(frozen=True)
class JiraStatus:
    id: str
    name: str
    category: str  # new | indeterminate | done


CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}

TO_DO = JiraStatus("10000", "To Do", "new")
IN_PROGRESS = JiraStatus("3", "In Progress", "indeterminate")
IN_REVIEW = JiraStatus("10001", "In Review", "indeterminate")
BLOCKED = JiraStatus("10002", "Blocked", "indeterminate")
DONE = JiraStatus("10003", "Done", "done")
STATUSES = (TO_DO, IN_PROGRESS, IN_REVIEW, BLOCKED, DONE)

RESOLUTION_DONE = {"id": "10000", "name": "Done", "description": "Work has been completed on this issue."}


@dataclass(frozen=True)
class IssueType:
    id: str
    name: str
    subtask: bool = False


STORY = IssueType("10001", "Story")
BUG = IssueType("10004", "Bug")
TASK = IssueType("10002", "Task")
SUBTASK = IssueType("10003", "Sub-task", subtask=True)
INCIDENT = IssueType("10005", "Incident")
ISSUE_TYPES = (STORY, BUG, TASK, SUBTASK, INCIDENT)

PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4"}


@dataclass
class Sprint:
    id: int
    board_id: int
    name: str
    state: str  # closed | active | future
    created: datetime
    start: datetime | None
    end: datetime | None
    complete: datetime | None
    goal: str


@dataclass
class ChangeItem:
    field: str  # Jira's field name as the changelog shows it ("status", "Sprint", "Story point estimate", ...)
    fieldtype: str  # jira | custom
    field_id: str
    from_value: str | None
    from_string: str | None
    to_value: str | None
    to_string: str | None


@dataclass
class History:
    id: int
    created: datetime
    author: Person
    items: list[ChangeItem]


@dataclass
class JiraIssue:
    project: JiraProject
    issue_type: IssueType
    summary: str
    created: datetime
    reporter: Person
    parent: JiraIssue | None = None
    id: int = 0
    key: str = ""
    # Current values (the simulation's end state).
    status: JiraStatus = TO_DO
    resolution: dict[str, str] | None = None
    resolved: datetime | None = None
    points: float | None = None
    sprint_ids: list[int] = field(default_factory=list)
    flagged: bool = False
    assignee: Person | None = None
    labels: tuple[str, ...] = ()
    priority: str = "Medium"
    histories: list[History] = field(default_factory=list)  # oldest first
    initial: dict[str, Any] = field(default_factory=dict)  # creation-time values (tests roll back to these)

    @property
    def updated(self) -> datetime:
        return self.histories[-1].created if self.histories else self.created


@dataclass
class JiraData:
    org: SyntheticOrg
    statuses: tuple[JiraStatus, ...]
    sprints: dict[int, Sprint]  # by sprint id
    board_sprints: dict[int, list[Sprint]]  # board id -> sprints in board order (closed, active, future)
    issues: list[JiraIssue]  # by id
    by_key: dict[str, JiraIssue]
    by_id: dict[str, JiraIssue]
    by_updated: list[JiraIssue]  # sorted by (updated, id)
    updated_keys: list[datetime]  # parallel to by_updated, for bisect

    def issues_updated_between(self, lo: datetime | None, hi: datetime | None) -> list[JiraIssue]:
        """Issues with lo <= updated < hi (either bound may be None)."""
        i = 0 if lo is None else bisect.bisect_left(self.updated_keys, lo)
        j = len(self.by_updated) if hi is None else bisect.bisect_left(self.updated_keys, hi)
        return self.by_updated[i:j]


_CACHE: dict[tuple[int, str, str, int], JiraData] = {}
_CACHE_LOCK = threading.Lock()


_CACHE_SIZE = 4  # a test session uses one or two orgs; a large org is ~200 MB, so keep only a few


def jira_data(org: SyntheticOrg) -> JiraData:
    """The org's Jira activity, generated once per (seed, scale, anchor, days) and kept for reuse."""
    key = (org.seed, org.scale, org.anchor.isoformat(), org.days)
    with _CACHE_LOCK:
        data = _CACHE.pop(key, None)
        if data is None:
            data = generate(org)
        _CACHE[key] = data  # most recently used last
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        return data


def with_moved_issue(data: JiraData, key: str, to_project: str, at: datetime) -> JiraData:
    """`data` as it is after issue `key` was moved to project `to_project` at `at`, as Jira Cloud does it:
    the issue keeps its id, gets the next key of the target project, and its changelog gets one history
    with a `Key` and a `project` item. The old key keeps resolving (by_key maps it to the moved issue).
    Everything else is shared with `data`, which is not changed (it is memoized for other tests)."""
    issue = data.by_key.get(key)
    if issue is None:
        raise KeyError(f"no Jira issue {key}")
    target = next((p for p in data.org.projects if p.key == to_project), None)
    if target is None:
        raise KeyError(f"no Jira project {to_project}")
    if at <= issue.updated:
        raise ValueError(f"the move of {key} at {at} must come after its last update ({issue.updated})")
    number = 1 + max((int(i.key.rsplit("-", 1)[1]) for i in data.issues if i.project.key == to_project), default=0)
    moved_key = f"{to_project}-{number}"
    history = History(
        id=1 + max((h.id for i in data.issues for h in i.histories), default=20000), created=_ms(at),
        author=issue.reporter,
        items=[ChangeItem("Key", "jira", "issuekey", None, issue.key, None, moved_key),
               ChangeItem("project", "jira", "project", issue.project.project_id, issue.project.name,
                          target.project_id, target.name)],
    )
    moved = replace(issue, project=target, key=moved_key, histories=[*issue.histories, history])
    issues = [moved if i is issue else i for i in data.issues]
    by_updated = sorted(issues, key=lambda i: (i.updated, i.id))
    by_key = {i.key: i for i in issues}
    by_key[issue.key] = moved  # Jira redirects the old key to the moved issue
    return replace(data, issues=issues, by_key=by_key, by_id={str(i.id): i for i in issues},
                   by_updated=by_updated, updated_keys=[i.updated for i in by_updated])


def generate(org: SyntheticOrg) -> JiraData:
    """Generate the org's Jira activity afresh (not cached)."""
    return _Generator(org).run()


def points_text(points: float | None) -> str | None:
    """How Jira writes a number field's value in a changelog string: `3`, `0.5`."""
    if points is None:
        return None
    return str(int(points)) if float(points).is_integer() else str(points)


# ----------------------------------------------------------------------------------------------------------
# One issue's life


Event = tuple[datetime, int, Person, Callable[["_IssueSim"], dict[str, Any] | None]]


class _IssueSim:
    """Applies changes to an issue and records each one in its changelog."""

    def __init__(self, issue: JiraIssue, sprint_names: dict[int, str]):
        self.issue = issue
        self.sprint_names = sprint_names
        issue.initial = {
            "status": issue.status.id, "points": issue.points, "sprint_ids": list(issue.sprint_ids),
            "flagged": issue.flagged, "assignee": issue.assignee.account_id if issue.assignee else None,
            "labels": issue.labels, "priority": issue.priority, "resolution": None,
        }

    def done(self) -> bool:
        return self.issue.status.category == "done"

    def change(self, when: datetime, author: Person, values: dict[str, Any]) -> None:
        issue = self.issue
        items: list[ChangeItem] = []
        for kind, new in values.items():
            if kind == "status":
                old = issue.status
                if new == old:
                    continue
                items.append(ChangeItem("status", "jira", "status", old.id, old.name, new.id, new.name))
                issue.status = new
                if new.category == "done" and issue.resolution is None:
                    items.append(ChangeItem("resolution", "jira", "resolution", None, None,
                                            RESOLUTION_DONE["id"], RESOLUTION_DONE["name"]))
                    issue.resolution = dict(RESOLUTION_DONE)
                    issue.resolved = when
                elif new.category != "done" and issue.resolution is not None:
                    items.append(ChangeItem("resolution", "jira", "resolution", issue.resolution["id"],
                                            issue.resolution["name"], None, None))
                    issue.resolution = None
                    issue.resolved = None
            elif kind == "sprints":
                old_ids = list(issue.sprint_ids)
                if list(new) == old_ids:
                    continue
                items.append(ChangeItem(
                    "Sprint", "custom", SPRINT_FIELD,
                    ", ".join(map(str, old_ids)), ", ".join(self.sprint_names[i] for i in old_ids),
                    ", ".join(map(str, new)), ", ".join(self.sprint_names[i] for i in new),
                ))
                issue.sprint_ids = list(new)
            elif kind == "points":
                if new == issue.points:
                    continue
                # Number fields keep the value only in the strings; `from`/`to` are null.
                items.append(ChangeItem("Story point estimate", "custom", STORY_POINT_ESTIMATE_FIELD,
                                        None, points_text(issue.points), None, points_text(new)))
                issue.points = new
            elif kind == "flagged":
                if bool(new) == issue.flagged:
                    continue
                flag_id, flag_name = f"[{IMPEDIMENT['id']}]", IMPEDIMENT["value"]
                if new:
                    items.append(ChangeItem("Flagged", "custom", FLAGGED_FIELD, None, None, flag_id, flag_name))
                else:
                    items.append(ChangeItem("Flagged", "custom", FLAGGED_FIELD, flag_id, flag_name, None, None))
                issue.flagged = bool(new)
            elif kind == "assignee":
                old_person = issue.assignee
                if (new.account_id if new else None) == (old_person.account_id if old_person else None):
                    continue
                items.append(ChangeItem(
                    "assignee", "jira", "assignee",
                    old_person.account_id if old_person else None, old_person.display_name if old_person else None,
                    new.account_id if new else None, new.display_name if new else None,
                ))
                issue.assignee = new
            elif kind == "labels":
                if tuple(new) == issue.labels:
                    continue
                items.append(ChangeItem("labels", "jira", "labels", None, " ".join(issue.labels) or None,
                                        None, " ".join(new) or None))
                issue.labels = tuple(new)
            elif kind == "priority":
                if new == issue.priority:
                    continue
                items.append(ChangeItem("priority", "jira", "priority", PRIORITIES[issue.priority], issue.priority,
                                        PRIORITIES[new], new))
                issue.priority = new
            else:  # pragma: no cover - a bug in the generator
                raise ValueError(f"unknown change kind {kind}")
        if items:
            issue.histories.append(History(0, when, author, items))

    def run(self, events: list[Event], end: datetime) -> None:
        """Apply the events in time order; those at or after `end` have not happened yet."""
        created = self.issue.created
        for when, _order, author, fn in sorted(events, key=lambda e: (e[0], e[1])):
            if when <= created or when >= end:
                continue
            values = fn(self)
            if values:
                self.change(when, author, values)


def _set(**values: Any) -> Callable[[_IssueSim], dict[str, Any]]:
    return lambda _sim: values


# ----------------------------------------------------------------------------------------------------------
# The generator


SUMMARIES = {
    "Story": ["Add {x} to the {y} page", "Let users export {x}", "Support {x} in {y}", "Show {x} on {y}"],
    "Bug": ["{y} crashes when {x} is empty", "Wrong {x} shown on {y}", "{y} times out loading {x}"],
    "Task": ["Upgrade {x} in {y}", "Clean up {x} config", "Document {x} for {y}", "Migrate {y} to new {x}"],
    "Sub-task": ["Write tests for {x}", "Review {x} copy", "Wire {x} into {y}"],
    "Incident": ["{y} is down: {x} errors", "Elevated {x} latency on {y}", "{y} degraded after deploy ({x})"],
}
NOUNS_X = ["billing", "search", "invoices", "auth tokens", "audit log", "webhooks", "CSV", "dark mode", "alerts",
           "rate limits", "SSO", "the cache", "notifications", "metrics", "retries"]
NOUNS_Y = ["dashboard", "settings", "checkout", "API", "admin", "onboarding", "reports", "mobile app", "profile"]
GOALS = ["Ship the billing revamp", "Stabilise search", "Pay down tech debt", "Launch SSO 🔐 (シングルサインオン)",
         "Faster checkout", ""]
UNICODE_SUMMARY_SUFFIX = "📦 — 依存関係 / зависимости"  # emoji and non-Latin text, as real summaries have
LABEL_POOL = ["deps", "security", "tracking", "infra", "frontend", "backend", "tech-debt", "customer"]


class _Generator:
    def __init__(self, org: SyntheticOrg):
        self.org = org
        self.end = org.end_dt
        self.large = org.scale == "large"
        self.per_sprint = 470 if self.large else 22
        self.sprints: dict[int, Sprint] = {}
        self.board_sprints: dict[int, list[Sprint]] = {}
        self.issues: list[JiraIssue] = []
        self.sims: list[tuple[_IssueSim, list[Event]]] = []
        self.order = 0

    # helpers -------------------------------------------------------------------------------------------
    def _next(self) -> int:
        self.order += 1
        return self.order

    def _summary(self, rng: random.Random, kind: str) -> str:
        return rng.choice(SUMMARIES[kind]).format(x=rng.choice(NOUNS_X), y=rng.choice(NOUNS_Y))

    @staticmethod
    def _uniform(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
        if hi <= lo:
            return lo
        seconds = rng.uniform(0, (hi - lo).total_seconds())
        return _ms(lo + timedelta(seconds=seconds))

    @staticmethod
    def _lognormal_hours(rng: random.Random, median_h: float, sigma: float, cap_h: float) -> timedelta:
        return timedelta(hours=min(cap_h, median_h * math.exp(rng.gauss(0, sigma))))

    # sprints -------------------------------------------------------------------------------------------
    def make_sprints(self) -> None:
        next_id = 71
        boards = [p for p in self.org.projects if p.board_id is not None]
        plans: list[tuple[JiraProject, list[Sprint]]] = []
        for index, project in enumerate(boards):
            rng = self.org.rng(f"jira:sprints:{project.key}")
            board = project.board_id
            assert board is not None
            first = self.org.start_dt + timedelta(days=1 + (index * 4) % 9, hours=8 + index % 3,
                                                  minutes=rng.randint(0, 59))
            number = 10 + index * 3
            sprints: list[Sprint] = []
            start = first
            created = first - timedelta(days=3)
            while True:
                end = start + timedelta(days=14)
                complete = _ms(end + timedelta(hours=rng.uniform(-4, 20)))
                name = f"{project.key} Sprint {number}"
                if complete < self.end:
                    sprints.append(Sprint(0, board, name, "closed", created, start, end, complete, rng.choice(GOALS)))
                    created = start
                    gap = timedelta(minutes=rng.uniform(10, 18 * 60))
                    # The next sprint starts a little after this one completes, but always before the data ends.
                    start = _ms(complete + min(gap, (self.end - complete) / 2))
                    number += 1
                    continue
                sprints.append(Sprint(0, board, name, "active", created, start, end, None, rng.choice(GOALS)))
                sprints.append(Sprint(0, board, f"{project.key} Sprint {number + 1}", "future", start, None, None,
                                      None, rng.choice(GOALS)))
                break
            plans.append((project, sprints))
        # Sprint ids grow with creation time across boards, as Jira's do.
        everything = sorted((s for _p, ss in plans for s in ss), key=lambda s: (s.created, s.board_id))
        for sprint in everything:
            sprint.id = next_id
            next_id += 1
            self.sprints[sprint.id] = sprint
        for project, sprints in plans:
            assert project.board_id is not None
            self.board_sprints[project.board_id] = sprints

    # work ----------------------------------------------------------------------------------------------
    def workflow(self, rng: random.Random, people: list[Person], assignee: Person, begin: datetime,
                 kind: str, points: float | None) -> list[Event]:
        """Status, assignee and flag changes of one piece of work that starts at `begin`."""
        events: list[Event] = []
        median = {"Story": 40.0, "Bug": 20.0, "Task": 26.0, "Sub-task": 10.0}.get(kind, 24.0)
        if points:
            median *= 0.6 + points / 6
        t = begin
        events.append((t, self._next(), assignee, _set(assignee=assignee, status=IN_PROGRESS)))
        work = self._lognormal_hours(rng, median, 0.8, 24 * 25)
        if rng.random() < 0.12:  # blocked for a few days on something outside the team
            blocked_at = _ms(t + work * rng.uniform(0.2, 0.6))
            unblocked_at = _ms(blocked_at + timedelta(hours=rng.uniform(20, 100)))
            events.append((blocked_at, self._next(), assignee, _set(status=BLOCKED)))
            events.append((unblocked_at, self._next(), assignee, _set(status=IN_PROGRESS)))
            work += unblocked_at - blocked_at
        if rng.random() < 0.09:  # flagged as an impediment for days while still in progress
            flag_at = _ms(t + work * rng.uniform(0.1, 0.4))
            unflag_at = _ms(flag_at + timedelta(hours=rng.uniform(26, 120)))
            flagger = rng.choice(people)
            events.append((flag_at, self._next(), flagger, _set(flagged=True)))
            events.append((unflag_at, self._next(), flagger, _set(flagged=False)))
            work = max(work, unflag_at - t + timedelta(hours=2))
        review_at = _ms(t + work)
        events.append((review_at, self._next(), assignee, _set(status=IN_REVIEW)))
        reviewer = rng.choice([p for p in people if p != assignee] or people)
        t = review_at
        if rng.random() < 0.1:  # changes requested: back to work, then review again
            back = _ms(t + timedelta(hours=rng.uniform(3, 30)))
            events.append((back, self._next(), reviewer, _set(status=IN_PROGRESS)))
            t = _ms(back + timedelta(hours=rng.uniform(4, 40)))
            events.append((t, self._next(), assignee, _set(status=IN_REVIEW)))
        done_at = _ms(t + self._lognormal_hours(rng, 8, 0.7, 24 * 6))
        events.append((done_at, self._next(), reviewer, _set(status=DONE)))
        if rng.random() < 0.03:  # reopened: it was not done after all
            reopen = _ms(done_at + timedelta(hours=rng.uniform(12, 72)))
            events.append((reopen, self._next(), rng.choice(people), _set(status=IN_PROGRESS)))
            events.append((_ms(reopen + timedelta(hours=rng.uniform(6, 40))), self._next(), assignee,
                           _set(status=DONE)))
        return events

    def new_issue(self, project: JiraProject, issue_type: IssueType, created: datetime, reporter: Person,
                  rng: random.Random, **values: Any) -> JiraIssue:
        issue = JiraIssue(project=project, issue_type=issue_type, summary=self._summary(rng, issue_type.name),
                          created=created, reporter=reporter, **values)
        self.issues.append(issue)
        return issue

    def add(self, issue: JiraIssue, events: list[Event]) -> _IssueSim:
        sim = _IssueSim(issue, {s.id: s.name for s in self.sprints.values()})
        self.sims.append((sim, events))
        return sim

    # boards --------------------------------------------------------------------------------------------
    def board_issues(self, project: JiraProject) -> None:
        assert project.board_id is not None
        rng = self.org.rng(f"jira:board:{project.key}")
        people = self.org.members(project.team) or self.org.people
        lead = people[0]
        sprints = self.board_sprints[project.board_id]
        started = [s for s in sprints if s.start is not None]
        closed = [s for s in sprints if s.state == "closed"]
        parents: list[tuple[JiraIssue, list[Event]]] = []

        def carryover_events(always_next: bool = False) -> list[Event]:
            # At completion Jira moves the unfinished issues to the next sprint, seconds after completeDate;
            # when the team sends them to the backlog instead, nothing is logged (the closed sprint stays).
            out: list[Event] = []
            for i, sprint in enumerate(closed):
                assert sprint.complete is not None
                nxt = sprints[i + 1].id
                when = _ms(sprint.complete + timedelta(seconds=rng.uniform(1.5, 20)))
                to_backlog = not always_next and rng.random() < 0.1

                def move(sim: _IssueSim, sid: int = sprint.id, nxt: int = nxt,
                         to_backlog: bool = to_backlog) -> dict[str, Any] | None:
                    ids = sim.issue.sprint_ids
                    if sid in ids and not sim.done() and nxt not in ids and not to_backlog:
                        return {"sprints": ids + [nxt]}
                    return None

                out.append((when, self._next(), lead, move))
            return out

        def plan(sprint_index: int, created: datetime, enters: datetime | None, begin: datetime,
                 kind: IssueType, directly_in_sprint: bool) -> tuple[JiraIssue, list[Event]]:
            sprint = started[sprint_index] if sprint_index < len(started) else sprints[-1]
            assignee = rng.choice(people)
            estimated = rng.random() < 0.85
            points = rng.choice(FIBONACCI) if estimated else None
            issue = self.new_issue(
                project, kind, created, rng.choice(people), rng,
                status=TO_DO, points=points, sprint_ids=[sprint.id] if directly_in_sprint else [],
                assignee=assignee if rng.random() < 0.5 else None, priority=rng.choice(["High", "Medium", "Medium", "Low"]),
            )
            events: list[Event] = []
            if enters is not None and not directly_in_sprint:

                def enter(sim: _IssueSim, sid: int = sprint.id) -> dict[str, Any] | None:
                    ids = sim.issue.sprint_ids
                    return None if sid in ids else {"sprints": ids + [sid]}

                events.append((enters, self._next(), lead, enter))
            entry = enters or created
            # Estimation: unestimated issues mostly get points before the sprint starts; some never do.
            if points is None and rng.random() < 0.6:
                when = self._uniform(rng, created + timedelta(minutes=30), max(created + timedelta(hours=1),
                                                                               entry - timedelta(minutes=5)))
                events.append((when, self._next(), lead, _set(points=rng.choice(FIBONACCI))))
            if points is not None and rng.random() < 0.12:  # refinement re-estimate before the sprint
                when = self._uniform(rng, created + timedelta(minutes=30), max(created + timedelta(hours=1),
                                                                               entry - timedelta(minutes=5)))
                events.append((when, self._next(), lead, _set(points=_re_estimate(rng, points))))
            if sprint.start is not None and rng.random() < 0.11:  # re-estimated during the sprint
                when = self._uniform(rng, max(sprint.start, entry) + timedelta(hours=6),
                                     sprint.start + timedelta(days=10))

                def re_estimate(sim: _IssueSim, r: float = rng.random()) -> dict[str, Any] | None:
                    if sim.issue.points is None or sim.done():
                        return None
                    return {"points": _re_estimate(random.Random(r), sim.issue.points)}

                events.append((when, self._next(), lead, re_estimate))
            events += self.workflow(rng, people, assignee, begin, kind.name, points)
            events += carryover_events()
            return issue, events

        for index, sprint in enumerate(started):
            assert sprint.start is not None and sprint.end is not None
            prev_start = started[index - 1].start if index else self.org.start_dt
            assert prev_start is not None
            finish = sprint.complete or sprint.end
            n_committed = max(3, round(self.per_sprint * rng.uniform(0.85, 1.15)))
            for _ in range(n_committed):
                kind = rng.choices([STORY, BUG, TASK], weights=[55, 20, 25])[0]
                created = self._uniform(rng, prev_start, sprint.start - timedelta(hours=3))
                direct = created >= sprint.created and rng.random() < 0.4
                enters = None if direct else self._uniform(
                    rng, max(created + timedelta(minutes=5), sprint.start - timedelta(days=3)),
                    sprint.start - timedelta(minutes=5))
                begin = self._uniform(rng, sprint.start + timedelta(hours=1), sprint.start + timedelta(days=11))
                issue, events = plan(index, created, enters, begin, kind, direct)
                if rng.random() < 0.07:  # removed from the sprint before completion (if not done by then)
                    removed_at = self._uniform(rng, sprint.start + timedelta(days=1), finish - timedelta(days=1))

                    def remove(sim: _IssueSim, sid: int = sprint.id) -> dict[str, Any] | None:
                        ids = sim.issue.sprint_ids
                        if sid in ids and not sim.done():
                            return {"sprints": [i for i in ids if i != sid]}
                        return None

                    events.append((removed_at, self._next(), lead, remove))
                parents.append((issue, events))
            n_added = max(1, round(n_committed * rng.uniform(0.1, 0.22)))
            for _ in range(n_added):
                kind = rng.choices([BUG, STORY, TASK], weights=[50, 30, 20])[0]
                enters = self._uniform(rng, sprint.start + timedelta(hours=8), finish - timedelta(days=1))
                direct = rng.random() < 0.5
                created = enters if direct else self._uniform(rng, prev_start, enters - timedelta(hours=1))
                begin = _ms(enters + timedelta(hours=rng.uniform(1, 30)))
                issue, events = plan(index, created, None if direct else enters, begin, kind, direct)
                parents.append((issue, events))
        # Planned into the future sprint, not started yet.
        future = sprints[-1]
        active = started[-1]
        assert active.start is not None
        for _ in range(max(2, self.per_sprint // 2)):
            created = self._uniform(rng, active.start, self.end - timedelta(hours=6))
            enters = self._uniform(rng, created + timedelta(minutes=5), self.end - timedelta(minutes=5))
            issue = self.new_issue(project, rng.choice([STORY, TASK, BUG]), created, rng.choice(people), rng,
                                   points=rng.choice(FIBONACCI) if rng.random() < 0.7 else None)
            parents.append((issue, [(enters, self._next(), lead, _set(sprints=[future.id]))]))
        # Backlog that is never planned.
        for _ in range(max(2, self.per_sprint // 4)):
            created = self._uniform(rng, self.org.start_dt, self.end - timedelta(hours=1))
            issue = self.new_issue(project, rng.choice([STORY, TASK, BUG]), created, rng.choice(people), rng,
                                   points=rng.choice(FIBONACCI) if rng.random() < 0.5 else None)
            parents.append((issue, []))
        parents.append(self.long_running_issue(project, rng, people, lead, started,
                                               carryover_events(always_next=True)))

        for issue, events in parents:
            sim = self.add(issue, events)
            if issue.issue_type == STORY and rng.random() < 0.25:
                sim.run(events, self.end)  # the parent's sprint history is what its sub-tasks follow
                self.sims.pop()
                self.sims.append((sim, []))
                for _ in range(rng.randint(1, 3)):
                    self.subtask(issue, rng, people)

    def long_running_issue(self, project: JiraProject, rng: random.Random, people: list[Person], lead: Person,
                           started: list[Sprint], carry: list[Event]) -> tuple[JiraIssue, list[Event]]:
        """A tracking task edited every few hours for weeks: its changelog is longer than any page."""
        first = started[0]
        assert first.start is not None
        created = _ms(first.start - timedelta(days=1, minutes=rng.randint(0, 120)))
        owner = rng.choice(people)
        issue = self.new_issue(project, TASK, created, lead, rng, points=3.0, sprint_ids=[first.id],
                               assignee=owner, labels=("tracking",))
        issue.summary = f"Tracking: keep {project.name} dependencies current {UNICODE_SUMMARY_SUFFIX}"
        events: list[Event] = [(_ms(created + timedelta(hours=2)), self._next(), lead, _set(points=5.0))]
        events.append((_ms(first.start + timedelta(hours=3)), self._next(), owner, _set(status=IN_PROGRESS)))
        span = (self.end - timedelta(hours=2)) - (created + timedelta(hours=4))
        edits = 135
        for i in range(edits):
            when = _ms(created + timedelta(hours=4) + span * (i / edits))
            labels = ("tracking",) + tuple(sorted(rng.sample(LABEL_POOL[:-1], rng.randint(0, 3))))
            events.append((when, self._next(), rng.choice(people), _set(labels=labels)))
        events.append((_ms(first.start + timedelta(days=4)), self._next(), lead, _set(points=8.0)))
        return issue, events + carry

    def subtask(self, parent: JiraIssue, rng: random.Random, people: list[Person]) -> None:
        created = _ms(parent.created + timedelta(hours=rng.uniform(1, 48)))
        if created >= self.end:
            return
        # A sub-task is always in its parent's sprints: it starts with them and follows every change.
        sprint_changes = [(h.created, [int(x) for x in item.to_value.split(", ") if x] if item.to_value else [])
                          for h in parent.histories for item in h.items if item.field_id == SPRINT_FIELD]
        initial = list(parent.initial["sprint_ids"])
        for when, ids in sprint_changes:
            if when <= created:
                initial = ids
        assignee = rng.choice(people)
        issue = self.new_issue(parent.project, SUBTASK, created, parent.reporter, rng, parent=parent,
                               sprint_ids=initial, assignee=assignee, priority=parent.priority)
        events: list[Event] = [(_ms(when + timedelta(milliseconds=137)), self._next(), people[0], _set(sprints=ids))
                               for when, ids in sprint_changes if when > created]
        parent_start = next((h.created for h in parent.histories for item in h.items
                             if item.field_id == "status" and item.to_value == IN_PROGRESS.id), None)
        if parent_start is not None:
            begin = _ms(max(parent_start, created) + timedelta(hours=rng.uniform(0.5, 24)))
            events += self.workflow(rng, people, assignee, begin, "Sub-task", None)
        self.add(issue, events)

    # teams without a board, incidents ---------------------------------------------------------------------
    def kanban_issues(self, project: JiraProject) -> None:
        rng = self.org.rng(f"jira:kanban:{project.key}")
        people = self.org.members(project.team) or self.org.people
        count = max(10, round(self.per_sprint * self.org.days / 14 * 0.8))
        for _ in range(count):
            kind = rng.choices([TASK, BUG, STORY], weights=[50, 30, 20])[0]
            created = self._uniform(rng, self.org.start_dt, self.end - timedelta(hours=2))
            assignee = rng.choice(people)
            issue = self.new_issue(project, kind, created, rng.choice(people), rng,
                                   points=rng.choice(FIBONACCI) if rng.random() < 0.3 else None)
            begin = _ms(created + timedelta(hours=rng.uniform(2, 24 * 6)))
            self.add(issue, self.workflow(rng, people, assignee, begin, kind.name, None))

    def incidents(self, project: JiraProject) -> None:
        if not any(r.team == project.team for r in self.org.repos):
            return
        rng = self.org.rng(f"jira:incidents:{project.key}")
        people = self.org.members(project.team) or self.org.people
        for _ in range(max(2, round(self.org.days / rng.uniform(4, 6)))):
            created = self._uniform(rng, self.org.start_dt, self.end - timedelta(hours=1))
            responder = rng.choice(people)
            issue = self.new_issue(project, INCIDENT, created, rng.choice(people), rng,
                                   priority=rng.choice(["Highest", "High"]))
            ack = _ms(created + timedelta(minutes=rng.uniform(3, 90)))
            events: list[Event] = [(ack, self._next(), responder, _set(assignee=responder, status=IN_PROGRESS))]
            if rng.random() < 0.85:  # the rest are still open
                resolved = _ms(ack + self._lognormal_hours(rng, 6, 1.1, 24 * 6))
                events.append((resolved, self._next(), responder, _set(status=DONE)))
            self.add(issue, events)

    # assembly ------------------------------------------------------------------------------------------
    def run(self) -> JiraData:
        self.make_sprints()
        for project in self.org.projects:
            if project.board_id is not None:
                self.board_issues(project)
            else:
                self.kanban_issues(project)
            self.incidents(project)
        for sim, events in self.sims:
            sim.run(events, self.end)
        issues = [i for i in self.issues if i.created < self.end]
        issues.sort(key=lambda i: (i.created, i.project.key))
        numbers: dict[str, int] = {}
        for index, issue in enumerate(issues):
            issue.id = 10000 + index
            numbers[issue.project.key] = numbers.get(issue.project.key, 0) + 1
            issue.key = f"{issue.project.key}-{numbers[issue.project.key]}"
            if index % 10 == 3:  # no random draw, so the rest of the org stays the same
                issue.summary = f"{issue.summary} {UNICODE_SUMMARY_SUFFIX}"
        histories = sorted(((h.created, issue.id, n, h) for issue in issues for n, h in enumerate(issue.histories)),
                           key=lambda t: t[:3])
        for index, (_c, _i, _n, history) in enumerate(histories):
            history.id = 20000 + index
        by_updated = sorted(issues, key=lambda i: (i.updated, i.id))
        return JiraData(
            org=self.org, statuses=STATUSES, sprints=self.sprints, board_sprints=self.board_sprints,
            issues=issues, by_key={i.key: i for i in issues}, by_id={str(i.id): i for i in issues},
            by_updated=by_updated, updated_keys=[i.updated for i in by_updated],
        )


def _ms(value: datetime) -> datetime:
    """Jira keeps millisecond precision."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _re_estimate(rng: random.Random, points: float) -> float:
    index = FIBONACCI.index(points) if points in FIBONACCI else 2
    step = rng.choice([-1, 1, 1])
    return FIBONACCI[min(len(FIBONACCI) - 1, max(0, index + step))]
