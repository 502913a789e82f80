"""The project config file (EMD_CONFIG, default config.yaml); config.example.yaml documents every key.

Loading validates the whole file and raises ConfigError naming the key and the file on the first problem,
so a typo never silently turns into "no data".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from emd import settings

DEPLOYMENT_SOURCES = ("merge", "release", "deployment", "workflow")
PAGERDUTY_URGENCIES = ("high", "low")
GITHUB_TEAM_RE = re.compile(r"^@?[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
WORKFLOW_RE = re.compile(r"^[A-Za-z0-9_.-]+\.ya?ml$|^[0-9]+$")
REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class ConfigError(ValueError):
    """A malformed project config; the message names the key and the file."""


@dataclass(frozen=True)
class Team:
    name: str
    repos: tuple[str, ...] = ()
    jira_projects: tuple[str, ...] = ()
    jira_boards: tuple[int, ...] = ()
    members: tuple[str, ...] = ()
    github_teams: tuple[str, ...] = ()  # `org/team-slug`, lower case, without the `@`: CODEOWNERS owners


@dataclass(frozen=True)
class PrTypeRule:
    """`pr_types.<name>`: a PR with one of `labels`, or whose title or head branch starts with one of
    `prefixes` (case-insensitive), is of type `name`. Checked in order after hotfix, before the built-in rules."""

    name: str
    labels: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()


# Working agreements (docs/metrics.md "Working agreements"): rule -> (unit, whether the threshold must be a whole
# number, the smallest allowed value).
AGREEMENT_RULES: dict[str, tuple[str, bool, float]] = {
    "first_review_within_hours": ("hours", False, 0.0),
    "pr_open_max_days": ("days", False, 0.0),
    "pr_size_max_lines": ("lines", True, 0.0),
    "blocked_max_days": ("days", False, 0.0),
    "wip_max_issues": ("issues", True, 0.0),
    "sprint_scope_change_max_pct": ("%", False, 0.0),
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WorkingHours:
    """`working_agreements.<team>.working_hours`: the days (ISO weekday numbers, Monday = 1) and the local
    hours [start, end) the team works (minutes after local midnight), in its IANA time zone."""

    timezone: str
    days: tuple[int, ...] = (1, 2, 3, 4, 5)
    start_minute: int = 9 * 60
    end_minute: int = 17 * 60


@dataclass(frozen=True)
class WorkingAgreement:
    """`working_agreements.<team>`: the rules a team agreed to (rule -> threshold), rules it is only trying out
    (`proposed`: evaluated over history and shown on the dashboard, never nudged), its working hours and whether
    Slack nudges may mention PR authors."""

    team: str
    rules: dict[str, float] = field(default_factory=dict)
    proposed: dict[str, float] = field(default_factory=dict)
    working_hours: WorkingHours | None = None
    mention_authors: bool = False


@dataclass(frozen=True)
class RepoDeployment:
    source: str
    environment: str = "production"
    include_prereleases: bool = False
    workflows: tuple[str, ...] = ()  # with source: workflow, the workflow file names (or ids) that deploy


@dataclass(frozen=True)
class PagerDutyConfig:
    """`incidents.pagerduty`: which services' incidents count, for which team, and at which urgency."""

    services: dict[str, str]  # service id -> team
    urgency: str | None = None  # high | low; None: every urgency


@dataclass(frozen=True)
class IncidentSlo:
    """`slos.incidents.<name>`: an SLO without monitoring data, whose downtime is the union of the team's incident
    intervals (docs/metrics.md "SLOs and error budgets"); only those of `pagerduty_services` when listed."""

    name: str
    team: str
    target: float
    window_days: int = 30
    service: str = ""  # default: the name
    pagerduty_services: tuple[str, ...] = ()


@dataclass(frozen=True)
class SloConfig:
    """`slos`: OpenSLO files (globs relative to the config file's folder) and incident-based SLOs."""

    files: tuple[str, ...] = ()
    incidents: tuple[IncidentSlo, ...] = ()


