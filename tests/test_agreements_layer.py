"""emd.metrics.agreements on a published DuckDB build and on Postgres, with the hand-made marts of
tests/fixtures/agreements.py (expected values computed by hand there)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from emd.metrics import agreements, source
from emd.metrics.filters import Filters
from emd.metrics.source import Source
from emd.settings import parse_database_url
from tests.fixtures.agreements import DDL, build_duckdb_agreements, build_postgres_agreements
from tests.fixtures.marts import source_on_engine

WINDOW = Filters(start=date(2026, 3, 2), end=date(2026, 3, 15))
DBT_MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models"


@pytest.fixture(params=["duckdb", "postgres"])
def src(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    return source_on_engine(request, tmp_path, build_duckdb_agreements, build_postgres_agreements)


def by_rule(found: list[agreements.Adherence]) -> dict[str, agreements.Adherence]:
    return {a.rule: a for a in found}


def test_adherence_over_the_window_and_the_previous_one(src: Source) -> None:
    assert agreements.available(src)
    now = by_rule(agreements.adherence(src, WINDOW))
    review, wip = now["first_review_within_hours"], now["wip_max_issues"]
    assert (review.applied, review.breached, review.rate, review.is_proposed) == (4, 2, 0.5, False)
    assert (wip.applied, wip.breached, wip.rate, wip.is_proposed) == (336, 42, 0.875, True)
    before = by_rule(agreements.adherence(src, WINDOW.previous()))
    assert (before["first_review_within_hours"].applied, before["first_review_within_hours"].rate) == (1, 0.0)
    assert (before["wip_max_issues"].applied, before["wip_max_issues"].rate) == (0, None)  # no evaluations: no rate


def test_each_weeks_window_agrees_with_the_weekly_mart(src: Source) -> None:
    weekly = agreements.weekly_adherence(src, WINDOW)
    assert [(r["rule"], r["week_start"], r["adherence_pct"]) for r in weekly] == [
        ("first_review_within_hours", date(2026, 3, 2), 50.0),
        ("first_review_within_hours", date(2026, 3, 9), pytest.approx(200 / 3)),
        ("wip_max_issues", date(2026, 3, 2), 75.0), ("wip_max_issues", date(2026, 3, 9), 100.0)]
    assert weekly[0]["label"] == "First review within 8 working hours"
    for row in weekly:
        monday = datetime.combine(row["week_start"], datetime.min.time())
        week = by_rule(agreements.adherence(src, WINDOW, monday, monday + timedelta(days=7)))[row["rule"]]
        assert (week.applied, week.breached) == (row["applied_items"], row["breached_items"]), row


def test_team_filter_and_breaches(src: Source) -> None:
    assert agreements.adherence(src, Filters(team="web", start=WINDOW.start, end=WINDOW.end)) == []
    found = agreements.breaches(src, WINDOW)
    assert [b["subject_key"] for b in found] == ["acme/api#3", "acme/api#2", "platform"]


def test_fixture_columns_are_the_marts_columns() -> None:
    documented: dict[str, list[str]] = {}
    for path in (DBT_MODELS / "marts" / "agreements").glob("_agreements__models.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8"))["models"]:
            documented[model["name"]] = [c["name"] for c in model["columns"]]
    for table, ddl in DDL.items():
        assert [part.split()[0] for part in ddl.split(",")] == documented[table], table


def test_sprint_health_blob_gains_each_agreed_rules_adherence(tmp_path: Path) -> None:
    from orchestration.defs.insights.blob import add_agreements

    live = tmp_path / "warehouse.duckdb"
    build_duckdb_agreements(live)
    blob = {"team": "platform", "period": {"kind": "week", "start": "2026-03-02T00:00:00", "end": "2026-03-16T00:00:00"},
            "previous_periods": [{"id": "p", "start": "2026-02-16T00:00:00", "end": "2026-03-02T00:00:00"}]}
    other = {**blob, "team": "web"}
    with source.reading(parse_database_url(f"duckdb:///{live}")) as live_source:  # as the Sprint Health asset reads
        add_agreements(blob, live_source)
        add_agreements(other, live_source)
    # 2 of 4 PRs held in the period, 0 of 1 in the one before; the proposed WIP rule is not in the card
    assert blob["agreements"] == {"first_review_within_hours": {
        "label": "First review within 8 working hours", "threshold": 8.0, "sample_of": "PRs",
        "held_rate": 0.5, "held": 2, "sample_size": 4, "previous": [0.0]}}
    assert "agreements" not in other  # a team without agreements: its blob (and cached card) is unchanged
