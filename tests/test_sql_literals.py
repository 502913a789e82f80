"""Literals that look like syntax: a `?` or `%` inside a string literal on Postgres (the layer writes `?`
placeholders and rewrites them for psycopg), and a quote in the DuckDB warehouse's folder name (DuckDB's ATTACH
takes no bound parameter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emd.metrics.source import Source, postgres_sql, rows
from emd.settings import parse_database_url
from emd.warehouse import Warehouse


def test_only_placeholders_outside_literals_are_rewritten() -> None:
    assert postgres_sql("select ? as a, '?' as b, \"we?ird\" as c -- why?\nfrom t where x like 'a%' and y = ?") == (
        "select %s as a, '?' as b, \"we?ird\" as c -- why?\nfrom t where x like 'a%%' and y = %s")
    assert postgres_sql("select 'it''s ?', ? /* ? */") == "select 'it''s ?', %s /* ? */"


@pytest.mark.postgres
def test_a_literal_question_mark_and_percent_reach_postgres_intact(postgres_url: str) -> None:
    source = Source(kind="postgres", label="test", key="test", build_id="live", published_at=None,
                    tables=frozenset(), url=postgres_url)
    found = rows(source, "select ? as bound, 'why?' as asked, '100%' as pct, 'it''s ? %' as quoted", ["yes"])
    assert found == [{"bound": "yes", "asked": "why?", "pct": "100%", "quoted": "it's ? %"}]


def test_a_quote_in_the_warehouse_folder_does_not_break_a_chunked_write(tmp_path: Path) -> None:
    folder = tmp_path / "o'brien's data"
    warehouse = Warehouse(parse_database_url(f"duckdb:///{folder / 'warehouse.duckdb'}"))
    table = "raw_jira_statuses"
    chunks = iter([{table: [{"status_id": "1", "name": "To Do", "category": "new", "payload": "{}"}]},
                   {table: [{"status_id": "2", "name": "Done", "category": "done", "payload": "{}"}]}])
    assert warehouse.replace_partitions_chunked([table], chunks, "2026-04-01") == {table: 2}  # staged + ATTACH
    assert sorted(r[0] for r in warehouse.query(f"select name from {table}")) == ["Done", "To Do"]  # noqa: S608
