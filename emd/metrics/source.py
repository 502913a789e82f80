"""Where the metrics layer reads: the published build, read only.

- `open_source()` resolves the build the dashboard reads (emd/snapshot.py): the stable DuckDB symlink
  resolved to its per-build file, or the Postgres build schema the marts schema's `_build` points at; `EmptyWarehouse` says
  why there is nothing to read and which commands fill the warehouse.
- `rows()` / `frame()` run one statement with bound parameters (written with `?`); the only text ever
  put into SQL comes from the layer's own constants (tables, columns, the engine's percentile, the
  day/week bucket). No caching here: surfaces cache (the dashboard keys `st.cache_data` on
  `Source.key` + `Source.build_id`).
- The engine helpers are the Python twins of dbt_project/macros/cross_db.sql, so a window aggregate
  computed here over fact rows is the same SQL function the marts use over a day's rows.
"""

from __future__ import annotations

import atexit
import math
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from emd.settings import DatabaseTarget, SettingsError
from emd.snapshot import BUILD_TABLE, dashboard_target, is_build_schema

REQUIRED_TABLES = ("fct_pull_requests", "fct_deployments")
GRANULARITIES: dict[str, str] = {"day": "day", "week": "week"}  # the only bucket literals put into SQL
Granularity = Literal["day", "week"]


@dataclass(frozen=True)
class Source:
    """An opened, published build. `key` identifies the build's storage; `build_id` keys caches."""

    kind: str  # duckdb | postgres
    label: str  # password-free
    key: str
    build_id: str
    published_at: datetime | None
    tables: frozenset[str]
    path: str | None = None  # the build's own DuckDB file (the stable symlink resolved)
    url: str | None = field(default=None, repr=False)
    schema: str | None = None  # Postgres: the marts' schema
    conn: Any = field(default=None, compare=False, repr=False)  # `reading()`: the block's own connection

    def has(self, table: str) -> bool:
        return table in self.tables


@dataclass(frozen=True)
class EmptyWarehouse:
    """Nothing to show yet; `reason` says why, `commands` how to fill the warehouse."""

    reason: str
    commands: tuple[str, ...]


def fill_commands() -> tuple[str, ...]:
    today = datetime.now(UTC).date()
    return (
        "make demo",
        f"emd pipeline --start {(today - timedelta(days=29)).isoformat()} --end {today.isoformat()}",
    )


_connections: dict[str, Any] = {}
_connections_lock = threading.Lock()
_KEEP_CONNECTIONS = 2


def _duckdb_connection(path: str) -> Any:
    """One read-only connection per build file (a build file never changes); queries use cursors."""
    import duckdb

    with _connections_lock:
        conn = _connections.get(path)
        if conn is None:
            conn = duckdb.connect(path, read_only=True)
            _connections[path] = conn
            # Builds are replaced, not edited: close connections to builds two publications old.
            for old in list(_connections)[:-_KEEP_CONNECTIONS]:
                _connections.pop(old).close()
        return conn


def open_source(target: DatabaseTarget | None = None) -> Source | EmptyWarehouse:
    """The published build to read, or why there is none. `target` defaults to DATABASE_URL."""
    try:
        target = dashboard_target(target)
    except SettingsError as exc:
        return EmptyWarehouse(str(exc), ())
    if target.kind == "duckdb":
        return _open_duckdb(target)
    return _open_postgres(target)


