"""Long backfills pace themselves (issue 22 item 4): the GitHub ingestion waits for the mock GitHub's rate
limit to reset -- a small budget with a short window stands in for GitHub's 5,000 points an hour -- logging
and recording "waiting until HH:MM UTC for GitHub's rate limit", keeps a reserve of the budget for the hourly
refresh, and stops with a message naming EMD_RATE_LIMIT_MAX_WAIT_S when the reset is beyond the ceiling,
keeping the days it already wrote."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetsDefinition, DagsterInstance, materialize

from emd.http import MAX_WAIT_ENV, RESERVE_ENV, ApiError, RateLimitPacing
from mock_apis.server import MockApi
from orchestration.defs.github.definitions import github_defs
from orchestration.partitions import is_backfill
from orchestration.resources import ProjectConfigResource, WarehouseResource

FIRST, LAST = "2026-03-16", "2026-03-18"  # a three-day backfill (the org's last day is 2026-03-31)


def backfill_pull_requests(instance: DagsterInstance, first: str = FIRST, last: str = LAST) -> Any:
    """The GitHub pull-request asset over first..last in one run, as a multi-day backfill runs it."""
    defs = github_defs()
    assets = [a for a in (defs.assets or []) if isinstance(a, AssetsDefinition) and "raw_github_pull_requests"
              in {k.path[-1] for k in a.keys}]
    resources = {**(defs.resources or {}), "project_config": ProjectConfigResource(), "warehouse": WarehouseResource()}
    return materialize(assets, resources=resources, raise_on_error=False, instance=instance,
                       tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})


def days_written(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return [str(r[0]) for r in conn.execute(
            "select distinct partition_date from raw_github_pull_requests order by 1").fetchall()]


def test_a_backfill_waits_for_the_reset_and_keeps_a_reserve(mock_env: MockApi, warehouse_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # 6 points a window of 2 s; a backfill keeps ceil(0.5 * 6) = 3 of them for the hourly refresh.
    mock_env.state.github_rate_limit, mock_env.state.github_rate_window_s = 6, 2.0
    monkeypatch.setenv(RESERVE_ENV, "0.5")
    monkeypatch.setenv(MAX_WAIT_ENV, "30")
    instance = DagsterInstance.ephemeral()
    result = backfill_pull_requests(instance)
    assert result.success
    assert days_written(warehouse_path) == ["2026-03-16", "2026-03-17", "2026-03-18"]
    meta = {ev.asset_key.path[-1]: ev.step_materialization_data.materialization.metadata
            for ev in result.get_asset_materialization_events()}["raw_github_pull_requests"]
    waiting = meta["rate_limit_waiting"].value
    assert waiting.startswith("waiting until ") and waiting.endswith(" UTC for GitHub's rate limit"), waiting
    assert meta["rate_limit_waits"].value >= 1
    logged = [e.user_message for e in instance.all_logs(result.run_id) if "waiting until" in e.user_message]
    assert logged, "the wait is in the run's log"
    counts = mock_env.state.counts
    # It waited before the budget ran out: GitHub never had to refuse a request, and the reserve was never spent.
    assert counts.get("github:rate_limited", 0) == 0
    assert counts["github:graphql"] >= 3


def test_a_reset_beyond_the_ceiling_stops_the_run_and_keeps_the_days_written(
        mock_env: MockApi, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first day costs 5 points (two queries, 4 + 1), the next ones 4 each (one query). A budget of 8 an
    # hour: the second day's query spends it (9 > 8; GitHub lets a query that starts within the budget
    # finish), and with a ceiling of 5 s the third day cannot wait for the reset.
    mock_env.state.github_rate_limit, mock_env.state.github_rate_window_s = 8, 3600.0
    monkeypatch.setenv(RESERVE_ENV, "0")
    monkeypatch.setenv(MAX_WAIT_ENV, "5")
    result = backfill_pull_requests(DagsterInstance.ephemeral())
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.cause.message if failure.step_failure_data.error.cause else \
        failure.step_failure_data.error.message
    assert "longer than EMD_RATE_LIMIT_MAX_WAIT_S (5s)" in message, message
    written = days_written(warehouse_path)
    assert written == [FIRST, "2026-03-17"]


def test_only_a_backfill_keeps_the_reserve() -> None:
    now = datetime(2026, 3, 31, 0, 30, tzinfo=UTC)
    assert not is_backfill(["2026-03-30", "2026-03-31"], now)  # the hourly refresh: yesterday and today
    assert is_backfill(["2026-03-29"], now)
    assert RateLimitPacing(reserve=0.2).kept(5000) == 1000


def test_a_malformed_ceiling_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_WAIT_ENV, "an hour")
    with pytest.raises(ApiError, match="EMD_RATE_LIMIT_MAX_WAIT_S='an hour' is not a number"):
        RateLimitPacing.from_env()
