"""Sprint Health on a Postgres warehouse: the same hand-made marts, the same cards, Slack columns kept on rewrite."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from emd.settings import parse_database_url
from emd.sprint_health import read_rows, record_post
from emd.warehouse import Warehouse
from orchestration.defs.insights.cache import write_cards
from orchestration.defs.insights.card import CardWriter, fallback_card
from tests.fixtures.insights import NOW, build_marts, sprint4_blob
from tests.fixtures.marts import MART_DDL

pytestmark = pytest.mark.postgres
DDL = {t: MART_DDL[t] for t in ("fct_pull_requests", "fct_deployments", "mv_planning_by_sprint")}


@pytest.fixture
def marts_url(postgres_url: str, tmp_path: Path) -> str:
    """A schema of its own (conftest's `postgres_url`) with the marts of tests/fixtures/insights.py."""
    import psycopg

    source = duckdb.connect(str(build_marts(tmp_path / "marts.duckdb")), read_only=True)
    with psycopg.connect(postgres_url) as conn:
        for table, ddl in DDL.items():
            conn.execute(f"create table {table} ({ddl})")
            rows = source.execute(f"select * from {table}").fetchall()  # noqa: S608 - fixture table names
            marks = ", ".join(["%s"] * len(rows[0]))
            with conn.cursor() as cur:
                cur.executemany(f"insert into {table} values ({marks})", rows)  # noqa: S608
    source.close()
    return postgres_url


def test_cards_on_postgres_match_duckdb(marts_url: str, tmp_path: Path) -> None:
    wh = Warehouse(parse_database_url(marts_url))
    figures = write_cards(wh, ["platform", "data"], CardWriter(None), NOW)
    assert (figures["cards_total"], figures["cards_written"]) == (8, 8)
    rows = read_rows(wh)
    s4 = rows[("platform", "sprint", "104")]
    blob = sprint4_blob(build_marts(tmp_path / "again.duckdb"))
    assert json.loads(s4.metrics_json) == blob  # the same numbers from either warehouse
    assert json.loads(s4.card_json) == fallback_card(blob)
    record_post(wh, s4.key, "C0MOCKCHAN", "1774000000.000100", "{}", datetime(2026, 4, 1, 9, 0))
    again = write_cards(wh, ["platform", "data"], CardWriter(None), NOW)
    assert again["cache_hits"] == 8
    assert read_rows(wh)[s4.key].slack_ts == "1774000000.000100"