@dataclass(frozen=True)
class ProjectConfig:
    org: str
    repos: tuple[str, ...]
    jira_projects: tuple[str, ...] = ()
    jira_boards: tuple[int, ...] = ()
    story_points_field: str | None = None
    incident_types: tuple[str, ...] = ("Incident",)
    blocked_statuses: tuple[str, ...] = ()  # empty: any status whose name contains "blocked"
    include_subtasks: bool = False
    teams: tuple[Team, ...] = ()
    deployment_source: str = "merge"
    deployment_environment: str = "production"
    include_prereleases: bool = False
    repo_deployments: dict[str, RepoDeployment] = field(default_factory=dict)
    release_branch_patterns: tuple[str, ...] = ("release/*", "hotfix/*")
    hotfix_window_days: int = 7
    failure_window_days: int = 7
    bots: tuple[str, ...] = ()
    pr_type_rules: tuple[PrTypeRule, ...] = ()
    dashboard_url: str = "http://localhost:8501"
    backfill_days: int = 30
    working_agreements: tuple[WorkingAgreement, ...] = ()
    deployment_workflows: tuple[str, ...] = ()
    incident_labels: tuple[str, ...] = ()  # GitHub issue labels that make an issue an incident; empty: off
    pagerduty: PagerDutyConfig | None = None
    slos: SloConfig = field(default_factory=SloConfig)
    source_path: Path | None = None

    def agreement_of(self, team: str) -> WorkingAgreement | None:
        return next((a for a in self.working_agreements if a.team == team), None)

    def deployment_for(self, repo: str) -> RepoDeployment:
        return self.repo_deployments.get(
            repo,
            RepoDeployment(self.deployment_source, self.deployment_environment, self.include_prereleases,
                           self.deployment_workflows),
        )

    def workflow_repos(self) -> dict[str, tuple[str, ...]]:
        """Repos whose deployments are workflow runs -> their workflow files."""
        return {repo: d.workflows for repo in self.repos if (d := self.deployment_for(repo)).source == "workflow"}

    @property
    def uses_codeowners(self) -> bool:
        """CODEOWNERS decide PR teams only when some team lists the GitHub teams its owners name."""
        return any(team.github_teams for team in self.teams)

    def team_of_github_team(self, github_team: str) -> str | None:
        wanted = github_team.lower().lstrip("@")
        for team in self.teams:
            if wanted in team.github_teams:
                return team.name
        return None

    def team_of_repo(self, repo: str) -> str | None:
        for team in self.teams:
            if repo in team.repos:
                return team.name
        return None


_TOP_KEYS = {"org", "github", "jira", "teams", "deployments", "hotfix", "change_failure", "bots", "dashboard",
             "backfill_days", "pr_types", "working_agreements", "incidents", "slos"}
_GITHUB_KEYS = {"repos"}
_JIRA_KEYS = {"projects", "boards", "story_points_field", "incident_types", "blocked_statuses", "include_subtasks"}
_TEAM_KEYS = {"repos", "jira_projects", "jira_boards", "members", "github_teams"}
_DEPLOY_KEYS = {"source", "environment", "include_prereleases", "repos", "workflows"}
_REPO_DEPLOY_KEYS = {"source", "environment", "include_prereleases", "workflows"}
_INCIDENT_KEYS = {"github_labels", "pagerduty"}
_PAGERDUTY_KEYS = {"services", "urgency"}
_SLO_KEYS = {"files", "incidents"}
_INCIDENT_SLO_KEYS = {"team", "target", "window_days", "service", "pagerduty_services"}
SLO_WINDOW_DAYS = (28, 30)
_HOTFIX_KEYS = {"release_branch_patterns", "window_days"}
_CF_KEYS = {"window_days"}
_DASHBOARD_KEYS = {"url"}
_PR_TYPE_KEYS = {"labels", "prefixes"}
_AGREEMENT_KEYS = set(AGREEMENT_RULES) | {"working_hours", "mention_authors", "proposed"}
_WORKING_HOURS_KEYS = {"timezone", "days", "start", "end"}
_HHMM_RE = re.compile(r"^([01]?[0-9]|2[0-4]):([0-5][0-9])$")


