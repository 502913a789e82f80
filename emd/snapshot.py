"""Publish the dashboard's view of the warehouse: the last complete build, never a half-written one.

DuckDB: the tables the dashboard reads are copied, inside one read transaction of the live file (so
they are mutually consistent), into a new DuckDB file `<warehouse>.published.builds/<build_id>.duckdb`
with a `_build` table (build_id, published_at, tables). The Sprint Health cards are not in the live file:
they are read from the record store beside it (emd/records.py, `STORE_TABLES`) and copied in the same way. The stable name the dashboard opens,
`<warehouse>.published.duckdb` (e.g. data/warehouse.published.duckdb), is then switched to the new
file with one `os.replace` of a symlink, so a reader sees either the previous build or the new one.

Why a symlink to a per-build file rather than renaming the file itself over the stable name: DuckDB
caches open databases per path in a process, so a dashboard process that still holds a connection to
the previous file would be handed that old database again when it opens the same path. A per-build
file name gives each build its own path; the dashboard resolves the symlink and keys its connections
and caches on the build. The newest `KEEP_BUILDS` files are kept; an older one still open by a reader
stays readable until closed (POSIX unlink semantics).

A build whose tables hold exactly the rows of the published one (the same `digest`: per table its row
count and the sum of its rows' hashes) is not published again: the previous build id stays, so every
cache keyed on it stays warm.

Postgres: the same idea with schemas. dbt builds into the live schema (DATABASE_URL's search_path) and
replaces its tables one at a time, so the live schema mixes two builds while dbt runs. Publishing copies
the snapshot tables, inside one repeatable-read transaction that holds a share lock on each (so every
table is read as of one moment, and dbt's swap of a table waits for the copy), into a new schema
`<schema>__build_<n>`, and in the same transaction points the `_build` table of the live schema at it
(build_id, published_at, tables, digest, build_schema, build_number). Readers (emd/metrics/source.py)
resolve `_build` once per request and read that schema only, so an answer never mixes builds and is
cached under the build it read. The newest `KEEP_BUILDS` build schemas are kept; older ones are dropped
after the commit (one a long query still reads is left for the next publish). A build that changed
nothing keeps its id and schema, as on DuckDB.

Run by the `dashboard_snapshot` asset after the marts and sprint_health are built, or by hand:
`python -m emd.snapshot` (uses DATABASE_URL).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emd.ingestion_log import INGESTION_RUNS
from emd.records import RecordStore, RecordTable, adopt_from_warehouse
from emd.settings import DatabaseTarget, database_target
from emd.sprint_health import TABLE as SPRINT_HEALTH
from emd.warehouse import Warehouse, sql_string

# The marts the dashboard reads, in docs/metrics.md's names, then the insights table (present once the
# Sprint Health asset has run). Missing tables are reported, not invented.
MART_TABLES: tuple[str, ...] = (
    "fct_pull_requests",
    "fct_deployments",
    "fct_deployment_teams",
    "fct_jira_issues",
    "mv_dora_by_repo_day",
    "mv_flow_by_repo_day",
    "mv_planning_by_sprint",
    "mv_planning_by_team_day",
    "metrics_daily",
    "fct_ingested_days",  # the ingested calendar per source (the layer's gaps)
    "fct_agreement_breaches",
    "fct_agreement_subjects",
    "mv_agreement_adherence_by_team_week",
    "fct_slo_days",
    "fct_slo_deployment_burn",
    # the rows behind the numbers (the dashboard's drilldowns)
    "fct_failure_signals",
    "fct_pull_request_reviews",
    "fct_sprint_issues",
    # AI-assisted work (docs/metrics.md): Copilot adoption per day and the deployments' AI-assisted PRs
    "mv_ai_adoption_by_day",
    "mv_ai_deployments",
)
INSIGHTS_TABLES: tuple[str, ...] = ("sprint_health",)
# The ingestion log (emd/ingestion_log.py), for the API's `GET /prometheus` counters.
OPERATIONS_TABLES: tuple[str, ...] = (INGESTION_RUNS,)
SNAPSHOT_TABLES: tuple[str, ...] = MART_TABLES + INSIGHTS_TABLES + OPERATIONS_TABLES
# Tables of the record store (emd/records.py), copied into the published build from there: on DuckDB the store is
# a SQLite file beside the warehouse; on Postgres it is the marts' schema, so they are copied like the marts.
STORE_TABLES: dict[str, RecordTable] = {SPRINT_HEALTH.name: SPRINT_HEALTH}
BUILD_TABLE = "_build"
BUILD_SCHEMA_INFIX = "__build_"  # Postgres: a build's own schema is <marts schema>__build_<n>
KEEP_BUILDS = 3


class PublishError(RuntimeError):
    """Publishing failed; the message names the warehouse and what to run first."""


def snapshot_path(target: DatabaseTarget) -> Path:
    """The stable path the dashboard opens, next to the live DuckDB file: warehouse.published.duckdb."""
    if target.kind != "duckdb" or target.duckdb_path is None:
        raise PublishError("only a DuckDB warehouse has a published snapshot file (Postgres publishes a build schema)")
    live = target.duckdb_path
    return live.with_name(f"{live.stem}.published.duckdb")


def builds_dir(target: DatabaseTarget) -> Path:
    """Where the per-build snapshot files live: warehouse.published.builds/."""
    live = snapshot_path(target)
    return live.with_name(live.name.removesuffix(".duckdb") + ".builds")


def dashboard_target(target: DatabaseTarget | None = None) -> DatabaseTarget:
    """What the dashboard reads: the published snapshot for DuckDB; for Postgres the database, whose `_build`
    pointer names the build schema to read (emd/metrics/source.py).

    `target` defaults to DATABASE_URL (read now, not at import time).
    """
    target = target or database_target()
    if target.kind == "duckdb":
        return DatabaseTarget("duckdb", duckdb_path=snapshot_path(target))
    return target


def new_build_id(now: datetime) -> str:
    """Sortable by publication time, unique even for two builds in the same microsecond."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _present_tables(conn: Any, kind: str) -> dict[str, str]:
    """{table: schema} for the snapshot tables in the one schema that holds the marts."""
    placeholders = ", ".join(["?" if kind == "duckdb" else "%s"] * len(SNAPSHOT_TABLES))
    sql = (
        "select table_name, table_schema from information_schema.tables "  # noqa: S608 - placeholders only
        f"where table_name in ({placeholders}) "
        "and table_schema not in ('information_schema', 'pg_catalog') "
    )
    if kind == "duckdb":
        sql += "and table_catalog = current_database() "
        rows = conn.execute(sql + "order by table_schema", list(SNAPSHOT_TABLES)).fetchall()
        current = (conn.execute("select current_schema()").fetchone() or ("main",))[0]
    else:
        with conn.cursor() as cur:
            cur.execute(sql + "order by table_schema", list(SNAPSHOT_TABLES))
            rows = cur.fetchall()
            cur.execute("select current_schema()")
            current = (cur.fetchone() or (None,))[0]
    rows = [(table, schema) for table, schema in rows if not is_build_schema(schema)]  # published copies
    # One schema, never a mix: the connection's current schema (DuckDB: `main`; Postgres: the first of the
    # search_path that DATABASE_URL's `options=-csearch_path=...` names, where dbt builds) when it holds the
    # marts, else the first by name that holds fct_pull_requests. A table only another schema holds is missing.
    holding = [schema for table, schema in rows if table == "fct_pull_requests"]
    chosen = current if current in holding else (holding[0] if holding else current)
    found = {table: schema for table, schema in rows if schema == chosen}
    return found


