"""The new sources' clients against the mock over real HTTP (paging, filters, clear errors), their config keys,
and the CODEOWNERS pattern translation (GitHub's documented examples)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import ANCHOR
from dbt_fixtures import sources_scenario as scenario

from emd.config import ConfigError, PagerDutyConfig, load_config
from emd.http import ApiAuthError, ApiNotFoundError, RetryPolicy
from emd.settings import SettingsError
from mock_apis.org import SyntheticOrg
from mock_apis.pagerduty import incident
from mock_apis.server import MockApi, MockState
from orchestration.defs.github.actions import workflow_runs
from orchestration.defs.github.codeowners import parse_codeowners, pattern_regex, repository_heads
from orchestration.defs.github.issues import labelled_issues_between
from orchestration.defs.github.resource import GitHubClient
from orchestration.defs.pagerduty.resource import PagerDutyClient

QUICK = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_elapsed_s=5)


@pytest.fixture
def api() -> Iterator[MockApi]:
    state = MockState(org=SyntheticOrg(seed=7, anchor=ANCHOR))
    state.extra["github_data"] = scenario.github()
    with MockApi(state) as server:
        yield server


def github(api: MockApi) -> GitHubClient:
    return GitHubClient(api.state.github_token, api.url, policy=QUICK)


def test_workflow_runs_filter_by_branch_status_and_created_range(api: MockApi) -> None:
    runs = workflow_runs(github(api), "acme/mono", "deploy.yml", "main", scenario.t("03-03 00:00"),
                         scenario.t("03-04 00:00"))
    # 03-03: run 12 failed, run 15 is on feature/x -> runs 13 and 14, newest first
    assert [r["id"] for r in runs] == [14, 13]


def test_workflow_runs_follow_link_pages(api: MockApi) -> None:
    runs = api.state.extra["github_data"].repos["acme/mono"]["_workflow_runs"]
    base = runs[0]
    runs.extend({**base, "id": 1000 + i, "head_sha": f"x{i}", "created_at": f"2026-03-05T{i // 60:02d}:{i % 60:02d}:00Z"}
                for i in range(150))
    client = github(api)
    found = workflow_runs(client, "acme/mono", "deploy.yml", "main", scenario.t("03-05 00:00"), scenario.t("03-06 00:00"))
    assert len(found) == 150 and len({r["id"] for r in found}) == 150
    assert client.stats.requests == 2   # per_page=100: two pages


def test_a_wrong_workflow_name_names_the_file_and_the_config_key(api: MockApi) -> None:
    with pytest.raises(ApiNotFoundError) as caught:
        workflow_runs(github(api), "acme/mono", "deploy.yaml", "main", scenario.t("03-03 00:00"), scenario.t("03-04 00:00"))
    message = str(caught.value)
    assert "'deploy.yaml'" in message and "deployments.repos.acme/mono.workflows" in message
    assert api.state.github_token not in message


def test_labelled_issues_since_the_window_start(api: MockApi) -> None:
    found = labelled_issues_between(github(api), ["acme/svc", "acme/mono"], ["incident"], scenario.t("03-02 00:00"),
                                    scenario.t("03-03 00:00"))
    assert [(i["repository"], i["number"], i["closedAt"]) for i in found] == [("acme/svc", 50, "2026-03-02T20:00:00Z")]
    # updated on 03-02 only: the next day's window does not see it again
    assert labelled_issues_between(github(api), ["acme/svc"], ["incident"], scenario.t("03-03 00:00"),
                                   scenario.t("03-04 00:00")) == []


def test_codeowners_found_where_github_looks(api: MockApi) -> None:
    data = api.state.extra["github_data"]
    data.repos["acme/svc"]["_blobs"] = {"docs/CODEOWNERS": "* @acme/web-team\n", "CODEOWNERS": "* @acme/x\n"}
    heads = repository_heads(github(api), ["acme/mono", "acme/svc"])
    assert (heads["acme/mono"].codeowners_path, heads["acme/mono"].default_branch) == (".github/CODEOWNERS", "main")
    assert heads["acme/svc"].codeowners_path == "CODEOWNERS"  # the root file comes before docs/


@pytest.mark.parametrize(("pattern", "matches", "misses"), [
    # GitHub's CODEOWNERS documentation examples
    ("*", ["README.md", "a/b/c.py"], []),
    ("*.js", ["app.js", "src/deep/app.js"], ["app.jsx"]),
    ("/build/logs/", ["build/logs/x.log", "build/logs/a/b.log"], ["src/build/logs/x.log", "build/logs"]),
    ("docs/*", ["docs/getting-started.md"], ["docs/build-app/troubleshooting.md"]),
    ("apps/", ["apps/x.py", "src/apps/y.py"], ["apps.py"]),
    ("/docs/", ["docs/a.md", "docs/b/c.md"], ["src/docs/a.md"]),
    ("**/logs", ["logs/a", "build/logs/a", "deeply/nested/logs/x"], ["logsx/a"]),
    ("/apps/github", ["apps/github", "apps/github/x.rb"], ["apps/githubber", "x/apps/github"]),
    ("/scripts/**", ["scripts/a.sh", "scripts/b/c.sh"], ["other/scripts/a.sh"]),
])
def test_codeowners_patterns_match_as_github_documents(pattern: str, matches: list[str], misses: list[str]) -> None:
    regex = re.compile(pattern_regex(pattern))
    assert [p for p in matches if not regex.match(p)] == []
    assert [p for p in misses if regex.match(p)] == []


def test_codeowners_rules_keep_file_order_owners_and_skip_comments() -> None:
    rules = parse_codeowners(scenario.CODEOWNERS)
    assert [(r.index, r.pattern, r.owners) for r in rules] == [
        (1, "*", ("@acme/platform-team",)), (2, "/web/", ("@acme/web-team",)), (3, "/web/docs/*.md", ("@octocat",))]


# -- PagerDuty ------------------------------------------------------------------------------------------

PD = PagerDutyConfig(services={"PPLAT01": "platform"}, urgency="high")


def pagerduty(api: MockApi, token: str | None = None) -> PagerDutyClient:
    return PagerDutyClient(token or api.state.pagerduty_token, api.url + "/pagerduty", policy=QUICK)


def test_pagerduty_pages_by_offset_and_filters_service_and_urgency(api: MockApi) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    api.state.extra["pagerduty_incidents"] = [
        incident(i, "PPLAT01" if i % 10 else "POTHER", start + timedelta(minutes=i), None, "low" if i % 7 == 0 else "high")
        for i in range(1, 251)]
    client = pagerduty(api)
    found = client.incidents_between(start, start + timedelta(days=1), PD)
    # 250 incidents: 25 of POTHER (multiples of 10), 35 low (multiples of 7), 3 both (70, 140, 210) -> 193
    assert len(found) == 250 - 25 - 35 + 3
    assert client.stats.requests == 2   # 100 + 93, `more` false on the second page


def test_pagerduty_changed_incidents_are_read_by_id_in_their_current_state(api: MockApi) -> None:
    day = datetime(2026, 3, 7, tzinfo=UTC)
    earlier = day - timedelta(days=3)
    api.state.extra["pagerduty_incidents"] = [
        incident(1, "PPLAT01", earlier, day + timedelta(hours=10)),            # resolved in the day: read
        incident(2, "POTHER", earlier, day + timedelta(hours=11)),             # an unmapped service: not read
        incident(3, "PPLAT01", earlier, day + timedelta(hours=12), "low"),     # low urgency: read, left out
        incident(4, "PPLAT01", day + timedelta(hours=1), day + timedelta(hours=2)),  # created in the day
        incident(5, "PPLAT01", earlier, day + timedelta(days=1, hours=1)),     # resolved the next day
    ]
    client = pagerduty(api)
    changed = client.incidents_changed_between(day, day + timedelta(days=1), PD)
    assert [(i["incident_number"], i["status"]) for i in changed] == [(1, "resolved")]
    assert api.state.counts["pagerduty:incident"] == 2  # #1 and #3
    # a log entry naming an incident the key can no longer read (404) leaves it out, named, and the rest stays
    api.state.extra["pagerduty_not_found"] = {"Q0001MOCK"}
    assert client.incidents_changed_between(day, day + timedelta(days=1), PD) == []
    assert client.vanished == ["Q0001MOCK"]


def test_pagerduty_splits_windows_longer_than_six_months(api: MockApi) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    api.state.extra["pagerduty_incidents"] = [incident(1, "PPLAT01", start + timedelta(days=200), None)]
    client = pagerduty(api)
    assert [i["incident_number"] for i in client.incidents_between(start, start + timedelta(days=300), PD)] == [1]
    assert client.stats.requests == 2   # [0, 180 d) and [180 d, 300 d): the mock answers 400 beyond 6 months


def test_pagerduty_missing_and_wrong_tokens_name_the_variable(api: MockApi) -> None:
    with pytest.raises(SettingsError, match="PAGERDUTY_API_TOKEN is not set"):
        PagerDutyClient(None, api.url + "/pagerduty")
    with pytest.raises(ApiAuthError, match="PAGERDUTY_API_TOKEN") as caught:
        pagerduty(api, token="not-the-key").incidents_between(scenario.t("03-02 00:00"), scenario.t("03-03 00:00"), PD)
    assert "not-the-key" not in str(caught.value)


# -- config -------------------------------------------------------------------------------------------

def write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_config_reads_the_new_sources(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, scenario.config()))
    assert config.workflow_repos() == {"acme/mono": ("deploy.yml",)}
    assert config.deployment_for("acme/svc").source == "merge"
    assert config.incident_labels == ("incident",)
    assert config.pagerduty == PagerDutyConfig(services={"PPLAT01": "platform", "PWEB001": "web"}, urgency="high")
    assert config.team_of_github_team("@ACME/Platform-Team") == "platform" and config.uses_codeowners


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c["incidents"]["pagerduty"]["services"].update({"PNEW": "payments"}),
     r"`incidents\.pagerduty\.services\.PNEW` maps to 'payments', which is not a team under `teams`"),
    (lambda c: c["incidents"]["pagerduty"].update({"services": {}}), r"`incidents\.pagerduty\.services` is required"),
    (lambda c: c["incidents"]["pagerduty"].update({"urgency": "urgent"}), r"`incidents\.pagerduty\.urgency` must be one of high, low"),
    (lambda c: c["deployments"]["repos"]["acme/mono"].pop("workflows"),
     r"`deployments\.repos\.acme/mono\.workflows` is required with `source: workflow`"),
    (lambda c: c["deployments"]["repos"]["acme/mono"].update({"workflows": ["Deploy to prod"]}),
     r"`deployments\.repos\.acme/mono\.workflows` has 'Deploy to prod': name a workflow by its file name"),
    (lambda c: c["deployments"].update({"source": "workflow"}), r"`deployments\.workflows` is required"),
    (lambda c: c["teams"]["web"].update({"github_teams": ["web-team"]}),
     r"`teams\.web\.github_teams` has 'web-team', which is not a GitHub team of the form org/team-slug"),
    (lambda c: c["teams"]["web"].update({"github_teams": ["acme/platform-team"]}),
     r"lists github team 'acme/platform-team', already in team 'platform'"),
    (lambda c: c["incidents"].update({"jira_types": ["Incident"]}), r"`incidents\.jira_types` is not a known key"),
])
def test_config_errors_name_the_key(tmp_path: Path, change, message: str) -> None:
    config = scenario.config()
    change(config)
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, config))
