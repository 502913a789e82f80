"""Malformed inputs (issue 6): each gives a clear message that names what to fix, or is handled, and the
run's other data lands. (Unicode in titles and the changelog longer than any page are checked on the
clean build in test_resilience_pipeline.py.)"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests
import yaml

from mock_apis.jira_data import jira_data
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockApi
from orchestration.cli import main as emd
from orchestration.pipeline import INGESTION_JOB, MARTS_JOB, PipelineError, run_pipeline

DAY = date(2026, 3, 23)
GITHUB_TABLES = ("raw_github_pull_requests", "raw_github_reviews", "raw_github_commits", "raw_github_timeline_events")
JIRA_TABLES = ("raw_jira_issues", "raw_jira_changelog", "raw_jira_statuses")


def rows_of_day(path: Path, table: str, day: date = DAY) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"select count(*) from {table} where partition_date = ?", [day]).fetchone()[0]  # noqa: S608


def edit_config(path: Path, change) -> None:
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@pytest.mark.parametrize(("change", "names"), [
    (lambda c: c.update(teamz={"web": {}}), ["teamz", "is not a known key"]),
    (lambda c: c["github"].update(repoz=["acme/api"]), ["github.repoz", "is not a known key"]),
    (lambda c: c["teams"]["web"]["repos"].append("acme/no-such-repo"),
     ["teams.web.repos", "acme/no-such-repo", "not listed under github.repos"]),
], ids=["unknown-top-level-key", "unknown-nested-key", "team-names-unknown-repo"])
def test_a_bad_config_stops_the_run_with_the_key_and_the_file(mock_env: MockApi, config_path: Path,
                                                              warehouse_path: Path, change, names,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    edit_config(config_path, change)
    code = emd(["pipeline", "--start", DAY.isoformat(), "--end", DAY.isoformat()])
    err = capsys.readouterr().err
    assert code == 1
    for text in [str(config_path), *names]:
        assert text in err, err
    assert "Traceback" not in err
    # Nothing was fetched or written with a config that means something else than the user thinks.
    counts = requests.get(mock_env.url + "/_mock/counts", timeout=10).json()
    assert not any(k.startswith(("github:", "jira:")) for k in counts), counts
    assert not warehouse_path.exists() or all(
        rows_of_day(warehouse_path, t) == 0 for t in GITHUB_TABLES if _exists(warehouse_path, t))


def _exists(path: Path, table: str) -> bool:
    with duckdb.connect(str(path), read_only=True) as conn:
        return bool(conn.execute("select count(*) from information_schema.tables where table_name = ?",
                                 [table]).fetchone()[0])


@pytest.mark.parametrize("field", ["mergedAt", "author", "committedDate"])
def test_a_github_answer_missing_a_field_names_it_and_jira_still_lands(mock_env: MockApi, warehouse_path: Path,
                                                                       field: str) -> None:
    # A PR's mergedAt or author is legitimately null (not merged, deleted user); a *missing* key means the
    # API changed shape, and storing NULL would silently turn merged PRs into unmerged ones.
    requests.post(mock_env.url + "/_mock/switch", json={"github_payload_drop": field}, timeout=10)
    with pytest.raises(PipelineError) as failure:
        run_pipeline(DAY, DAY, steps=(INGESTION_JOB,), log=lambda _: None)
    message = str(failure.value)
    assert f"`{field}`" in message and "pull request acme/" in message and DAY.isoformat() in message
    for table in GITHUB_TABLES:
        assert rows_of_day(warehouse_path, table) == 0  # nothing half-written
    for table in JIRA_TABLES:
        assert rows_of_day(warehouse_path, table) > 0, table  # the day's other data landed


def test_a_jira_answer_missing_a_field_names_it_and_github_still_lands(mock_env: MockApi,
                                                                       warehouse_path: Path) -> None:
    requests.post(mock_env.url + "/_mock/switch", json={"jira_payload_bug": "status_without_category"}, timeout=10)
    with pytest.raises(PipelineError) as failure:
        run_pipeline(DAY, DAY, steps=(INGESTION_JOB,), log=lambda _: None)
    assert "field `statusCategory.key` is missing or malformed" in str(failure.value)
    assert "Jira status" in str(failure.value)
    for table in JIRA_TABLES:
        assert rows_of_day(warehouse_path, table) == 0
    for table in GITHUB_TABLES:
        assert rows_of_day(warehouse_path, table) > 0, table


@pytest.fixture
def today_org() -> SyntheticOrg:
    """Anchored today: future sprints (no start or end date) are fetched only for today's partition."""
    return SyntheticOrg(seed=7, anchor=datetime.now(UTC).date())


def test_a_sprint_without_dates_lands_and_the_marts_build(tmp_path: Path, today_org: SyntheticOrg,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from mock_apis.server import MockState

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(today_org.config(), sort_keys=False), encoding="utf-8")
    warehouse = tmp_path / "warehouse.duckdb"
    today = today_org.anchor
    undated = sorted(s.id for s in jira_data(today_org).sprints.values() if s.start is None and s.end is None)
    assert undated  # the org has future sprints without dates
    with MockApi(MockState(org=today_org)) as api:
        for key, value in api.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("EMD_CONFIG", str(config))
        monkeypatch.setenv("DATABASE_URL", f"duckdb:///{warehouse}")
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        run_pipeline(today - timedelta(days=1), today, steps=(INGESTION_JOB, MARTS_JOB), log=lambda _: None)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        raw = conn.execute("select sprint_id from raw_jira_sprints where partition_date = ? and start_at is null "
                           "and end_at is null order by 1", [today]).fetchall()
        marts = conn.execute("select sprint_id, state, committed_issues from mv_planning_by_sprint "
                             "where start_at is null order by 1").fetchall()
        others = conn.execute("select count(*) from mv_planning_by_sprint where start_at is not null").fetchone()[0]
    assert [r[0] for r in raw] == undated
    # Future sprints are in the mart, not yet started: nothing committed, and the dated sprints are there too.
    assert [(r[0], r[1]) for r in marts] == [(s, "future") for s in undated]
    assert all(r[2] in (0, None) for r in marts)
    assert others > 0