def publish_build(warehouse: Warehouse, *, now: datetime | None = None) -> dict[str, Any]:
    """Publish the current warehouse for the dashboard; returns build_id, published_at, tables {name: rows}, missing."""
    published_at = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    build_id = new_build_id(published_at.replace(tzinfo=UTC))
    if warehouse.kind == "duckdb":
        return _publish_duckdb(warehouse, build_id, published_at)
    return _publish_postgres(warehouse, build_id, published_at)


def _publish_duckdb(warehouse: Warehouse, build_id: str, published_at: datetime) -> dict[str, Any]:
    target = warehouse.target
    live = target.duckdb_path
    assert live is not None
    if not live.exists():
        raise PublishError(
            f"there is no DuckDB warehouse at {live} (DATABASE_URL) to publish: build it first with "
            "`make demo` or `emd pipeline --start YYYY-MM-DD --end YYYY-MM-DD`"
        )
    stable = snapshot_path(target)
    directory = builds_dir(target)
    directory.mkdir(parents=True, exist_ok=True)
    build_file = directory / f"{build_id}.duckdb"
    partial = directory / f"{build_id}.duckdb.partial"
    tables: dict[str, int] = {}
    sums: dict[str, str] = {}
    previous: tuple[Any, ...] | None = None
    try:
        # A read-write connection: a read-only one fails when this process already has the file open
        # read-write (DuckDB allows one configuration per file per process). Nothing is written to it.
        with warehouse.connect() as conn:
            for table in STORE_TABLES.values():  # a warehouse from before the record store: its cards move there
                adopt_from_warehouse(table, warehouse, conn)
            present = _present_tables(conn, "duckdb")
            # The cards, from the record store (never written in the live file), read before the copy begins.
            store = RecordStore.of(warehouse)
            stored = {name: table.read(store) for name, table in STORE_TABLES.items() if store.has(name)}
            if not any(name in present for name in MART_TABLES):
                raise PublishError(
                    f"the warehouse {live} has none of the mart tables ({', '.join(MART_TABLES)}): "
                    "run the dbt build first (`emd pipeline --start YYYY-MM-DD --end YYYY-MM-DD`)"
                )
            conn.execute(f"attach {sql_string(str(partial))} as published_snapshot")
            try:
                # One transaction: every table is read from the same consistent state of the live file.
                conn.execute("begin transaction")
                for name in SNAPSHOT_TABLES:
                    if name in stored:
                        _copy_records(conn, f"published_snapshot.main.{_quoted(name)}", STORE_TABLES[name], stored[name])
                    elif name in present and name not in STORE_TABLES:
                        source = f"{_quoted(present[name])}.{_quoted(name)}"
                        conn.execute(f"create table published_snapshot.main.{_quoted(name)} as select * from {source}")  # noqa: S608 - names from SNAPSHOT_TABLES
                    else:
                        continue
                    row = conn.execute(f"select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar "  # noqa: S608
                                       f"from published_snapshot.main.{_quoted(name)} t").fetchone()
                    tables[name] = int(row[0]) if row else 0
                    sums[name] = f"{tables[name]}:{row[1] if row else 0}"
                digest = content_digest(sums)
                conn.execute(
                    f"create table published_snapshot.main.{BUILD_TABLE} "
                    "(build_id varchar, published_at timestamp, tables varchar, digest varchar)"
                )
                conn.execute(
                    f"insert into published_snapshot.main.{BUILD_TABLE} values (?, ?, ?, ?)",  # noqa: S608
                    [build_id, published_at, json.dumps(tables, sort_keys=True), digest],
                )
                conn.execute("commit")
                previous = _published_duckdb_build(conn, stable)
            except BaseException:
                conn.execute("rollback")
                raise
            finally:
                conn.execute("detach published_snapshot")
        if previous is not None and previous[2] == digest:  # nothing changed: the published build stays
            partial.unlink(missing_ok=True)
            build_id, published_at, build_file = str(previous[0]), previous[1], Path(os.path.realpath(stable))
        else:
            os.replace(partial, build_file)
            _swap_symlink(stable, build_file, build_id)
    except BaseException:
        partial.unlink(missing_ok=True)
        Path(str(partial) + ".wal").unlink(missing_ok=True)
        raise
    _prune_old_builds(directory, keep=build_file)
    return {
        "build_id": build_id,
        "published_at": published_at.isoformat(),
        "target": f"duckdb:{stable}",
        "build_file": str(build_file),
        "tables": tables,
        "rows": sum(tables.values()),
        "missing": [name for name in SNAPSHOT_TABLES if name not in tables],
        "unchanged": previous is not None and previous[2] == digest,
    }