def _open_duckdb(target: DatabaseTarget) -> Source | EmptyWarehouse:
    stable = target.duckdb_path
    assert stable is not None
    if not stable.exists():
        live = stable.with_name(stable.name.replace(".published.duckdb", ".duckdb"))
        reason = f"No published build of the warehouse at {stable} yet."
        commands = fill_commands()
        if live.exists():
            reason += (f" The warehouse {live} exists but has not been published for the dashboard: "
                       "publish it with the pipeline, or by hand.")
            commands = (*commands, "python -m emd.snapshot")
        return EmptyWarehouse(reason, commands)
    for attempt in range(3):
        # The link is re-resolved on a retry: a build can be pruned between resolving and opening it
        # when several are published in quick succession.
        real = os.path.realpath(stable)
        try:
            tables, build = _read_build(real)
            break
        except Exception as exc:  # a corrupt or foreign file: say which one
            if attempt == 2:
                return EmptyWarehouse(f"The published build {stable} cannot be read: {exc}", fill_commands())
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        return EmptyWarehouse(
            f"The published build {stable} has no {', '.join(missing)} table: the marts have not been built.",
            fill_commands(),
        )
    build_id = str(build[0]) if build else Path(real).stem
    return Source(kind="duckdb", label=f"duckdb:{stable}", key=real, build_id=build_id,
                  published_at=build[1] if build else None, tables=tables, path=real)


def _read_build(path: str) -> tuple[frozenset[str], tuple | None]:
    cur = _duckdb_connection(path).cursor()
    try:
        tables = frozenset(r[0] for r in cur.execute(
            "select table_name from information_schema.tables where table_catalog = current_database()"
        ).fetchall())
        build = None
        if BUILD_TABLE in tables:
            build = cur.execute(f"select build_id, published_at from {BUILD_TABLE}").fetchone()  # noqa: S608
        return tables, build
    finally:
        cur.close()


def _read_only_session(conn: Any) -> None:
    # A read-only session: every statement runs in a read-only transaction (psycopg's `read_only`
    # attribute does nothing in autocommit mode).
    conn.execute("set default_transaction_read_only = on")


POOL_SIZE_ENV = "EMD_POSTGRES_POOL_SIZE"
MAX_POOLS = 4  # the pools of the warehouses (URLs) read most recently; an older one is closed
_pools: OrderedDict[str, Any] = OrderedDict()
_pools_lock = threading.Lock()
# The schema each pooled connection's search_path is set to (None: DATABASE_URL's own, as the session began).
_search_path: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()
_UNSET = object()


def _pool(url: str) -> Any:
    """The process's pool of read-only sessions on one warehouse: the API and the dashboard reuse connections
    instead of opening one per statement (or per request). At most EMD_POSTGRES_POOL_SIZE (default 10)
    connections; a connection idle for a minute is closed. One pool serves every build of the warehouse: a
    connection's search_path is switched when a request reads another build (`_connection`)."""
    from psycopg_pool import ConnectionPool

    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            pool = ConnectionPool(url, min_size=0, max_size=_pool_size(), max_idle=60,
                                  kwargs={"autocommit": True}, configure=_read_only_session, open=True,
                                  name="emd-read")
            _pools[url] = pool
            while len(_pools) > MAX_POOLS:
                _pools.popitem(last=False)[1].close(timeout=1.0)
        _pools.move_to_end(url)
    return pool


@contextmanager
def _connection(url: str, schema: str | None) -> Iterator[Any]:
    """A pooled read-only session whose search_path is `schema` (then public), or DATABASE_URL's own for None;
    set only when the connection's last use read another schema."""
    with _pool(url).connection() as conn:
        if _search_path.get(conn, _UNSET) != schema:
            if schema:
                conn.execute("select set_config('search_path', %s, false)", [f'"{schema}", public'])
            else:
                conn.execute("reset search_path")
            _search_path[conn] = schema
        yield conn


def _pool_size() -> int:
    text = os.environ.get(POOL_SIZE_ENV) or "10"
    if not text.strip().isdigit() or int(text) < 1:
        raise SettingsError(f"{POOL_SIZE_ENV} must be a whole number of connections, 1 or more (not {text!r})")
    return int(text)


@atexit.register
def _close_pools() -> None:
    with _pools_lock:
        for pool in _pools.values():
            pool.close(timeout=1.0)
        _pools.clear()


# A published build schema's tables never change (emd/snapshot.py): read once per (url, schema).
_build_tables: dict[tuple[str, str], frozenset[str]] = {}


