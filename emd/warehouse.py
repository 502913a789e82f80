"""The warehouse: a DuckDB file by default, PostgreSQL when DATABASE_URL says so.

The raw tables below are the contract between ingestion and dbt. Every raw table carries
`partition_date` (the UTC day partition it was fetched for), `fetched_at` and `payload` (the entity's
JSON as the API returned it, so models can be rebuilt without refetching). Timestamps are stored as
naive UTC `timestamp`s.

A partition is written with `replace_partition`: delete the partition's rows and insert the new ones
in one transaction, so a failed or killed run leaves the previous rows, and a re-run gives the same rows.
The same transaction records the partition in `raw_ingested_partitions` (table, source, day, fetch time,
row count), so a day on which a source reported nothing is still an ingested day (dbt's calendar reads it).

DuckDB allows one writing process per file. The Dagster instance settings (dagster.yaml, pool `warehouse`)
keep writers apart; `connect` also waits briefly for a lock another process holds (a sensor reading, a
developer's shell) before it fails with a message that says so.

`replace_partitions_chunked` does the same with rows that arrive in chunks (a huge day is fetched and
inserted a page at a time inside the one transaction, so it never sits in memory whole).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from emd.settings import DatabaseTarget, database_target, database_url_secrets, redact

_COMMON = [("partition_date", "date"), ("fetched_at", "timestamp")]

RAW_TABLES: dict[str, list[tuple[str, str]]] = {
    "raw_github_pull_requests": _COMMON + [
        ("repo", "text"), ("number", "integer"), ("pr_id", "text"), ("url", "text"), ("title", "text"),
        ("author_login", "text"), ("author_type", "text"),  # author_type: User | Bot | ... (GraphQL __typename)
        ("state", "text"),  # OPEN | CLOSED | MERGED
        ("is_draft", "boolean"), ("base_branch", "text"), ("head_branch", "text"), ("default_branch", "text"),
        ("labels", "text"),  # JSON array of label names
        ("additions", "integer"), ("deletions", "integer"), ("changed_files", "integer"),
        ("commit_count", "integer"), ("review_count", "integer"),
        ("created_at", "timestamp"), ("updated_at", "timestamp"), ("closed_at", "timestamp"),
        ("merged_at", "timestamp"), ("merge_commit_sha", "text"), ("payload", "text"),
    ],
    "raw_github_reviews": _COMMON + [
        ("repo", "text"), ("pr_number", "integer"), ("review_id", "text"), ("author_login", "text"),
        ("author_type", "text"),
        ("state", "text"),  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
        ("submitted_at", "timestamp"), ("created_at", "timestamp"), ("comment_count", "integer"),
        ("payload", "text"),
    ],
    "raw_github_commits": _COMMON + [
        ("repo", "text"), ("pr_number", "integer"), ("oid", "text"), ("authored_at", "timestamp"),
        ("committed_at", "timestamp"), ("author_login", "text"), ("payload", "text"),
    ],
    "raw_github_timeline_events": _COMMON + [
        ("repo", "text"), ("pr_number", "integer"), ("event_id", "text"),
        ("event_type", "text"),  # ReadyForReviewEvent | ConvertToDraftEvent | ReopenedEvent | ClosedEvent | MergedEvent
        ("actor_login", "text"), ("created_at", "timestamp"), ("payload", "text"),
    ],
    "raw_github_releases": _COMMON + [
        ("repo", "text"), ("release_id", "text"), ("tag_name", "text"), ("name", "text"),
        ("is_draft", "boolean"), ("is_prerelease", "boolean"), ("created_at", "timestamp"),
        ("published_at", "timestamp"), ("payload", "text"),
    ],
    "raw_github_deployments": _COMMON + [
        ("repo", "text"), ("deployment_id", "text"), ("environment", "text"), ("sha", "text"),
        ("ref", "text"), ("created_at", "timestamp"),
        ("latest_status", "text"),  # state of the newest status, lower case: success | failure | ...
        ("latest_status_at", "timestamp"), ("payload", "text"),
    ],
    "raw_github_workflow_runs": _COMMON + [
        ("repo", "text"), ("run_id", "bigint"), ("workflow", "text"),  # workflow: the configured file name or id
        ("workflow_path", "text"), ("name", "text"), ("head_branch", "text"), ("head_sha", "text"),
        ("default_branch", "text"), ("event", "text"), ("status", "text"), ("conclusion", "text"),
        ("run_number", "integer"), ("run_attempt", "integer"), ("created_at", "timestamp"),
        ("updated_at", "timestamp"), ("run_started_at", "timestamp"), ("payload", "text"),
    ],
    "raw_github_issues": _COMMON + [  # issues carrying a configured incident label
        ("repo", "text"), ("number", "integer"), ("issue_id", "text"), ("title", "text"),
        ("state", "text"),  # OPEN | CLOSED
        ("labels", "text"),  # JSON array of label names
        ("created_at", "timestamp"), ("updated_at", "timestamp"), ("closed_at", "timestamp"), ("payload", "text"),
    ],
    "raw_github_codeowners": _COMMON + [  # the CODEOWNERS rules of each repo's default branch at fetch time
        ("repo", "text"), ("file_path", "text"),  # which of .github/CODEOWNERS, CODEOWNERS, docs/CODEOWNERS (NULL: none)
        ("rule_index", "integer"),  # 0: the file marker row (no pattern); 1..n: rules in file order
        ("pattern", "text"), ("path_regex", "text"),  # path_regex: the pattern as a POSIX regex over repo paths
        ("owner_index", "integer"),  # one row per owner of the rule, in order (0 and NULL owner: no owners)
        ("owner", "text"),  # lower case, without `@`: org/team-slug, a user login or an email
    ],
    "raw_github_pull_request_files": _COMMON + [
        ("repo", "text"), ("pr_number", "integer"), ("path", "text"), ("additions", "integer"),
        ("deletions", "integer"),
    ],
    "raw_github_copilot_org_days": _COMMON + [  # GitHub Copilot's organization 1-day usage report
        ("day", "date"), ("organization_id", "text"), ("daily_active_users", "integer"),
        ("weekly_active_users", "integer"), ("monthly_active_users", "integer"),
        ("user_initiated_interaction_count", "bigint"), ("code_generation_activity_count", "bigint"),
        ("code_acceptance_activity_count", "bigint"), ("payload", "text"),
    ],
    "raw_github_copilot_user_days": _COMMON + [  # its users 1-day report: one row per active user and day
        ("day", "date"), ("user_login", "text"), ("user_id", "bigint"),
        ("user_initiated_interaction_count", "bigint"), ("code_generation_activity_count", "bigint"),
        ("code_acceptance_activity_count", "bigint"), ("payload", "text"),
    ],
    "raw_pagerduty_incidents": _COMMON + [
        ("incident_id", "text"), ("incident_number", "bigint"), ("title", "text"),
        ("status", "text"),  # triggered | acknowledged | resolved
        ("urgency", "text"), ("service_id", "text"), ("service_name", "text"), ("created_at", "timestamp"),
        ("updated_at", "timestamp"), ("resolved_at", "timestamp"), ("payload", "text"),
    ],
    # One row per SLO and day: the day's good (or bad) and total events from Prometheus (emd/slos.py), or
    # NULLs when the queries returned no series ("no data", not 100%).
    "raw_slo_events": _COMMON + [
        ("slo_name", "text"), ("service", "text"), ("team", "text"), ("target", "double precision"),
        ("window_days", "integer"), ("good", "double precision"), ("bad", "double precision"),
        ("total", "double precision"), ("evaluated_at", "timestamp"), ("query", "text"), ("payload", "text"),
    ],
    # One row per deployment (of the marts' last build) whose 24 hours ended in the day, and Prometheus SLO of its
    # team: the bad and total events of those 24 hours (NULLs without data).
    "raw_slo_deployment_events": _COMMON + [
        ("deployment_id", "text"), ("slo_name", "text"), ("deployed_at", "timestamp"), ("window_end", "timestamp"),
        ("bad", "double precision"), ("total", "double precision"), ("query", "text"), ("payload", "text"),
    ],
    "raw_jira_issues": _COMMON + [
        ("issue_id", "text"), ("key", "text"), ("project_key", "text"), ("issue_type", "text"),
        ("is_subtask", "boolean"), ("summary", "text"), ("status_id", "text"), ("status_name", "text"),
        ("status_category", "text"),  # new | indeterminate | done (Jira's statusCategory.key)
        ("created_at", "timestamp"), ("updated_at", "timestamp"), ("resolved_at", "timestamp"),
        ("story_points", "double precision"), ("sprint_ids", "text"),  # JSON array of sprint ids (current)
        ("flagged", "boolean"), ("assignee_account_id", "text"), ("story_points_field", "text"),
        ("payload", "text"),
    ],
    "raw_jira_changelog": _COMMON + [
        ("issue_key", "text"), ("history_id", "text"), ("item_index", "integer"), ("created_at", "timestamp"),
        ("author_account_id", "text"),
        ("field", "text"),  # normalized: sprint | story_points | status | flagged | resolution | <jira field name>
        ("field_id", "text"), ("from_value", "text"), ("from_string", "text"), ("to_value", "text"),
        ("to_string", "text"), ("payload", "text"),
    ],
    "raw_jira_sprints": _COMMON + [
        ("sprint_id", "bigint"), ("board_id", "bigint"), ("name", "text"),
        ("state", "text"),  # future | active | closed
        ("start_at", "timestamp"), ("end_at", "timestamp"), ("completed_at", "timestamp"), ("goal", "text"),
        ("payload", "text"),
    ],
    "raw_jira_statuses": _COMMON + [
        ("status_id", "text"), ("name", "text"), ("category", "text"), ("payload", "text"),
    ],
}

# The natural key of each raw table within one partition (asset checks look for duplicates on these).
RAW_KEYS: dict[str, tuple[str, ...]] = {
    "raw_github_pull_requests": ("repo", "number"),
    "raw_github_reviews": ("repo", "pr_number", "review_id"),
    "raw_github_commits": ("repo", "pr_number", "oid"),
    "raw_github_timeline_events": ("repo", "pr_number", "event_id"),
    "raw_github_releases": ("repo", "release_id"),
    "raw_github_deployments": ("repo", "deployment_id"),
    "raw_github_workflow_runs": ("repo", "run_id"),
    "raw_github_issues": ("repo", "number"),
    "raw_github_codeowners": ("repo", "rule_index", "owner_index"),
    "raw_github_pull_request_files": ("repo", "pr_number", "path"),
    "raw_github_copilot_org_days": ("day",),
    "raw_github_copilot_user_days": ("day", "user_login"),
    "raw_pagerduty_incidents": ("incident_id",),
    "raw_slo_events": ("slo_name",),
    "raw_slo_deployment_events": ("deployment_id", "slo_name"),
    "raw_jira_issues": ("issue_id",),  # an issue is its id: a move to another project changes the key
    "raw_jira_changelog": ("issue_key", "history_id", "item_index"),
    "raw_jira_sprints": ("sprint_id",),
    "raw_jira_statuses": ("status_id",),
}


# One row per (raw table, partition) ever written, rows or not: the record of which days were ingested.
INGESTED_PARTITIONS = "raw_ingested_partitions"
INGESTED_PARTITIONS_COLUMNS: list[tuple[str, str]] = [
    ("table_name", "text"), ("source", "text"),  # github | jira | pagerduty (the table name's prefix)
    ("partition_date", "date"), ("fetched_at", "timestamp"), ("row_count", "integer"),
]

# How long `connect` waits for a DuckDB file lock held by another process (EMD_WAREHOUSE_LOCK_WAIT_SECONDS).
LOCK_WAIT_SECONDS = 30.0

# DuckDB's memory for staging a huge partition and for the swap; beyond it DuckDB spills to disk.
STAGE_MEMORY_LIMIT = "256MB"


class WarehouseError(RuntimeError):
    pass


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def _lock_wait_seconds() -> float:
    raw = os.environ.get("EMD_WAREHOUSE_LOCK_WAIT_SECONDS", "").strip()
    if not raw:
        return LOCK_WAIT_SECONDS
    try:
        return max(0.0, float(raw))
    except ValueError as exc:
        raise WarehouseError(f"EMD_WAREHOUSE_LOCK_WAIT_SECONDS must be a number of seconds, got {raw!r}") from exc


def to_db_timestamp(value: datetime | str | None) -> datetime | None:
    """Aware datetime or ISO-8601 string -> naive UTC datetime (how every timestamp is stored)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        # Jira writes offsets without a colon: 2025-01-02T03:04:05.000+0530
        if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
            text = text[:-2] + ":" + text[-2:]
        value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def sql_string(text: str) -> str:
    """A SQL string literal (quotes doubled), for statements that take no bound parameter (DuckDB's ATTACH)."""
    return "'" + text.replace("'", "''") + "'"


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@contextlib.contextmanager
def transaction(conn: Any, kind: str) -> Iterator[Any]:
    """One transaction around the block. DuckDB connections autocommit: one is begun, then committed, or rolled
    back on any error. A Postgres connection from `Warehouse.connect` is in a transaction already, committed (or
    rolled back) when that block ends."""
    if kind != "duckdb":
        yield conn
        return
    conn.execute("begin transaction")
    try:
        yield conn
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def _duckdb_insert(conn: Any, table: str, columns: list[str], values: list[list[Any]]) -> None:
    """Insert through an Arrow table: DuckDB's executemany binds row by row and is ~10x slower."""
    import pyarrow as pa

    arrow_types = {"date": pa.date32(), "timestamp": pa.timestamp("us"), "text": pa.string(), "integer": pa.int64(),
                   "bigint": pa.int64(), "boolean": pa.bool_(), "double precision": pa.float64()}
    types = dict(RAW_TABLES[table])
    batch = pa.table({name: pa.array([row[i] for row in values], type=arrow_types[types[name]])
                      for i, name in enumerate(columns)})
    conn.register("_emd_insert_batch", batch)
    try:
        conn.execute(f"insert into {table} ({', '.join(columns)}) select {', '.join(columns)} from _emd_insert_batch")  # noqa: S608
    finally:
        conn.unregister("_emd_insert_batch")


