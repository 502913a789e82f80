"""The same synthetic org through the whole `emd pipeline` (ingestion per day, dbt build, Sprint Health,
the Slack post, the dashboard) on DuckDB and on PostgreSQL gives the same marts, row by row.

Every mart of docs/metrics.md and sprint_health's deterministic columns are compared table by table: the same
columns in the same order and of the same SQL type, the same keys, and per row the same values of the
same Python type (floats within 1e-9 relative: the engines may add up in another order; timestamps as
naive UTC). Then every dashboard page shows the same tiles and tables from the DuckDB snapshot as from
the live Postgres. A difference is a cross-database bug in a model or a macro (dbt_project/macros)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import ANCHOR

from emd.settings import DatabaseTarget, parse_database_url
from emd.snapshot import MART_TABLES, STORE_TABLES, dashboard_target
from emd.warehouse import Warehouse
from mock_apis.demo_config import write_demo_config
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockState
from orchestration.pipeline import run_pipeline
from tests.fixtures.app import run_app
from tests.fixtures.pipeline import pipeline_environment

pytestmark = pytest.mark.postgres

START, END = ANCHOR - timedelta(days=3), ANCHOR  # four days keep both runs under ~20 s each

# The grain of each table (docs/metrics.md), to sort and match rows by.
KEYS: dict[str, tuple[str, ...]] = {
    "fct_pull_requests": ("repo", "number"),
    "fct_deployments": ("deployment_id",),
    "fct_deployment_teams": ("deployment_id", "team"),
    "fct_jira_issues": ("issue_key",),
    "mv_dora_by_repo_day": ("repo", "date"),
    "mv_flow_by_repo_day": ("repo", "date"),
    "mv_planning_by_sprint": ("sprint_id",),
    "mv_planning_by_team_day": ("team", "date"),
    "metrics_daily": ("scope_level", "org", "team", "repo", "date"),
    "fct_ingested_days": ("source", "date"),
    "fct_failure_signals": ("signal_id",),
    "fct_sprint_issues": ("sprint_id", "issue_key", "role"),
    "fct_pull_request_reviews": ("review_id",),
    "fct_agreement_breaches": ("breach_id",),
    "fct_agreement_subjects": ("team", "rule", "subject_type", "subject_key", "applies_from"),
    "mv_agreement_adherence_by_team_week": ("team", "rule", "week_start"),
    "fct_slo_days": ("slo_name", "date"),
    "fct_slo_deployment_burn": ("deployment_id", "slo_name"),
    "mv_ai_adoption_by_day": ("team", "date"),
    "mv_ai_deployments": ("deployment_id",),
    "sprint_health": ("team", "period_kind", "period_id"),
}
# Wall-clock times of the run itself; everything else in sprint_health (the blob, its hash, the mock
# model's card, the Slack channel, ts and message) follows from the marts.
NOT_DETERMINISTIC = {"sprint_health": {"generated_at", "posted_at"}}
# DuckDB's names of the column types the marts use -> Postgres' (information_schema.columns.data_type).
DUCKDB_TO_POSTGRES_TYPES = {"BIGINT": "bigint", "INTEGER": "integer", "DOUBLE": "double precision", "VARCHAR": "text",
                            "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp without time zone"}
PAGES = (None, "app_pages/delivery.py", "app_pages/flow.py", "app_pages/planning.py", "app_pages/sprint_health.py")


def run_everything(database_url: str, org: SyntheticOrg, config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`emd pipeline` over START..END against a fresh mock (its own Slack message counter)."""
    with pipeline_environment(MockState(org=org), config_path, database_url, monkeypatch):
        run_pipeline(START, END, log=lambda _: None)


def _holding(database_url: str, table: str) -> DatabaseTarget:
    """Where `table` is read: the warehouse, except a DuckDB record-store table (sprint_health), which the live
    file never holds (emd/records.py): it is read from the published build, which copies it as it is stored."""
    target = parse_database_url(database_url)
    return dashboard_target(target) if target.kind == "duckdb" and table in STORE_TABLES else target


def read_table(database_url: str, table: str) -> tuple[list[str], list[tuple]]:
    with Warehouse(_holding(database_url, table)).connect(read_only=True) as conn:
        cursor = conn.execute(f"select * from {table}")  # noqa: S608 - names from KEYS
        return [d[0] for d in cursor.description], cursor.fetchall()


def column_types(database_url: str, table: str) -> list[tuple[str, str]]:
    """(column, type) in the schema the warehouse writes to, DuckDB's type names mapped to Postgres'."""
    warehouse = Warehouse(_holding(database_url, table))
    ph = "?" if warehouse.kind == "duckdb" else "%s"
    rows = warehouse.query("select column_name, data_type from information_schema.columns "  # noqa: S608 - placeholder only
                           f"where table_name = {ph} and table_schema = current_schema() "
                           "and table_catalog = current_database() order by ordinal_position", [table])
    return [(name, DUCKDB_TO_POSTGRES_TYPES.get(kind, kind) if warehouse.kind == "duckdb" else kind)
            for name, kind in rows]