def _open_postgres(target: DatabaseTarget) -> Source | EmptyWarehouse:
    """The build schema `_build` points at (emd/snapshot.py), resolved once: the Source reads that schema only,
    so every statement of a request reads one build, and caches key on it. A warehouse never published (or
    published before builds had their own schema) is read live, with build id "live" (nothing cached).
    Over a pooled session: two small catalog queries per request once a build's tables are known."""
    url = target.postgres_url or ""
    label = target.describe()
    try:
        with _connection(url, None) as conn:
            # The schema DATABASE_URL's search_path names (where dbt builds) first, when several hold the marts;
            # the published build schemas (`<schema>__build_<n>`) are never the live one.
            candidates = [s for (s,) in conn.execute(
                "select n.nspname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
                "where c.relname = 'fct_pull_requests' and c.relkind in ('r', 'v', 'm', 'p', 'f') "
                "order by n.nspname = current_schema() desc, n.nspname").fetchall() if not is_build_schema(s)]
            schema = candidates[0] if candidates else None
            build: dict[str, Any] | None = None
            if schema is not None:
                record = conn.execute(
                    "select case when to_regclass(format('%%I.%%I', %s::text, %s::text)) is not null then 1 end",
                    [schema, BUILD_TABLE]).fetchone()
                if record and record[0]:
                    row = conn.execute(f'select to_jsonb(b) from "{schema}".{BUILD_TABLE} b').fetchone()  # noqa: S608
                    build = row[0] if row else None
            build_schema = (build or {}).get("build_schema")
            tables: frozenset[str] = frozenset()
            if build_schema:
                tables = _build_tables.get((url, build_schema)) or _tables_of(conn, build_schema)
                if tables:
                    _build_tables[(url, build_schema)] = tables
                    schema = build_schema
                else:  # dropped by hand: read live, uncached, rather than nothing
                    build_schema = None
            if not build_schema and schema is not None:
                tables = _tables_of(conn, schema)
    except Exception as exc:
        return EmptyWarehouse(f"Cannot read the Postgres warehouse {label} (DATABASE_URL): "
                              f"{type(exc).__name__}", fill_commands())
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if schema is None or missing:
        return EmptyWarehouse(f"The warehouse {label} has no {', '.join(missing)} table: "
                              "the marts have not been built.", fill_commands())
    if not build_schema or build is None:
        return Source(kind="postgres", label=label, key=label, build_id="live", published_at=None, tables=tables,
                      url=url, schema=schema)
    published_at = datetime.fromisoformat(build["published_at"]) if build.get("published_at") else None
    return Source(kind="postgres", label=label, key=label, build_id=str(build["build_id"]),
                  published_at=published_at, tables=tables, url=url, schema=schema)


def _tables_of(conn: Any, schema: str) -> frozenset[str]:
    return frozenset(r[0] for r in conn.execute(
        "select c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p', 'f')", [schema]).fetchall())


@contextmanager
def reading(target: DatabaseTarget) -> Iterator[Source]:
    """The live warehouse itself (not the published build), read only, over one connection that is
    closed when the block ends: for the pipeline's own steps (the Sprint Health blob is built before
    the build is published). The source's build_id is "live", so nothing is cached on it."""
    from emd.warehouse import Warehouse

    with Warehouse(target).connect(read_only=True) as conn:
        if target.kind == "duckdb":
            found = conn.execute("select table_name from information_schema.tables "
                                 "where table_catalog = current_database()").fetchall()
            schema = None
        else:
            found = conn.execute("select table_name from information_schema.tables "
                                 "where table_schema = current_schema()").fetchall()
            schema = conn.execute("select current_schema()").fetchone()[0]
        yield Source(kind=target.kind, label=target.describe(), key=f"live:{target.describe()}", build_id="live",
                     published_at=None, tables=frozenset(r[0] for r in found), schema=schema, conn=conn)