class Warehouse:
    """A thin connection factory over DuckDB or PostgreSQL with the raw-table helpers."""

    def __init__(self, target: DatabaseTarget | None = None):
        self.target = target or database_target()

    @property
    def kind(self) -> str:
        return self.target.kind

    def describe(self) -> str:
        return self.target.describe()

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Any]:
        """A DB-API connection; committed on success, rolled back on error, always closed."""
        if self.target.kind == "duckdb":
            path = self.target.duckdb_path
            assert path is not None
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            duck = self._open_duckdb(path, read_only)
            try:
                yield duck
            finally:
                duck.close()
        else:
            import psycopg

            try:
                conn = psycopg.connect(str(self.target.postgres_url), autocommit=False)
            except psycopg.Error as exc:
                # psycopg's message can quote the DSN it was given, password and all: redact it, and drop the
                # original exception (`from None`) so Dagster's error chain and tracebacks do not show it either.
                secrets = database_url_secrets(self.target.postgres_url)
                raise WarehouseError(
                    f"cannot connect to the Postgres warehouse {self.describe()} (DATABASE_URL): "
                    f"{type(exc).__name__}: {redact(str(exc), secrets)}"
                ) from None
            try:
                if read_only:
                    conn.read_only = True
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.close()

    @staticmethod
    def _open_duckdb(path: Any, read_only: bool) -> Any:
        """Open the file; while another process holds its lock, retry with backoff for a bounded time."""
        import duckdb

        wait = _lock_wait_seconds()
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(path), read_only=read_only)
            except duckdb.Error as exc:
                if not _is_lock_error(exc):
                    raise WarehouseError(f"cannot open the DuckDB warehouse {path}: {exc}") from exc
                if time.monotonic() + delay > deadline:
                    raise WarehouseError(
                        f"cannot open the DuckDB warehouse {path}: another process held its lock for more than "
                        f"{wait:.0f}s (EMD_WAREHOUSE_LOCK_WAIT_SECONDS). DuckDB allows one writer per file: run "
                        "Dagster with the project's dagster.yaml (pool `warehouse`, limit 1), or stop the other "
                        f"process. {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _placeholder(self) -> str:
        return "?" if self.kind == "duckdb" else "%s"

    def ensure_raw_tables(self, conn: Any) -> None:
        if self.kind == "postgres" and (conn.execute("select current_schema()").fetchone() or (None,))[0] is None:
            search_path = (conn.execute("show search_path").fetchone() or ("",))[0]
            raise WarehouseError(
                f"the Postgres warehouse {self.describe()} has no schema to write to: no schema of the "
                f"search_path ({search_path}, from DATABASE_URL's options=-csearch_path=...) exists; "
                "create it first (create schema <name>)"
            )
        self.create_tables(conn, [*RAW_TABLES.items(), (INGESTED_PARTITIONS, INGESTED_PARTITIONS_COLUMNS)])

    def create_tables(self, conn: Any, tables: Sequence[tuple[str, Any]]) -> None:
        """`create table if not exists` for each (name, [(column, SQL type), ...]); see _ensure_postgres_tables."""
        if self.kind == "postgres":
            self._ensure_postgres_tables(conn, tables)
            return
        for table, columns in tables:
            cols = ", ".join(f"{name} {ctype}" for name, ctype in columns)
            conn.execute(f"create table if not exists {table} ({cols})")

    def _ensure_postgres_tables(self, conn: Any, tables: Sequence[tuple[str, Any]]) -> None:
        """Parallel steps on a fresh warehouse (Celery workers, two runs at once) must not race: two uncommitted
        `create table if not exists` of one table collide in Postgres's catalog (UniqueViolation on
        pg_type_typname_nsp_index), and inside the caller's transaction the first would hold its catalog rows
        until its whole partition write commits. So missing tables are created in a short transaction of their
        own, one process at a time (an advisory lock per schema); the caller's next statement sees them."""
        names = [table for table, _ in tables]
        missing = [row[0] for row in conn.execute(
            "select t from unnest(%s::text[]) as t where to_regclass(t) is null", [names]).fetchall()]
        if not missing:
            return
        with self.connect() as ddl:
            ddl.execute("select pg_advisory_xact_lock(hashtextextended(current_schema() || '.emd tables', 0))")
            for table, columns in tables:
                if table in missing:
                    cols = ", ".join(f"{name} {ctype}" for name, ctype in columns)
                    ddl.execute(f"create table if not exists {table} ({cols})")

    def replace_partition(self, table: str, partition_key: str, rows: Sequence[Mapping[str, Any]],
                          fetched_at: datetime | None = None) -> int:
        """Replace one partition of one raw table atomically; returns the number of rows written."""
        return self.replace_partitions({table: rows}, partition_key, fetched_at)[table]

    def replace_partitions(self, tables: Mapping[str, Sequence[Mapping[str, Any]]], partition_key: str,
                           fetched_at: datetime | None = None) -> dict[str, int]:
        """Replace one partition of several raw tables in a single transaction."""
        return self.replace_partitions_chunked(list(tables), [tables], partition_key, fetched_at)

    def replace_partitions_chunked(self, tables: Sequence[str], chunks: Iterable[Mapping[str, Sequence[Mapping[str, Any]]]],
                                   partition_key: str, fetched_at: datetime | None = None) -> dict[str, int]:
        """Replace one partition of `tables` in a single transaction, inserting `chunks` one at a time.

        `chunks` may be a generator that fetches as it goes (a day of 50,000 PRs): only one chunk's rows are
        in memory at once, and readers see the old partition until the commit, the new one after it. An error
        while fetching or inserting rolls everything back."""
        fetched = to_db_timestamp(fetched_at or datetime.now(UTC))
        day = date.fromisoformat(partition_key)
        ph = self._placeholder()
        written: dict[str, int] = {table: 0 for table in tables}
        for table in tables:
            if table not in RAW_TABLES:
                raise WarehouseError(f"unknown raw table {table}")
        if self.kind == "duckdb" and not isinstance(chunks, list | tuple):
            return self._replace_staged_duckdb(tables, chunks, day, fetched)
        with self.connect() as conn:
            self.ensure_raw_tables(conn)
            with transaction(conn, self.kind):
                if self.kind != "duckdb":
                    # Two runs of one partition at once (a schedule and a backfill): the later one waits for the
                    # earlier's commit, then replaces its rows; unlocked, each delete misses the other's uncommitted
                    # rows and both copies land. (DuckDB's file lock already serializes writers.) Sorted: no deadlock.
                    for table in sorted(tables):
                        conn.execute("select pg_advisory_xact_lock(hashtextextended("
                                     "current_schema() || '.' || %s || '@' || %s, 0))", [table, partition_key])
                for table in tables:
                    conn.execute(f"delete from {table} where partition_date = {ph}", [day])  # noqa: S608 - table from RAW_TABLES
                for chunk in chunks:
                    for table, rows in chunk.items():
                        if table not in written:
                            raise WarehouseError(f"rows for {table}, which this write does not replace")
                        written[table] += self._insert(conn, table, rows, day, fetched)
                self._record_ingested(conn, tables, day, fetched, written)
        return written

    def _replace_staged_duckdb(self, tables: Sequence[str], chunks: Iterable[Mapping[str, Sequence[Mapping[str, Any]]]],
                               day: date, fetched: datetime | None) -> dict[str, int]:
        """DuckDB keeps a transaction's uncommitted rows in memory (a 200,000-issue day took 1.5 GB), and its
        file lock would be held while the API is read. So chunks go to a staging DuckDB file of their own (each
        committed, under a small memory limit, spilling to disk), and only the swap runs on the warehouse: one
        transaction that deletes the partition and copies the staged rows in."""
        import duckdb

        path = self.target.duckdb_path
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        stage_dir = Path(tempfile.mkdtemp(prefix=".emd-stage-", dir=path.parent))
        stage_path = stage_dir / "stage.duckdb"
        written: dict[str, int] = {table: 0 for table in tables}
        try:
            stage = duckdb.connect(str(stage_path))
            try:
                stage.execute(f"set memory_limit = '{STAGE_MEMORY_LIMIT}'")
                for table in tables:
                    cols = ", ".join(f"{name} {ctype}" for name, ctype in RAW_TABLES[table])
                    stage.execute(f"create table {table} ({cols})")
                for chunk in chunks:
                    for table, rows in chunk.items():
                        if table not in written:
                            raise WarehouseError(f"rows for {table}, which this write does not replace")
                        written[table] += self._insert(stage, table, rows, day, fetched)
            finally:
                stage.close()
            with self.connect() as conn:
                self.ensure_raw_tables(conn)
                conn.execute(f"set memory_limit = '{STAGE_MEMORY_LIMIT}'")
                conn.execute(f"attach {sql_string(str(stage_path))} as emd_stage (read_only)")
                try:
                    with transaction(conn, "duckdb"):
                        for table in tables:
                            columns = ", ".join(c for c, _ in RAW_TABLES[table])
                            conn.execute(f"delete from {table} where partition_date = ?", [day])  # noqa: S608
                            conn.execute(f"insert into {table} ({columns}) select {columns} "  # noqa: S608
                                         f"from emd_stage.{table}")
                        self._record_ingested(conn, tables, day, fetched, written)
                finally:
                    conn.execute("detach emd_stage")
        finally:
            shutil.rmtree(stage_dir, ignore_errors=True)
        return written

    def _insert(self, conn: Any, table: str, rows: Sequence[Mapping[str, Any]], day: date,
                fetched: datetime | None) -> int:
        columns = [c for c, _ in RAW_TABLES[table]]
        ph = self._placeholder()
        values = []
        for row in rows:
            unknown = set(row) - set(columns)
            if unknown:
                raise WarehouseError(f"{table}: unexpected columns {sorted(unknown)}")
            full = {"partition_date": day, "fetched_at": fetched, **row}
            values.append([full.get(c) for c in columns])
        if values and self.kind == "duckdb":
            _duckdb_insert(conn, table, columns, values)
        elif values:
            sql = f"insert into {table} ({', '.join(columns)}) values ({', '.join([ph] * len(columns))})"  # noqa: S608
            with conn.cursor() as cur:
                cur.executemany(sql, values)
        return len(values)

    def _record_ingested(self, conn: Any, tables: Sequence[str], day: date, fetched: datetime | None,
                         written: Mapping[str, int]) -> None:
        """In the partition's own transaction: the partition is ingested even when the source reported nothing."""
        ph = self._placeholder()
        for table in tables:
            conn.execute(f"delete from {INGESTED_PARTITIONS} where table_name = {ph} "  # noqa: S608
                         f"and partition_date = {ph}", [table, day])
            conn.execute(f"insert into {INGESTED_PARTITIONS} (table_name, source, partition_date, "  # noqa: S608
                         f"fetched_at, row_count) values ({ph}, {ph}, {ph}, {ph}, {ph})",
                         [table, table.split("_")[1], day, fetched, written[table]])

    def query(self, sql: str, params: Sequence[Any] = (), read_only: bool = True) -> list[tuple]:
        with self.connect(read_only=read_only) as conn:
            if self.kind == "duckdb":
                return conn.execute(sql, list(params)).fetchall()
            with conn.cursor() as cur:
                cur.execute(sql, list(params))
                return cur.fetchall() if cur.description else []