def _copy_records(conn: Any, destination: str, table: RecordTable, rows: list[tuple]) -> None:
    """A record-store table into the build file (through Arrow: DuckDB's executemany binds row by row)."""
    import pyarrow as pa

    types = {"text": pa.string(), "timestamp": pa.timestamp("us"), "integer": pa.int64(), "bigint": pa.int64(),
             "date": pa.date32()}
    conn.execute(f"create table {destination} ({', '.join(f'{name} {ctype}' for name, ctype in table.columns)})")
    batch = pa.table({name: pa.array([row[i] for row in rows], type=types[ctype])
                      for i, (name, ctype) in enumerate(table.columns)})
    conn.register("_emd_records", batch)
    try:
        conn.execute(f"insert into {destination} select * from _emd_records")  # noqa: S608 - constants
    finally:
        conn.unregister("_emd_records")


def content_digest(sums: dict[str, str]) -> str:
    """One digest of every published table's row count and row-hash sum (the order of rows does not count)."""
    return hashlib.sha256(json.dumps(sums, sort_keys=True).encode()).hexdigest()


def _published_duckdb_build(conn: Any, stable: Path) -> tuple[Any, ...] | None:
    """(build_id, published_at, digest) of the build the dashboard reads now; None without one (or one
    published before builds carried a digest)."""
    if not stable.exists():
        return None
    conn.execute(f"attach {sql_string(os.path.realpath(stable))} as previous_build (read_only)")
    try:
        columns = {r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_catalog = 'previous_build' "
            "and table_name = ?", [BUILD_TABLE]).fetchall()}
        if "digest" not in columns:
            return None
        return conn.execute(f"select build_id, published_at, digest from previous_build.main.{BUILD_TABLE}").fetchone()  # noqa: S608
    finally:
        conn.execute("detach previous_build")


