"""Small tables our own code writes beside dbt's marts: their columns, created on first use, and rows replaced by
key in one transaction. One mechanism, `RecordTable`, over two places:

- the warehouse itself (a `Warehouse`): the ingestion log (emd/ingestion_log.py), written by the ingestion steps,
  which hold Dagster's `warehouse` pool anyway;
- the record store (`RecordStore`): the Slack and card records -- the Sprint Health cards with the channel and
  ts of their posted message (emd/sprint_health.py), the working-agreement nudges (orchestration/defs/alerts/
  store.py). They are written by the API's `POST /slack/summaries` and by posts outside the dbt build, so on
  DuckDB they never touch the live warehouse file, which one writer at a time may open: they live in a SQLite
  file beside it (`data/warehouse.records.sqlite` for `data/warehouse.duckdb`; stdlib sqlite3, so no DuckDB
  extension is needed). On Postgres, which has no single-writer lock, the store is the warehouse's own schema
  (the tables dbt never builds or replaces). The published build copies the cards from the store
  (emd/snapshot.py), so the dashboard and the API read them with the build.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from emd.settings import DatabaseTarget
from emd.warehouse import Warehouse, WarehouseError, transaction

SQLITE_BUSY_SECONDS = 30.0  # a writer waits this long for another one's transaction (two card posts at once)


def records_path(target: DatabaseTarget) -> Path:
    """The SQLite record store of a DuckDB warehouse: `<warehouse>.records.sqlite` beside the live file."""
    assert target.kind == "duckdb" and target.duckdb_path is not None
    live = target.duckdb_path
    return live.with_name(f"{live.stem}.records.sqlite")


class RecordStore:
    """Where the Slack and card records live (module docstring): a SQLite file beside a DuckDB warehouse, the
    warehouse's own schema on Postgres. Never opens the live DuckDB file."""

    def __init__(self, target: DatabaseTarget):
        self.target = target
        self.kind = "sqlite" if target.kind == "duckdb" else target.kind
        self.path = records_path(target) if self.kind == "sqlite" else None

    @classmethod
    def of(cls, warehouse: Warehouse) -> RecordStore:
        return cls(warehouse.target)

    def describe(self) -> str:
        return f"sqlite:{self.path}" if self.path is not None else self.target.describe()

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A connection; committed on success, rolled back on error, always closed. SQLite: autocommit
        (transactions are begun by `RecordTable.writing`)."""
        if self.path is None:
            with Warehouse(self.target).connect() as conn:
                yield conn
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=SQLITE_BUSY_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise WarehouseError(f"cannot open the record store {self.path}: {exc}") from None
        try:
            yield conn
        finally:
            conn.close()

    def has(self, table: str) -> bool:
        """Whether the table exists (without creating it)."""
        with self.connect() as conn:
            if self.path is not None:
                return conn.execute("select count(*) from sqlite_master where type = 'table' and name = ?",
                                    [table]).fetchone()[0] > 0
            return conn.execute("select count(*) from information_schema.tables where table_schema = current_schema() "
                                "and table_name = %s", [table]).fetchone()[0] > 0


Place = Warehouse | RecordStore


def _is_sqlite(conn: Any) -> bool:
    return isinstance(conn, sqlite3.Connection)


@dataclass(frozen=True)
class RecordTable:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, SQL type), in order
    key: tuple[str, ...]  # the columns that identify a row (no primary key: see `ensure`); () for one row

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def ensure(self, conn: Any, wh: Warehouse | None = None) -> None:
        # No primary key: delete-then-insert of one key in a transaction trips DuckDB's eager constraint check.
        if wh is not None:  # on Postgres: created in a transaction of its own, so parallel writers do not collide
            wh.create_tables(conn, [(self.name, self.columns)])
            return
        cols = ", ".join(f"{name} {ctype}" for name, ctype in self.columns)
        conn.execute(f"create table if not exists {self.name} ({cols})")

    def select(self, conn: Any) -> list[tuple]:
        """Every row, its columns in order (the table is created when missing)."""
        self.ensure(conn)
        found = conn.execute(f"select {', '.join(self.column_names)} from {self.name}").fetchall()  # noqa: S608
        return [self._from_sqlite(row) for row in found] if _is_sqlite(conn) else found

    def read(self, place: Place) -> list[tuple]:
        with place.connect() as conn:
            return self.select(conn)

    @contextmanager
    def writing(self, place: Place) -> Iterator[RecordWrites]:
        """One transaction over the table. On Postgres the table is locked in exclusive mode (readers are not
        blocked), in SQLite the file (`begin immediate`): of two writers at once, the later waits and reads what
        the earlier wrote; unlocked, both would delete-then-insert one key and it would land twice."""
        with place.connect() as conn:
            # On Postgres the table is created in a transaction of its own (Warehouse.create_tables), so two
            # first writers at once (parallel steps on Celery workers) do not collide in the catalog.
            self.ensure(conn, Warehouse(place.target) if place.kind == "postgres" else None)
            if _is_sqlite(conn):
                conn.execute("begin immediate")
                try:
                    yield RecordWrites(self, conn, "?")
                    conn.execute("commit")
                except BaseException:
                    conn.execute("rollback")
                    raise
                return
            with transaction(conn, place.kind):
                if place.kind != "duckdb":
                    conn.execute(f"lock table {self.name} in exclusive mode")
                yield RecordWrites(self, conn, "?" if place.kind == "duckdb" else "%s")

    def _from_sqlite(self, row: Sequence[Any]) -> tuple:
        """SQLite keeps timestamps and dates as ISO text: back to datetime / date by the column's type."""
        out = []
        for (_, ctype), value in zip(self.columns, row, strict=True):
            if isinstance(value, str) and ctype == "timestamp":
                value = datetime.fromisoformat(value)
            elif isinstance(value, str) and ctype == "date":
                value = date.fromisoformat(value)
            out.append(value)
        return tuple(out)


