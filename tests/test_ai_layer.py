"""The AI-assisted work layer (emd/metrics/ai.py) over the hand-made marts of tests/fixtures/marts.py (AI_SIGNALS,
ADOPTION, mv_ai_deployments), on DuckDB and Postgres. Every expected value is computed by hand from those rows
and docs/metrics.md "AI-assisted work"."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from emd.metrics import ai, tiles
from emd.metrics.filters import Filters
from emd.metrics.source import Source
from tests.fixtures.marts import (
    build_duckdb_warehouse,
    build_postgres_warehouse,
    columns,
    published_source,
    source_on_engine,
)

WINDOW = Filters(start=date(2026, 3, 2), end=date(2026, 3, 15))


@pytest.fixture(params=["duckdb", "postgres"])
def src(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    return source_on_engine(request, tmp_path, build_duckdb_warehouse, build_postgres_warehouse)


def test_share_and_comparison_of_a_window_where_the_ai_side_is_small(src: Source) -> None:
    impact = ai.ai_impact(src, WINDOW)
    # Merged in the window by people or coding agents: 101 102 103 201 301 (105 is dependabot's): 5; AI: 102 201.
    assert (impact.share, impact.ai_prs, impact.merged_prs) == (pytest.approx(2 / 5), 2, 5)
    assert impact.signals == {"coauthor_trailer": 1, "label": 1}
    got = {c.key: c for c in impact.comparisons}
    assert list(got) == list(ai.MEASURES)
    # cycle: AI 20, 40 -> p50 30; other 10, 30, 100 -> p50 30.
    assert (got["cycle_time_p50_hours"].ai, got["cycle_time_p50_hours"].other) == (ai.Side(30.0, 2), ai.Side(30.0, 3))
    # pickup: AI 3, 8 -> 5.5; other 1, 5 (301 had no review) -> 3.0.
    assert (got["pickup_p50_hours"].ai, got["pickup_p50_hours"].other) == (ai.Side(5.5, 2), ai.Side(3.0, 2))
    # review time: AI 9, 10 -> 9.5; other 8, 5 -> 6.5.
    assert (got["review_time_p50_hours"].ai, got["review_time_p50_hours"].other) == (ai.Side(9.5, 2), ai.Side(6.5, 2))
    # size: AI 30+10=40, 400+100=500 -> 270; other 120, 10, 10 -> 10.
    assert (got["pr_size_p50_lines"].ai, got["pr_size_p50_lines"].other) == (ai.Side(270.0, 2), ai.Side(10.0, 3))
    # rework over closed or merged: AI 102 (reopened), 201 -> 1/2; other 101 103 301 202 (reopened) -> 1/4.
    assert (got["pr_rework_rate"].ai, got["pr_rework_rate"].other) == (ai.Side(0.5, 2), ai.Side(0.25, 4))
    # deployments: d2 (failed) and d5 shipped an AI PR -> 1/2; d1 d3 dbot d4 (failed) d6 (failed) d7 -> 2/6.
    cfr = got["change_failure_rate"]
    assert (cfr.ai.value, cfr.ai.sample_size, cfr.other.sample_size) == (0.5, 2, 6)
    assert cfr.other.value == pytest.approx(2 / 6)
    # The AI side has fewer than 5 everywhere: no difference, no interval.
    assert all(c.difference is None and c.interval is None and not c.comparable for c in impact.comparisons)
    # Copilot adoption, org rows of the window (02-20 is before it).
    assert impact.adoption_scope == "org"
    assert impact.adoption == [ai.AdoptionDay(date(2026, 3, 2), 6, 120, 40), ai.AdoptionDay(date(2026, 3, 3), 4, 80, 30)]


def test_the_share_tile_is_the_layer_share(src: Source) -> None:
    tile = {t.key: t for t in tiles.tiles(src, WINDOW)}["ai_assisted_pr_share"]
    assert (tile.value, tile.sample_size, tile.low_sample) == (pytest.approx(0.4), 5, False)
    # Previous window: 90, 190, 91 merged, none AI-assisted.
    assert tile.previous == 0.0


def test_team_scope_and_small_teams(src: Source) -> None:
    web = ai.ai_impact(src, Filters(team="web", start=WINDOW.start, end=WINDOW.end))
    assert (web.share, web.merged_prs) == (1.0, 1)  # 201 only
    assert web.adoption_scope == "teams" and web.hidden_teams == []
    assert [d.daily_active_users for d in web.adoption] == [3, 2]
    # platform has fewer than 5 people: the mart has no row for it, and nothing is shown.
    platform = ai.ai_impact(src, Filters(team="platform", start=WINDOW.start, end=WINDOW.end))
    assert (platform.adoption, platform.adoption_scope, platform.hidden_teams) == ([], "none", ["platform"])
    assert platform.ai_prs == 1 and platform.merged_prs == 3  # 102 of 101 102 103


def _pr(number: int, ai_signal: str | None, cycle: float, pickup: float) -> tuple[object, ...]:
    merged = datetime(2026, 4, 1, 12, 0)
    return (f"PR_x_{number}", "acme/data-pipeline", number, "data", "erin", ai_signal == "agent_author",
            f"Change {number}", "MERGED", "main", "b", merged, merged, merged, merged, merged, merged, None, cycle,
            None, pickup, 0.0, 1.0, 1, 0, 1, 1, 0, False, False, "other", 10, 0, ai_signal is not None, ai_signal,
            ai_signal == "agent_author")


def test_a_difference_needs_five_on_both_sides_and_its_interval_is_seeded(tmp_path: Path) -> None:
    live = tmp_path / "warehouse.duckdb"
    build_duckdb_warehouse(live)
    # 2026-04-01: 5 AI-assisted PRs (one by a coding agent) with cycle 10 h, 5 others with cycle 30 h;
    # pickup AI 1 2 3 4 5 (p50 3), other 2 4 6 8 10 (p50 6).
    extra = [_pr(900 + i, "agent_author" if i == 0 else "label", 10.0, float(i + 1)) for i in range(5)]
    extra += [_pr(950 + i, None, 30.0, float(2 * (i + 1))) for i in range(5)]
    with duckdb.connect(str(live)) as conn:
        conn.executemany(f"insert into fct_pull_requests ({', '.join(columns('fct_pull_requests'))}) "  # noqa: S608 - test fixture
                         f"values ({', '.join('?' * len(extra[0]))})", extra)
    day = Filters(start=date(2026, 4, 1), end=date(2026, 4, 1))
    src = published_source(f"duckdb:///{live}")
    first = {c.key: c for c in ai.ai_impact(src, day).comparisons}
    cycle = first["cycle_time_p50_hours"]
    # Every resample of a constant side has the same median: the interval is the difference itself.
    assert (cycle.ai, cycle.other, cycle.difference, cycle.interval) == (
        ai.Side(10.0, 5), ai.Side(30.0, 5), -20.0, (-20.0, -20.0))
    pickup = first["pickup_p50_hours"]
    assert (pickup.ai.value, pickup.other.value, pickup.difference) == (3.0, 6.0, -3.0)
    assert pickup.interval is not None
    low, high = pickup.interval
    # A resampled median lies within its side's range: AI 1..5, other 2..10 -> difference within [-9, 3].
    assert -9.0 <= low <= -3.0 <= high <= 3.0
    # Seeded: the same question gives the same interval.
    again = {c.key: c for c in ai.ai_impact(src, day).comparisons}
    assert again["pickup_p50_hours"].interval == pickup.interval
    # No deployments that day: both sides empty, no values.
    assert first["change_failure_rate"].ai == ai.Side(None, 0)


def test_percentile_is_linear_interpolation() -> None:
    # 1, 2, 3, 10: position 0.9 * 3 = 2.7 -> 3 + 0.7 * 7 = 7.9
    assert ai.percentile([10, 1, 3, 2], 0.9) == pytest.approx(7.9)
    assert ai.percentile([], 0.5) is None