def _swap_symlink(stable: Path, build_file: Path, build_id: str) -> None:
    """Point `stable` at `build_file` in one atomic rename (a relative link, so the data dir can move)."""
    link_tmp = stable.with_name(f".{stable.name}.{build_id}.link")
    link_tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(build_file, stable.parent), link_tmp)
    os.replace(link_tmp, stable)


def _prune_old_builds(directory: Path, keep: Path) -> None:
    builds = sorted(directory.glob("*.duckdb"), key=lambda p: p.name)
    for old in builds[:-KEEP_BUILDS]:
        if old != keep:
            old.unlink(missing_ok=True)
            Path(str(old) + ".wal").unlink(missing_ok=True)


def build_schema_name(schema: str, number: int) -> str:
    """The schema of a Postgres build: `<marts schema>__build_<n>` (Postgres cuts names at 63 bytes, so a
    longer one is refused rather than silently shortened onto another build's name)."""
    name = f"{schema}{BUILD_SCHEMA_INFIX}{number}"
    if len(name.encode()) > 63:
        raise PublishError(f"the marts' schema name {schema!r} is too long to publish builds beside it "
                           f"({name!r} exceeds Postgres's 63 bytes): use a schema name of at most "
                           f"{63 - len(BUILD_SCHEMA_INFIX) - 6} bytes in DATABASE_URL's search_path")
    return name


def is_build_schema(name: str) -> bool:
    """A published build's schema (`<schema>__build_<n>`), never a schema dbt builds into."""
    return re.fullmatch(rf".+{BUILD_SCHEMA_INFIX}\d+", name) is not None


