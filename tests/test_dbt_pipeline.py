"""The whole pipeline against the mock APIs (ingestion_job per day, then marts_job = dbt build through
dagster-dbt), then a handful of mart values recomputed here, by hand, straight from the raw rows.
Runs on both warehouses: DuckDB and PostgreSQL."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime

import pytest
import yaml

from emd.settings import database_target
from emd.warehouse import Warehouse
from orchestration.pipeline import INGESTION_JOB, MARTS_JOB, run_pipeline

START, END = date(2026, 3, 29), date(2026, 3, 31)


def newest(rows: list[dict], key: tuple[str, ...]) -> dict[tuple, dict]:
    """Staging's rule: the newest state per entity (latest fetched_at, then latest partition_date)."""
    best: dict[tuple, dict] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in best or (row["fetched_at"], row["partition_date"]) > (best[k]["fetched_at"], best[k]["partition_date"]):
            best[k] = row
    return best


def fetch(conn, sql: str) -> list[dict]:
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_kind(request, mock_env, monkeypatch) -> str:
    """Both warehouses: mock_env's DuckDB file, or a schema of its own on the local Postgres (conftest)."""
    if request.param == "postgres":
        monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("postgres_url"))
    return request.param


@pytest.fixture
def built(warehouse_kind, config_path):
    assert database_target().kind == warehouse_kind
    run_pipeline(START, END, steps=(INGESTION_JOB, MARTS_JOB), log=lambda _: None)
    config = yaml.safe_load(config_path.read_text())
    with Warehouse(database_target()).connect(read_only=True) as conn:
        yield conn, config


FAR = datetime(9999, 12, 31)
GRACE_SECONDS = 60


def value_intervals(created: datetime, current, changes: list[dict], parse) -> list[tuple]:
    """docs/metrics.md: roll the current value back through the changes, newest to oldest ->
    [(valid_from, valid_to, value)], half-open."""
    intervals, value, until = [], current, FAR
    for change in sorted(changes, key=lambda c: (c["created_at"], c["history_id"], c["item_index"]), reverse=True):
        intervals.append((change["created_at"], until, value))
        value, until = parse(change), change["created_at"]
    intervals.append((min(created, until), until, value))
    return intervals[::-1]


def sprint_set(text) -> frozenset:
    return frozenset(int(p) for p in (text or "").replace("[", "").replace("]", "").replace('"', "").split(",")
                     if p.strip())


def committed_by_hand(conn) -> dict[int, tuple[int, float]]:
    """Issues (and their points) in each started sprint at its start_at, from the raw rows, in Python."""
    # an issue is its id (a move changes the key); its changelog is the one fetched with its newest row
    issues = newest(fetch(conn, "select * from raw_jira_issues"), ("issue_id",))
    fetched_with = {(i["key"], i["partition_date"]): issue_id for (issue_id,), i in issues.items()}
    changelog = defaultdict(list)
    for c in fetch(conn, "select * from raw_jira_changelog where field in ('sprint', 'story_points')"):
        issue_id = fetched_with.get((c["issue_key"], c["partition_date"]))
        if issue_id is not None:
            changelog[(issue_id, c["field"])].append(c)
    sprints = {s["sprint_id"]: s for s in newest(fetch(conn, "select * from raw_jira_sprints"), ("sprint_id",)).values()}
    completions = defaultdict(list)
    for s in sprints.values():
        if s["completed_at"]:
            completions[s["board_id"]].append(s["completed_at"])

    def snapped(at: datetime, sprint_id: int) -> datetime:
        """An entry logged up to 60 s after a completion on the sprint's board happened at that completion."""
        board = sprints[sprint_id]["board_id"] if sprint_id in sprints else None
        hits = [c for c in completions.get(board, []) if c < at and (at - c).total_seconds() <= GRACE_SECONDS]
        return max(hits) if hits else at

    committed: dict[int, tuple[int, float]] = {}
    for (key,), issue in issues.items():
        if issue["is_subtask"]:
            continue
        membership = value_intervals(issue["created_at"], sprint_set(issue["sprint_ids"]),
                                     changelog[(key, "sprint")], lambda c: sprint_set(c["from_value"]))
        points = value_intervals(issue["created_at"], issue["story_points"], changelog[(key, "story_points")],
                                 lambda c: float(c["from_string"] or c["from_value"]) if (c["from_string"] or c["from_value"]) else None)
        for sprint_id, sprint in sprints.items():
            start = sprint["start_at"]
            if start is None:
                continue
            # spans of membership of this sprint (contiguous intervals merged), entry snapped to completions
            spans, current = [], None
            for valid_from, valid_to, value in membership:
                if sprint_id in value:
                    current = [current[0], valid_to] if current else [valid_from, valid_to]
                elif current:
                    spans.append(current)
                    current = None
            if current:
                spans.append(current)
            if any(snapped(entered, sprint_id) <= start < left for entered, left in spans):
                at_start = next((v for f, t, v in points if f <= start < t), None)
                n, total = committed.get(sprint_id, (0, 0.0))
                committed[sprint_id] = (n + 1, total + (at_start or 0.0))
    return committed