def normalised(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def table_differences(table: str, duck: tuple[list[str], list[tuple]], pg: tuple[list[str], list[tuple]]) -> list[str]:
    (columns, duck_rows), (pg_columns, pg_rows) = duck, pg
    if columns != pg_columns:
        return [f"{table}: columns differ: duckdb {columns} vs postgres {pg_columns}"]
    key_at = [columns.index(k) for k in KEYS[table]]
    skip = NOT_DETERMINISTIC.get(table, set())

    def keyed(rows: list[tuple]) -> dict[tuple, tuple]:
        out = {tuple(normalised(row[i]) for i in key_at): tuple(normalised(v) for v in row) for row in rows}
        assert len(out) == len(rows), f"{table}: duplicate keys {KEYS[table]}"
        return out

    duck_by_key, pg_by_key = keyed(duck_rows), keyed(pg_rows)
    order = sorted(duck_by_key.keys() | pg_by_key.keys(), key=lambda k: tuple((v is None, str(v)) for v in k))
    found = []
    for key in order:
        if key not in pg_by_key or key not in duck_by_key:
            found.append(f"{table} {key}: only on {'duckdb' if key in duck_by_key else 'postgres'}")
            continue
        for name, a, b in zip(columns, duck_by_key[key], pg_by_key[key], strict=True):
            if name not in skip and not same(a, b):
                found.append(f"{table} {key}.{name}: duckdb {a!r} vs postgres {b!r}")
    return found


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """A page's table as the reader sees it: a missing value is blank whether DuckDB's frame holds NaN
    (typed columns) or the Postgres rows hold None (a column with no value at all stays `object`)."""
    return frame.reset_index(drop=True).astype(object).where(frame.reset_index(drop=True).notna(), None)


@pytest.fixture
def both_warehouses(org: SyntheticOrg, config_path: Path, postgres_url: str, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    duckdb_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    # The demo's config (working agreements, Copilot, SLOs), so the agreement, AI and SLO marts have rows too.
    write_demo_config(org, config_path)
    # Postgres sessions (ours, dbt's, the dashboard's) in a time zone other than UTC: nothing may depend on it.
    monkeypatch.setenv("PGTZ", "America/Los_Angeles")
    for url in (duckdb_url, postgres_url):
        run_everything(url, org, config_path, monkeypatch)
    yield duckdb_url, postgres_url


def test_the_same_org_gives_the_same_marts_and_dashboard_on_duckdb_and_postgres(
        both_warehouses: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    duckdb_url, postgres_url = both_warehouses
    assert set(KEYS) == set(MART_TABLES) | {"sprint_health"}
    differences, compared = [], {}
    for table in KEYS:
        duck, pg = read_table(duckdb_url, table), read_table(postgres_url, table)
        compared[table] = (len(duck[1]), len(pg[1]))
        duck_types, pg_types = column_types(duckdb_url, table), column_types(postgres_url, table)
        assert (len(duck_types), len(pg_types)) == (len(duck[0]), len(pg[0])), table
        differences += [f"{table}.{d[0]}: type duckdb {d[1]} vs postgres {p[1]}"
                        for d, p in zip(duck_types, pg_types, strict=False) if d != p]
        differences += table_differences(table, duck, pg)
    assert not differences, f"{len(differences)} differences:\n" + "\n".join(differences[:40])
    # Every table has rows to compare (a 4-day window still has PRs, deployments, issues, a sprint, a card).
    assert all(n > 0 for n, _ in compared.values()), compared
    posted = read_table(postgres_url, "sprint_health")
    assert any(row[posted[0].index("slack_ts")] for row in posted[1]), "the Slack post was recorded on Postgres"

    # The dashboard: the DuckDB snapshot and the live Postgres database show the same tiles and tables.
    window = {"start": START.isoformat(), "end": END.isoformat()}
    pages: dict[str, list] = {}
    for url in (duckdb_url, postgres_url):
        monkeypatch.setenv("DATABASE_URL", url)
        pages[url] = [run_app(window, page=page) for page in PAGES]
    tables = 0
    for page, duck_app, pg_app in zip(PAGES, pages[duckdb_url], pages[postgres_url], strict=True):
        assert [(m.label, m.value, m.delta) for m in duck_app.metric] == \
            [(m.label, m.value, m.delta) for m in pg_app.metric], page
        assert len(duck_app.dataframe) == len(pg_app.dataframe), page
        for duck_frame, pg_frame in zip(duck_app.dataframe, pg_app.dataframe, strict=True):
            tables += 1
            pd.testing.assert_frame_equal(shown(duck_frame.value), shown(pg_frame.value), check_dtype=False,
                                          check_exact=False, rtol=1e-9, obj=str(page))
    assert len(pages[postgres_url][0].metric) > 5 and tables > 3
    # The DuckDB snapshot is published after the Slack post, so its card says it was posted, as on Postgres.
    posted_captions = {url: [c.value for c in pages[url][-1].caption if "posted to Slack" in c.value]
                       for url in (duckdb_url, postgres_url)}
    assert posted_captions[duckdb_url] and len(posted_captions[duckdb_url]) == len(posted_captions[postgres_url])
