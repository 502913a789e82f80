"""The synthetic organisation every mock API serves, deterministic from (seed, scale, anchor day).

This module holds the *shape* of the org (people, teams, repos, Jira projects and boards, the date
range). The GitHub activity is generated in `github_data.py` and the Jira activity in `jira_data.py`,
both from `SyntheticOrg`, so the two sources agree (team members, incident teams, dates).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

SCALES = ("default", "large")

FIRST_NAMES = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
    "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe", "amir", "bea", "chen",
]

BOT_LOGIN = "dependabot"  # GraphQL shows a Bot's bare login with __typename Bot; REST shows "dependabot[bot]"


@dataclass(frozen=True)
class Person:
    login: str
    display_name: str
    account_id: str  # Jira accountId
    team: str


@dataclass(frozen=True)
class Repo:
    full_name: str  # owner/name
    team: str
    default_branch: str = "main"
    deployment_source: str = "merge"  # what the generated config says for this repo


@dataclass(frozen=True)
class JiraProject:
    key: str
    name: str
    team: str
    project_id: str
    board_id: int | None  # None: the team does not run sprints


@dataclass
class SyntheticOrg:
    seed: int = 7
    scale: str = "default"
    anchor: date = field(default_factory=lambda: datetime.now(UTC).date())
    days: int = 45
    org: str = "acme"
    people: list[Person] = field(default_factory=list)
    repos: list[Repo] = field(default_factory=list)
    projects: list[JiraProject] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"--scale must be one of {', '.join(SCALES)} (got {self.scale!r})")
        if self.days < 1:
            raise ValueError(f"--days must be at least 1 (got {self.days})")
        rng = random.Random(f"{self.seed}:org")
        if self.scale == "large":
            self.teams = [f"team{i:02d}" for i in range(10)]
            n_people, n_repos = 60, 52
        else:
            self.teams = ["platform", "web", "data"]
            n_people, n_repos = 12, 6
        names = [FIRST_NAMES[i % len(FIRST_NAMES)] + ("" if i < len(FIRST_NAMES) else str(i)) for i in range(n_people)]
        self.people = [
            Person(login=n, display_name=n.capitalize(), account_id=f"5b10ac8d82e05b22cc7d{i:04d}",
                   team=self.teams[i % len(self.teams)])
            for i, n in enumerate(names)
        ]
        repo_names = ["api", "web", "data-pipeline", "infra", "mobile", "docs"]
        self.repos = []
        for i in range(n_repos):
            name = repo_names[i] if i < len(repo_names) else f"service-{i:02d}"
            team = self.teams[i % len(self.teams)]
            source = "merge"
            if name == "web":
                source = "release"
            elif name == "infra":
                source = "deployment"
            self.repos.append(Repo(full_name=f"{self.org}/{name}", team=team, deployment_source=source))
        project_keys = {"platform": "API", "web": "WEB", "data": "DATA"}
        self.projects = []
        for i, team in enumerate(self.teams):
            key = project_keys.get(team, f"T{i:02d}")
            # In the default org the data team has no scrum board (weekly cards, "no board" on Planning).
            board = None if team == "data" else 12 + 11 * i
            self.projects.append(JiraProject(key=key, name=f"{team.capitalize()} project", team=team,
                                             project_id=str(10000 + i), board_id=board))
        rng.shuffle(self.people)  # stable for a seed; keeps list order from implying team

    @property
    def start(self) -> date:
        return self.anchor - timedelta(days=self.days - 1)

    @property
    def start_dt(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=UTC)

    @property
    def end_dt(self) -> datetime:
        """Exclusive end: midnight after the anchor day (activity is generated up to 'now' on that day)."""
        return datetime.combine(self.anchor + timedelta(days=1), time(0), tzinfo=UTC)

    def members(self, team: str) -> list[Person]:
        return [p for p in self.people if p.team == team]

    def rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.scale}:{self.anchor.isoformat()}:{purpose}")

    def config(self) -> dict[str, Any]:
        """The project config (config.yaml contents) that matches this org."""
        teams: dict[str, Any] = {}
        for team in self.teams:
            spec: dict[str, Any] = {"repos": [r.full_name for r in self.repos if r.team == team]}
            projects = [p for p in self.projects if p.team == team]
            spec["jira_projects"] = [p.key for p in projects]
            boards = [p.board_id for p in projects if p.board_id is not None]
            if boards:
                spec["jira_boards"] = boards
            spec["members"] = sorted(p.login for p in self.members(team))
            teams[team] = spec
        overrides = {r.full_name: {"source": r.deployment_source} for r in self.repos if r.deployment_source != "merge"}
        return {
            "org": self.org,
            "github": {"repos": [r.full_name for r in self.repos]},
            "jira": {
                "projects": [p.key for p in self.projects],
                "boards": [p.board_id for p in self.projects if p.board_id is not None],
                "incident_types": ["Incident"],
            },
            "teams": teams,
            "deployments": {"source": "merge", "environment": "production", "repos": overrides},
            "bots": [],
        }


def demo_working_agreements(teams: list[str]) -> dict:
    """Working agreements for a demo config (`emd mock-api --write-config`, so `make demo` shows the agreements
    page and its nudges; the end-to-end tests use them so every mart has rows)."""
    examples = [
        {"first_review_within_hours": 8, "pr_open_max_days": 5, "pr_size_max_lines": 400, "blocked_max_days": 3,
         "sprint_scope_change_max_pct": 20, "proposed": {"wip_max_issues": 6},
         "working_hours": {"timezone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"],
                           "start": "09:00", "end": "17:00"}},
        {"first_review_within_hours": 24, "wip_max_issues": 8},
    ]
    return dict(zip(teams, examples, strict=False))