def test_marts_match_values_recomputed_from_raw_rows(built):
    conn, config = built
    overrides = config["deployments"].get("repos", {})
    merge_repos = {r for r in config["github"]["repos"] if overrides.get(r, {}).get("source", "merge") == "merge"}
    bots = {b.lower() for b in config.get("bots", [])}

    prs = newest(fetch(conn, "select * from raw_github_pull_requests"), ("repo", "number"))
    commits = fetch(conn, "select * from raw_github_commits")
    first_commit: dict[tuple, datetime] = {}
    for c in commits:
        pr = prs.get((c["repo"], c["pr_number"]))
        if pr is not None and c["partition_date"] == pr["partition_date"]:  # children of the newest fetch
            k = (c["repo"], c["pr_number"])
            first_commit[k] = min(first_commit.get(k, c["authored_at"]), c["authored_at"])

    # Deployments (merge source) = PRs merged into the default branch, per repo and merge day;
    # lead time = merged_at - first commit, negatives excluded; p50 = the median.
    deployments: dict[tuple, int] = defaultdict(int)
    lead_times: dict[tuple, list[float]] = defaultdict(list)
    opened: dict[tuple, int] = defaultdict(int)
    for (repo, number), pr in prs.items():
        is_bot = pr["author_type"] == "Bot" or (pr["author_login"] or "").lower().endswith("[bot]") \
            or (pr["author_login"] or "").lower() in bots
        if not is_bot:
            opened[(repo, pr["created_at"].date())] += 1
        if repo in merge_repos and pr["merged_at"] and pr["base_branch"] == pr["default_branch"]:
            day = pr["merged_at"].date()
            deployments[(repo, day)] += 1
            if (repo, number) in first_commit:
                lead = hours(first_commit[(repo, number)], pr["merged_at"])
                if lead >= 0:
                    lead_times[(repo, day)].append(lead)

    dora = {(r["repo"], r["date"]): r for r in fetch(conn, "select * from mv_dora_by_repo_day")}
    flow = {(r["repo"], r["date"]): r for r in fetch(conn, "select * from mv_flow_by_repo_day")}
    days = sorted({d for _, d in dora})
    assert days == [START, date(2026, 3, 30), END]          # dense over the ingested partitions
    assert len(dora) == len(config["github"]["repos"]) * 3
    checked_lead_times = 0
    for repo in sorted(merge_repos):
        for day in days:
            assert dora[(repo, day)]["deployments"] == deployments[(repo, day)], (repo, day)
            if lead_times[(repo, day)]:
                checked_lead_times += 1
                assert dora[(repo, day)]["lead_time_p50_hours"] == pytest.approx(
                    statistics.median(lead_times[(repo, day)])), (repo, day)
    for repo in config["github"]["repos"]:
        for day in days:
            assert flow[(repo, day)]["opened_prs"] == opened[(repo, day)], (repo, day)
    assert sum(deployments[(r, d)] for r in merge_repos for d in days) > 0
    assert checked_lead_times > 0

    # Jira: blocked now = current status name contains "blocked" or Flagged set; resolved per team-day.
    issues = newest(fetch(conn, "select * from raw_jira_issues"), ("issue_id",))
    blocked_now = {i["key"] for i in issues.values() if "blocked" in (i["status_name"] or "").lower() or i["flagged"]}
    marts_blocked = {r["issue_key"] for r in fetch(conn, "select issue_key from fct_jira_issues where is_blocked")}
    assert marts_blocked == blocked_now
    project_team = {p: team for team, spec in config["teams"].items() for p in spec.get("jira_projects", [])}
    resolved: dict[tuple, int] = defaultdict(int)
    for i in issues.values():
        if i["resolved_at"] and not i["is_subtask"] and i["resolved_at"].date() in days:
            resolved[(project_team[i["project_key"]], i["resolved_at"].date())] += 1
    planning = {(r["team"], r["date"]): r["resolved_issues"]
                for r in fetch(conn, "select team, date, resolved_issues from mv_planning_by_team_day")}
    assert {k: v for k, v in planning.items() if v} == dict(resolved)
    assert sum(resolved.values()) > 0

    # Sprint commitment: issues in each sprint at its start, and their points then.
    by_hand = committed_by_hand(conn)
    marts = {r["sprint_id"]: (r["committed_issues"], r["committed_points"])
             for r in fetch(conn, "select * from mv_planning_by_sprint where start_at is not null")}
    assert {k: (n, pytest.approx(p)) for k, (n, p) in by_hand.items()} == {k: v for k, v in marts.items() if v[0]}
    assert sum(n for n, _ in by_hand.values()) > 0
