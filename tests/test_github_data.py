"""The synthetic GitHub activity has the shapes the metrics must handle, within the org's date range."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from mock_apis.github_data import github_data
from mock_apis.org import BOT_LOGIN, SyntheticOrg


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def pr_timestamps(pr: dict[str, Any]) -> list[datetime]:
    values = [pr["createdAt"], pr["closedAt"], pr["mergedAt"]]
    values += [e["createdAt"] for e in pr["_timeline"]]
    values += [r["submittedAt"] or r["createdAt"] for r in pr["_reviews"]]
    values += [c["commit"][k] for c in pr["_commits"] for k in ("authoredDate", "committedDate")]
    return [ts(v) for v in values if v]


def test_default_org_size_and_determinism(org: SyntheticOrg) -> None:
    data = github_data(org)
    assert len(data.repos) == 6
    assert 250 <= len(data.pull_requests) <= 600
    again = github_data(SyntheticOrg(seed=7, anchor=org.anchor))
    assert again is data  # memoized: a fresh server per test does not regenerate
    other = github_data(SyntheticOrg(seed=8, anchor=org.anchor))
    assert [p["id"] for p in other.pull_requests] != [p["id"] for p in data.pull_requests]


def test_timestamps_stay_in_range_and_updated_at_is_the_latest_activity(org: SyntheticOrg) -> None:
    data = github_data(org)
    for pr in data.pull_requests:
        stamps = pr_timestamps(pr)
        assert max(stamps) < org.end_dt
        assert ts(pr["createdAt"]) >= org.start_dt
        assert ts(pr["updatedAt"]) == max(stamps).replace(microsecond=0), pr["url"]
    for repo in data.repos.values():
        for release in repo["_releases"]:
            assert ts(release["createdAt"]) < org.end_dt
            assert release["publishedAt"] is None or ts(release["createdAt"]) <= ts(release["publishedAt"]) < org.end_dt
        for deployment in repo["_deployments"]:
            assert ts(deployment["latestStatus"]["createdAt"]) < org.end_dt


def test_the_shapes_metrics_must_handle(org: SyntheticOrg) -> None:
    data = github_data(org)
    prs = data.pull_requests
    events = Counter(e["__typename"] for p in prs for e in p["_timeline"])
    assert {"ReadyForReviewEvent", "ConvertToDraftEvent", "ReopenedEvent", "ClosedEvent", "MergedEvent"} <= set(events)
    states = Counter(p["state"] for p in prs)
    assert states["MERGED"] > states["CLOSED"] > 0 and states["OPEN"] > 0
    reopened = [p for p in prs if any(e["__typename"] == "ReopenedEvent" for e in p["_timeline"])]
    for pr in reopened:
        kinds = [e["__typename"] for e in pr["_timeline"]]
        assert kinds.index("ClosedEvent") < kinds.index("ReopenedEvent")
    reviews = [(p, r) for p in prs for r in p["_reviews"]]
    assert any(r["author"]["login"] == p["author"]["login"] and p["author"]["__typename"] == "User" for p, r in reviews)
    assert any(r["author"] == {**r["author"], "__typename": "Bot", "login": BOT_LOGIN} for _, r in reviews)
    assert any(r["state"] == "PENDING" and r["submittedAt"] is None for _, r in reviews)
    assert any(p["mergedAt"] and not p["_reviews"] for p in prs)
    assert any(p["author"]["__typename"] == "Bot" and p["author"]["login"] == BOT_LOGIN for p in prs)
    hotfixes = [p for p in prs if p["headRefName"].startswith("hotfix/")]
    assert any(p["baseRefName"].startswith("release/") for p in hotfixes)
    assert any(label["name"] == "hotfix" for p in hotfixes for label in p["_labels"])
    titles = {(p["_repo"], p["number"]): p for p in prs}
    reverts = [p for p in prs if p["title"].startswith('Revert "')]
    assert reverts
    for revert in reverts:
        number = int(revert["headRefName"].split("-")[1])
        original = titles[(revert["_repo"], number)]
        assert revert["title"] == f'Revert "{original["title"]}"'
        assert revert["headRefName"] == f"revert-{number}-{original['headRefName']}"
    assert any(p["mergedAt"] and p["baseRefName"] not in ("main",) and not p["headRefName"].startswith("hotfix/")
               for p in prs)
    assert {"bug", "fix", "feature", "enhancement"} <= {label["name"] for p in prs for label in p["_labels"]}
    assert any(min(ts(c["commit"]["authoredDate"]) for c in p["_commits"]) < ts(p["createdAt"]) for p in prs)
    skewed = [p for p in prs if p["mergedAt"]
              and min(ts(c["commit"]["authoredDate"]) for c in p["_commits"]) > ts(p["mergedAt"])]
    assert skewed  # negative lead time
    assert any(len(p["_commits"]) > 100 for p in prs) and any(len(p["_reviews"]) > 100 for p in prs)
    team_of = {person.login: person.team for person in org.people}
    repo_team = {r.full_name: r.team for r in org.repos}
    human = [p for p in prs if p["author"]["__typename"] == "User"]
    same_team = sum(team_of[p["author"]["login"]] == repo_team[p["_repo"]] for p in human)
    assert 0.75 < same_team / len(human) < 0.97  # mostly the repo's team, some cross-team


def test_releases_and_deployments(org: SyntheticOrg) -> None:
    data = github_data(org)
    web = data.repos["acme/web"]["_releases"]
    assert any(r["isDraft"] and r["publishedAt"] is None for r in web)
    assert any(r["isPrerelease"] for r in web)
    assert sum(not r["isDraft"] for r in web) >= 10
    assert all(data.repos[name]["_releases"] for name in data.repos)  # other repos release too
    infra = data.repos["acme/infra"]["_deployments"]
    assert {d["environment"] for d in infra} == {"staging", "production"}
    assert {"SUCCESS", "FAILURE", "IN_PROGRESS"} <= {d["latestStatus"]["state"] for d in infra}
    assert not any(data.repos[name]["_deployments"] for name in data.repos if name != "acme/infra")


def test_large_scale() -> None:
    org = SyntheticOrg(seed=7, anchor=date(2026, 3, 31), scale="large")
    data = github_data(org)
    assert len(data.repos) >= 50
    assert len(data.pull_requests) >= 30_000