# ---------------------------------------------------------------------------------------------
# Running SQL


def postgres_sql(sql: str) -> str:
    """A statement written with `?` placeholders, as psycopg reads it: each `?` outside string literals, quoted
    identifiers and comments becomes `%s`, and every `%` is doubled (psycopg takes a `%` anywhere in the text,
    inside a literal too, for the start of a placeholder). So `'?'` and `like 'a%'` keep their meaning."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = i + 1
            while end < n and not (sql[end] == char and not sql.startswith(char * 2, end)):
                end += 2 if sql.startswith(char * 2, end) else 1
            end = min(end + 1, n)
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
        else:
            out.append("%s" if char == "?" else "%%" if char == "%" else char)
            i += 1
            continue
        out.append(sql[i:end].replace("%", "%%"))
        i = end
    return "".join(out)


def _to_python(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def rows(source: Source, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run one statement (written with `?` placeholders) with bound parameters; rows as dicts.
    Decimals become floats, so both engines answer the same Python types."""
    if source.conn is not None:
        cur = source.conn.cursor()
        try:
            cur.execute(sql if source.kind == "duckdb" else postgres_sql(sql), list(params))
            columns = [d[0] for d in cur.description or []]
            return [dict(zip(columns, (_to_python(v) for v in row), strict=True)) for row in cur.fetchall()]
        finally:
            cur.close()
    if source.kind == "duckdb":
        assert source.path is not None
        cur = _duckdb_connection(source.path).cursor()
        try:
            cur.execute(sql, list(params))
            columns = [d[0] for d in cur.description or []]
            return [dict(zip(columns, (_to_python(v) for v in row), strict=True)) for row in cur.fetchall()]
        finally:
            cur.close()
    with _connection(source.url or "", source.schema) as conn, conn.cursor() as cur:
        cur.execute(postgres_sql(sql), list(params))
        columns = [d.name for d in cur.description or []]
        return [dict(zip(columns, (_to_python(v) for v in row), strict=True)) for row in cur.fetchall()]


def frame(source: Source, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """`rows` as a data frame (typed columns on DuckDB)."""
    if source.conn is not None:
        return pd.DataFrame(rows(source, sql, params))
    if source.kind == "duckdb":
        assert source.path is not None
        cur = _duckdb_connection(source.path).cursor()
        try:
            # DuckDB's own conversion gives typed columns (DECIMAL and HUGEINT sums become float64).
            return cur.execute(sql, list(params)).df()
        finally:
            cur.close()
    with _connection(source.url or "", source.schema) as conn, conn.cursor() as cur:
        cur.execute(postgres_sql(sql), list(params))
        columns = [d.name for d in cur.description or []]
        data = [[_to_python(v) for v in row] for row in cur.fetchall()]
    return pd.DataFrame(data, columns=columns)


# ---------------------------------------------------------------------------------------------
# Engine helpers (twins of dbt_project/macros/cross_db.sql)


def percentile(source: Source, expr: str, fraction: float) -> str:
    """Continuous percentile (linear interpolation) of `expr`, a column expression of the layer."""
    if source.kind == "duckdb":
        return f"quantile_cont({expr}, {float(fraction)})"
    return f"percentile_cont({float(fraction)}) within group (order by {expr})"


def hours_between(start: str, end: str) -> str:
    return f"(extract(epoch from ({end} - {start})) / 3600.0)"


def bucket(column: str, granularity: str) -> str:
    """The UTC day, or the ISO week's Monday, of a timestamp column, as a date."""
    return f"cast(date_trunc('{GRANULARITIES[granularity]}', {column}) as date)"


# ---------------------------------------------------------------------------------------------
# Values


def number(value: Any) -> float | None:
    """A SQL result as a float; NULL and NaN are None."""
    if value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(result) else result


def as_date(value: Any) -> date | None:
    """A SQL date/timestamp (or pandas Timestamp) as a date; NULL/NaT are None."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()