def _to_sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class RecordWrites:
    """The writes of one `RecordTable.writing` transaction."""
    table: RecordTable
    conn: Any
    ph: str

    def _params(self, values: Sequence[Any]) -> list[Any]:
        return [_to_sqlite(v) for v in values] if _is_sqlite(self.conn) else list(values)

    def rows(self) -> list[tuple]:
        return self.table.select(self.conn)

    def delete(self, key: Sequence[Any]) -> None:
        """Delete the row of `key` (a table keyed on no column holds one row: every row)."""
        where = " and ".join(f"{column} = {self.ph}" for column in self.table.key)
        self.conn.execute(f"delete from {self.table.name}" + (f" where {where}" if where else ""),  # noqa: S608 - constants
                          self._params(key))

    def insert(self, values: Sequence[Any]) -> None:
        names = self.table.column_names
        self.conn.execute(f"insert into {self.table.name} ({', '.join(names)}) "  # noqa: S608 - constants
                          f"values ({', '.join([self.ph] * len(names))})", self._params(values))

    def replace(self, values: Sequence[Any]) -> None:
        """Insert the row, after deleting any row of its key."""
        names = self.table.column_names
        self.delete([values[names.index(column)] for column in self.table.key])
        self.insert(values)

    def update(self, key: Sequence[Any], changes: dict[str, Any]) -> None:
        """Set some columns of the row of `key` (nothing when there is no such row)."""
        unknown = set(changes) - set(self.table.column_names)
        if unknown:
            raise ValueError(f"{self.table.name} has no column {', '.join(sorted(unknown))}")
        sets = ", ".join(f"{column} = {self.ph}" for column in changes)
        where = " and ".join(f"{column} = {self.ph}" for column in self.table.key)
        self.conn.execute(f"update {self.table.name} set {sets} where {where}",  # noqa: S608 - constants
                          self._params([*changes.values(), *key]))


def adopt_from_warehouse(table: RecordTable, warehouse: Warehouse, conn: Any | None = None) -> int:
    """Move a record table a DuckDB warehouse held before the record store existed into the store (once: only
    while the store has no such table), then drop it from the warehouse, so there is one copy and a posted card's
    Slack ts is never lost. Called by the steps that hold the warehouse pool (publishing, the card and nudge
    assets), never by the API. Returns the rows moved. `conn`: an open read-write connection to the live file."""
    if warehouse.kind != "duckdb":
        return 0  # on Postgres the store is the warehouse's own schema: nothing to move
    store = RecordStore.of(warehouse)
    if store.has(table.name):
        return 0
    if conn is None:
        with warehouse.connect() as own:
            return adopt_from_warehouse(table, warehouse, own)
    held = conn.execute("select column_name from information_schema.columns where table_catalog = current_database() "
                        "and table_schema = current_schema() and table_name = ?", [table.name]).fetchall()
    if not held:
        return 0
    names = [name for name in table.column_names if name in {r[0] for r in held}]
    found = conn.execute(f"select {', '.join(names)} from {table.name}").fetchall()  # noqa: S608 - constants
    with table.writing(store) as writes:
        for row in found:
            values = dict(zip(names, row, strict=True))
            writes.insert([values.get(name) for name in table.column_names])
    conn.execute(f"drop table {table.name}")
    return len(found)