def _publish_postgres(warehouse: Warehouse, build_id: str, published_at: datetime) -> dict[str, Any]:
    """Copy the snapshot tables, as of one moment, into a new schema `<schema>__build_<n>` and point `_build` at it,
    in one transaction: a reader resolves `_build` once and reads that schema only, so it sees one whole build."""
    import psycopg

    tables: dict[str, int] = {}
    with warehouse.connect() as conn:
        present = _present_tables(conn, "postgres")
        if not any(name in present for name in MART_TABLES):
            raise PublishError(
                f"the warehouse {warehouse.describe()} (DATABASE_URL) has none of the mart tables "
                f"({', '.join(MART_TABLES)}): run the dbt build first (`emd pipeline --start ... --end ...`)"
            )
        schema = present.get("fct_pull_requests") or next(iter(present.values()))
        pointer = f"{_quoted(schema)}.{BUILD_TABLE}"
        with conn.cursor() as cur:
            cur.execute(f"create table if not exists {pointer} (build_id text, published_at timestamp, tables text)")
            for column, ctype in (("digest", "text"), ("build_schema", "text"), ("build_number", "bigint")):
                cur.execute(f"alter table {pointer} add column if not exists {column} {ctype}")
        conn.commit()
        # Repeatable read: every table is read as of the transaction's one snapshot, taken at its first select,
        # after the locks below are held.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.cursor() as cur:
            # Two publishes at once (marts_job's and insights_job's): the later waits here, then reads what the
            # earlier published. Readers are not blocked (exclusive mode still lets them select).
            cur.execute(f"lock table {pointer} in exclusive mode")
            # dbt replaces a table by renaming (an access-exclusive lock): it waits until the copy below is done,
            # and the copy never reads a table dbt swapped after the snapshot was taken.
            live = {name: f"{_quoted(present[name])}.{_quoted(name)}" for name in SNAPSHOT_TABLES if name in present}
            cur.execute(f"lock table {', '.join(live.values())} in access share mode")
            sums: dict[str, str] = {}
            for name, source in live.items():
                cur.execute(f"select count(*), coalesce(md5(string_agg(md5(t::text), '' order by md5(t::text))), '') "  # noqa: S608
                            f"from {source} t")
                row = cur.fetchone()
                tables[name] = int(row[0]) if row else 0
                sums[name] = f"{tables[name]}:{row[1] if row else ''}"
            digest = content_digest(sums)
            cur.execute(f"select build_id, published_at, digest, build_schema, build_number from {pointer}")  # noqa: S608
            previous = cur.fetchone()
            cur.execute("select count(*) from pg_namespace where nspname = %s", [previous[3] if previous else None])
            previous_exists = bool((cur.fetchone() or (0,))[0])
            unchanged = previous is not None and previous[2] == digest and previous_exists
            if unchanged:  # nothing changed: the build id stays, and with it every cache keyed on it
                build_id, published_at, build_schema = str(previous[0]), previous[1], str(previous[3])
            else:
                numbers = [int(previous[4] or 0)] if previous else [0]
                numbers += [number for _, number in _build_schemas(cur, schema)]
                build_schema = build_schema_name(schema, max(numbers) + 1)
                built = _quoted(build_schema)
                cur.execute(f"create schema {built}")
                for name, source in live.items():
                    cur.execute(f"create table {built}.{_quoted(name)} as select * from {source}")  # noqa: S608
                cur.execute(f"create table {built}.{BUILD_TABLE} "
                            "(build_id text, published_at timestamp, tables text, digest text)")
                record = [build_id, published_at, json.dumps(tables, sort_keys=True), digest]
                cur.execute(f"insert into {built}.{BUILD_TABLE} values (%s, %s, %s, %s)", record)  # noqa: S608
                cur.execute(f"delete from {pointer}")  # noqa: S608
                cur.execute(f"insert into {pointer} (build_id, published_at, tables, digest, build_schema, build_number) "  # noqa: S608
                            "values (%s, %s, %s, %s, %s, %s)", [*record, build_schema, max(numbers) + 1])
        conn.commit()
        conn.isolation_level = None
        dropped = _prune_postgres_builds(conn, schema, keep=build_schema)
    return {
        "build_id": build_id,
        "published_at": published_at.isoformat(),
        "target": warehouse.describe(),
        "build_schema": build_schema,
        "dropped_schemas": dropped,
        "tables": tables,
        "rows": sum(tables.values()),
        "missing": [name for name in SNAPSHOT_TABLES if name not in tables],
        "unchanged": unchanged,
    }


def _build_schemas(cur: Any, schema: str) -> list[tuple[str, int]]:
    """(name, n) of every `<schema>__build_<n>`, newest first."""
    cur.execute("select nspname from pg_namespace where starts_with(nspname, %s)", [schema + BUILD_SCHEMA_INFIX])
    found = []
    for (name,) in cur.fetchall():
        suffix = name[len(schema) + len(BUILD_SCHEMA_INFIX):]
        if suffix.isdigit():
            found.append((name, int(suffix)))
    return sorted(found, key=lambda item: item[1], reverse=True)


def _prune_postgres_builds(conn: Any, schema: str, keep: str) -> list[str]:
    """Drop the build schemas older than the newest KEEP_BUILDS (a reader two publications behind still reads its
    own). A schema a long query still reads is left for the next publish rather than waited for."""
    import psycopg

    dropped = []
    with conn.cursor() as cur:
        old = [name for name, _ in _build_schemas(cur, schema)[KEEP_BUILDS:] if name != keep]
    conn.commit()
    for name in old:
        try:
            with conn.cursor() as cur:
                cur.execute("set local lock_timeout = '2s'")
                cur.execute(f"drop schema if exists {_quoted(name)} cascade")
            conn.commit()
            dropped.append(name)
        except psycopg.errors.LockNotAvailable:
            conn.rollback()
    return dropped


def main() -> int:
    """`python -m emd.snapshot`: publish the warehouse named by DATABASE_URL now."""
    from emd.settings import SettingsError
    from emd.warehouse import WarehouseError

    try:
        result = publish_build(Warehouse())
    except (PublishError, SettingsError, WarehouseError) as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return 1
    print(f"publish: build {result['build_id']} -> {result['target']}: "
          + ", ".join(f"{name} {rows} rows" for name, rows in result["tables"].items()))
    if result["missing"]:
        print(f"publish: not in the warehouse (yet): {', '.join(result['missing'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