class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: `{key}` {problem}")

    def mapping(self, value: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {type(value).__name__}")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            where = f"{key}.{unknown[0]}" if key else unknown[0]
            raise self.fail(where, f"is not a known key (known: {', '.join(sorted(allowed))})")
        return value

    def str_list(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, "must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def int_list(self, value: Any, key: str) -> tuple[int, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise self.fail(key, "must be a list of integer board ids")
        return tuple(value)

    def boolean(self, value: Any, key: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def positive_int(self, value: Any, key: str, default: int) -> int:
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(key, "must be a positive whole number")
        return value

    def source(self, value: Any, key: str, default: str) -> str:
        if value is None:
            return default
        if value not in DEPLOYMENT_SOURCES:
            raise self.fail(key, f"must be one of {', '.join(DEPLOYMENT_SOURCES)} (got {value!r})")
        return str(value)


    def threshold(self, value: Any, key: str, rule: str) -> float:
        unit, whole, minimum = AGREEMENT_RULES[rule]
        kind = "whole number" if whole else "number"
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
            raise self.fail(key, f"must be a {kind} of {unit} (got {value!r})")
        positive = unit in ("hours", "days", "lines")
        if value < minimum or (positive and value == minimum):
            raise self.fail(key, f"must be {'greater than' if positive else 'at least'} {minimum:g} (got {value!r})")
        return float(value)

    def rules(self, spec: dict[str, Any], key: str) -> dict[str, float]:
        return {rule: self.threshold(spec[rule], f"{key}.{rule}", rule) for rule in AGREEMENT_RULES
                if spec.get(rule) is not None}

    def clock(self, value: Any, key: str, default: int) -> int:
        """A local time "HH:MM" as minutes after midnight ("24:00" = 1440)."""
        if value is None:
            return default
        match = _HHMM_RE.match(value) if isinstance(value, str) else None
        if match is None:
            hint = " (quote it: unquoted 09:00 reads as a number in YAML)" if isinstance(value, int) else ""
            raise self.fail(key, f"must be a time \"HH:MM\"{hint} (got {value!r})")
        minutes = int(match.group(1)) * 60 + int(match.group(2))
        if minutes > 24 * 60:
            raise self.fail(key, f"must be at most \"24:00\" (got {value!r})")
        return minutes

    def working_hours(self, value: Any, key: str) -> WorkingHours | None:
        if value is None:
            return None
        spec = self.mapping(value, key, _WORKING_HOURS_KEYS)
        zone = spec.get("timezone")
        if not isinstance(zone, str) or not zone.strip():
            raise self.fail(f"{key}.timezone", "is required: the team's IANA time zone, e.g. Europe/Berlin")
        try:
            ZoneInfo(zone.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(f"{key}.timezone",
                            f"is not a known IANA time zone (got {zone!r}; e.g. Europe/Berlin)") from None
        days_raw = spec.get("days", ["mon", "tue", "wed", "thu", "fri"])
        if not isinstance(days_raw, list) or not days_raw or not all(
                isinstance(d, str) and d.strip().lower()[:3] in WEEKDAYS for d in days_raw):
            raise self.fail(f"{key}.days", f"must be a non-empty list of weekdays ({', '.join(WEEKDAYS)})")
        days = tuple(sorted({WEEKDAYS.index(d.strip().lower()[:3]) + 1 for d in days_raw}))
        start = self.clock(spec.get("start"), f"{key}.start", 9 * 60)
        end = self.clock(spec.get("end"), f"{key}.end", 17 * 60)
        if end <= start:
            raise self.fail(f"{key}.end", f"must be later than start ({start // 60:02d}:{start % 60:02d}); "
                                          "overnight hours are not supported")
        return WorkingHours(zone.strip(), days, start, end)


def parse_working_agreements(r: _Reader, raw: Any, team_names: set[str]) -> tuple[WorkingAgreement, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise r.fail("working_agreements", "must be a mapping of team name to its rules, e.g. "
                                           "`platform: {first_review_within_hours: 8}`")
    agreements = []
    for name, spec in raw.items():
        key = f"working_agreements.{name}"
        if str(name) not in team_names:
            known = ", ".join(sorted(team_names)) or "none configured"
            raise r.fail(key, f"names a team that is not listed under teams (teams: {known})")
        spec = r.mapping(spec, key, _AGREEMENT_KEYS)
        proposed_spec = r.mapping(spec.get("proposed"), f"{key}.proposed", set(AGREEMENT_RULES))
        rules = r.rules(spec, key)
        proposed = r.rules(proposed_spec, f"{key}.proposed")
        both = sorted(set(rules) & set(proposed))
        if both:
            raise r.fail(f"{key}.proposed.{both[0]}", "is also an agreed rule of this team: keep one of the two")
        agreements.append(WorkingAgreement(
            team=str(name), rules=rules, proposed=proposed,
            working_hours=r.working_hours(spec.get("working_hours"), f"{key}.working_hours"),
            mention_authors=r.boolean(spec.get("mention_authors"), f"{key}.mention_authors", False),
        ))
    return tuple(agreements)

def parse_slos(r: _Reader, raw: Any, team_names: set[str], pagerduty: PagerDutyConfig | None) -> SloConfig:
    spec = r.mapping(raw, "slos", _SLO_KEYS)
    files = r.str_list(spec.get("files"), "slos.files")
    incidents_raw = spec.get("incidents")
    if incidents_raw is not None and not isinstance(incidents_raw, dict):
        raise r.fail("slos.incidents", "must be a mapping of SLO name to {team, target, window_days}, e.g. "
                                       "`checkout: {team: platform, target: 0.999, window_days: 30}`")
    incidents = []
    for name, item in (incidents_raw or {}).items():
        key = f"slos.incidents.{name}"
        item = r.mapping(item, key, _INCIDENT_SLO_KEYS)
        team = item.get("team")
        if not isinstance(team, str) or team not in team_names:
            raise r.fail(f"{key}.team", f"must name a team under `teams` (got {team!r}; known: "
                                        f"{', '.join(sorted(team_names)) or 'none'})")
        target = item.get("target")
        if isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target < 1:
            raise r.fail(f"{key}.target", f"must be a fraction between 0 and 1, e.g. 0.999 (got {target!r})")
        window = r.positive_int(item.get("window_days"), f"{key}.window_days", 30)
        if window not in SLO_WINDOW_DAYS:
            raise r.fail(f"{key}.window_days", f"must be one of {', '.join(map(str, SLO_WINDOW_DAYS))} (got {window})")
        services = r.str_list(item.get("pagerduty_services"), f"{key}.pagerduty_services")
        for service_id in services:
            if pagerduty is None or service_id not in pagerduty.services:
                raise r.fail(f"{key}.pagerduty_services", f"names {service_id!r}, which `incidents.pagerduty."
                                                          "services` does not list")
        service = item.get("service")
        if service is not None and (not isinstance(service, str) or not service.strip()):
            raise r.fail(f"{key}.service", "must be a non-empty string (default: the SLO's name)")
        incidents.append(IncidentSlo(name=str(name), team=team, target=float(target), window_days=window,
                                     service=(service or str(name)).strip(), pagerduty_services=services))
    return SloConfig(files=files, incidents=tuple(incidents))


def _workflows(r: _Reader, value: Any, key: str) -> tuple[str, ...]:
    workflows = r.str_list(value, key)
    for workflow in workflows:
        if not WORKFLOW_RE.match(workflow):
            raise r.fail(key, f"has {workflow!r}: name a workflow by its file name under .github/workflows "
                              "(e.g. deploy.yml) or its numeric id")
    return workflows


def parse_config(raw: Any, path: Path) -> ProjectConfig:
    r = _Reader(path)
    top = r.mapping(raw, "", _TOP_KEYS)
    org = top.get("org")
    if not isinstance(org, str) or not org.strip():
        raise r.fail("org", "is required: the organisation's name, e.g. `org: acme`")

    github = r.mapping(top.get("github"), "github", _GITHUB_KEYS)
    repos = r.str_list(github.get("repos"), "github.repos")
    if not repos:
        raise r.fail("github.repos", "is required: a list of owner/name repositories")
    for repo in repos:
        if not REPO_RE.match(repo):
            raise r.fail("github.repos", f"has {repo!r}, which is not of the form owner/name")

    jira = r.mapping(top.get("jira"), "jira", _JIRA_KEYS)
    projects = r.str_list(jira.get("projects"), "jira.projects")
    boards = r.int_list(jira.get("boards"), "jira.boards")
    sp_field = jira.get("story_points_field")
    if sp_field is not None and not isinstance(sp_field, str):
        raise r.fail("jira.story_points_field", "must be a field id such as customfield_10016")

    teams_raw = top.get("teams") or {}
    if not isinstance(teams_raw, dict):
        raise r.fail("teams", "must be a mapping of team name to {repos, jira_projects, jira_boards, members}")
    teams: list[Team] = []
    owner: dict[tuple[str, str], str] = {}
    for name, spec in teams_raw.items():
        key = f"teams.{name}"
        spec = r.mapping(spec, key, _TEAM_KEYS)
        team = Team(
            name=str(name),
            repos=r.str_list(spec.get("repos"), f"{key}.repos"),
            jira_projects=r.str_list(spec.get("jira_projects"), f"{key}.jira_projects"),
            jira_boards=r.int_list(spec.get("jira_boards"), f"{key}.jira_boards"),
            members=r.str_list(spec.get("members"), f"{key}.members"),
            github_teams=tuple(t.lower().lstrip("@") for t in r.str_list(spec.get("github_teams"), f"{key}.github_teams")),
        )
        for github_team in team.github_teams:
            if not GITHUB_TEAM_RE.match(github_team):
                raise r.fail(f"{key}.github_teams", f"has {github_team!r}, which is not a GitHub team of the form "
                                                    "org/team-slug (as CODEOWNERS names it, e.g. @acme/platform-team)")
        if team.name == "unassigned":
            raise r.fail(key, "uses the reserved name `unassigned`")
        for repo in team.repos:
            if repo not in repos:
                raise r.fail(f"{key}.repos", f"names {repo!r}, which is not listed under github.repos")
        for project in team.jira_projects:
            if project not in projects:
                raise r.fail(f"{key}.jira_projects", f"names {project!r}, which is not listed under jira.projects")
        for board in team.jira_boards:
            if board not in boards:
                raise r.fail(f"{key}.jira_boards", f"names board {board}, which is not listed under jira.boards")
        for kind, values in (("repo", team.repos), ("jira project", team.jira_projects),
                             ("jira board", tuple(map(str, team.jira_boards))), ("member", team.members),
                             ("github team", team.github_teams)):
            for value in values:
                if (kind, value) in owner:
                    raise r.fail(key, f"lists {kind} {value!r}, already in team {owner[(kind, value)]!r}: "
                                      "each maps to at most one team")
                owner[(kind, value)] = team.name
        teams.append(team)

    deployments = r.mapping(top.get("deployments"), "deployments", _DEPLOY_KEYS)
    default_source = r.source(deployments.get("source"), "deployments.source", "merge")
    default_env = deployments.get("environment") or "production"
    default_pre = r.boolean(deployments.get("include_prereleases"), "deployments.include_prereleases", False)
    default_workflows = _workflows(r, deployments.get("workflows"), "deployments.workflows")
    if default_source == "workflow" and not default_workflows and any(repo not in (deployments.get("repos") or {})
                                                                      for repo in repos):
        raise r.fail("deployments.workflows", "is required with `deployments.source: workflow`: the file names of the "
                                              "workflows that deploy, e.g. `workflows: [deploy.yml]`")
    per_repo: dict[str, RepoDeployment] = {}
    repo_overrides = deployments.get("repos") or {}
    if not isinstance(repo_overrides, dict):
        raise r.fail("deployments.repos", "must be a mapping of owner/name to {source, environment}")
    for repo, spec in repo_overrides.items():
        key = f"deployments.repos.{repo}"
        if repo not in repos:
            raise r.fail(key, "names a repo that is not listed under github.repos")
        spec = r.mapping(spec, key, _REPO_DEPLOY_KEYS)
        per_repo[repo] = RepoDeployment(
            source=r.source(spec.get("source"), f"{key}.source", default_source),
            environment=str(spec.get("environment") or default_env),
            include_prereleases=r.boolean(spec.get("include_prereleases"), f"{key}.include_prereleases", default_pre),
            workflows=_workflows(r, spec.get("workflows"), f"{key}.workflows") or default_workflows,
        )
        if per_repo[repo].source == "workflow" and not per_repo[repo].workflows:
            raise r.fail(f"{key}.workflows", "is required with `source: workflow` (or set `deployments.workflows`): "
                                             "the file names of the workflows that deploy, e.g. `workflows: [deploy.yml]`")

    incidents = r.mapping(top.get("incidents"), "incidents", _INCIDENT_KEYS)
    incident_labels = r.str_list(incidents.get("github_labels"), "incidents.github_labels")
    pagerduty = None
    if incidents.get("pagerduty") is not None:
        pd = r.mapping(incidents.get("pagerduty"), "incidents.pagerduty", _PAGERDUTY_KEYS)
        services_raw = pd.get("services")
        if not isinstance(services_raw, dict) or not services_raw:
            raise r.fail("incidents.pagerduty.services", "is required: a mapping of PagerDuty service id to team, "
                                                         "e.g. `services: {PXXXXXX: platform}`")
        team_names = {t.name for t in teams}
        services: dict[str, str] = {}
        for service_id, team_name in services_raw.items():
            where = f"incidents.pagerduty.services.{service_id}"
            if not isinstance(team_name, str) or team_name not in team_names:
                raise r.fail(where, f"maps to {team_name!r}, which is not a team under `teams` "
                                    f"(known: {', '.join(sorted(team_names)) or 'none'})")
            services[str(service_id)] = team_name
        urgency = pd.get("urgency")
        if urgency is not None and urgency not in PAGERDUTY_URGENCIES:
            raise r.fail("incidents.pagerduty.urgency", f"must be one of {', '.join(PAGERDUTY_URGENCIES)} "
                                                        f"(got {urgency!r}); leave it out for every urgency")
        pagerduty = PagerDutyConfig(services=services, urgency=urgency)

    hotfix = r.mapping(top.get("hotfix"), "hotfix", _HOTFIX_KEYS)
    change_failure = r.mapping(top.get("change_failure"), "change_failure", _CF_KEYS)
    dashboard = r.mapping(top.get("dashboard"), "dashboard", _DASHBOARD_KEYS)

    pr_types_raw = top.get("pr_types") or {}
    if not isinstance(pr_types_raw, dict):
        raise r.fail("pr_types", "must be a mapping of type name to {labels, prefixes}")
    pr_type_rules = []
    for name, spec in pr_types_raw.items():
        key = f"pr_types.{name}"
        if str(name) == "hotfix":
            raise r.fail(key, "cannot be configured: hotfix is defined by docs/metrics.md (branches, labels, release window)")
        spec = r.mapping(spec, key, _PR_TYPE_KEYS)
        rule = PrTypeRule(str(name), r.str_list(spec.get("labels"), f"{key}.labels"),
                          r.str_list(spec.get("prefixes"), f"{key}.prefixes"))
        if not rule.labels and not rule.prefixes:
            raise r.fail(key, "needs at least one of labels or prefixes")
        pr_type_rules.append(rule)

    return ProjectConfig(
        org=org.strip(),
        repos=repos,
        jira_projects=projects,
        jira_boards=boards,
        story_points_field=sp_field,
        incident_types=r.str_list(jira.get("incident_types"), "jira.incident_types") or ("Incident",),
        blocked_statuses=r.str_list(jira.get("blocked_statuses"), "jira.blocked_statuses"),
        include_subtasks=r.boolean(jira.get("include_subtasks"), "jira.include_subtasks", False),
        teams=tuple(teams),
        deployment_source=default_source,
        deployment_environment=str(default_env),
        include_prereleases=default_pre,
        repo_deployments=per_repo,
        release_branch_patterns=r.str_list(hotfix.get("release_branch_patterns"), "hotfix.release_branch_patterns")
        or ("release/*", "hotfix/*"),
        hotfix_window_days=r.positive_int(hotfix.get("window_days"), "hotfix.window_days", 7),
        failure_window_days=r.positive_int(change_failure.get("window_days"), "change_failure.window_days", 7),
        bots=r.str_list(top.get("bots"), "bots"),
        pr_type_rules=tuple(pr_type_rules),
        dashboard_url=str(dashboard.get("url") or "http://localhost:8501"),
        backfill_days=r.positive_int(top.get("backfill_days"), "backfill_days", 30),
        working_agreements=parse_working_agreements(r, top.get("working_agreements"), {t.name for t in teams}),
        deployment_workflows=default_workflows,
        incident_labels=incident_labels,
        pagerduty=pagerduty,
        slos=parse_slos(r, top.get("slos"), {t.name for t in teams}, pagerduty),
        source_path=path,
    )


def load_config(path: Path | None = None) -> ProjectConfig:
    path = path or settings.config_path()
    if not path.exists():
        raise ConfigError(
            f"{path}: the project config file does not exist. Copy config.example.yaml to {path} "
            "and edit it, or point EMD_CONFIG at your config."
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: is not valid YAML: {exc}") from exc
    return parse_config(raw, path)
