"""Small tables our own code writes beside dbt's marts (the Sprint Health cards, the working-agreement
nudges): their columns, created on first use, and rows replaced by key in one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from emd.warehouse import Warehouse, transaction


@dataclass(frozen=True)
class RecordTable:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, SQL type), in order
    key: tuple[str, ...]  # the columns that identify a row (no primary key: see `ensure`)

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def ensure(self, conn: Any) -> None:
        # No primary key: delete-then-insert of one key in a transaction trips DuckDB's eager constraint check.
        cols = ", ".join(f"{name} {ctype}" for name, ctype in self.columns)
        conn.execute(f"create table if not exists {self.name} ({cols})")

    def select(self, conn: Any) -> list[tuple]:
        """Every row, its columns in order (the table is created when missing)."""
        self.ensure(conn)
        return conn.execute(f"select {', '.join(self.column_names)} from {self.name}").fetchall()  # noqa: S608

    def read(self, wh: Warehouse) -> list[tuple]:
        with wh.connect() as conn:
            return self.select(conn)

    @contextmanager
    def writing(self, wh: Warehouse) -> Iterator[RecordWrites]:
        """One transaction over the table. On Postgres the table is locked in exclusive mode (readers are not
        blocked): of two writers at once, the later waits and reads what the earlier wrote; unlocked, both
        would delete-then-insert one key and it would land twice."""
        with wh.connect() as conn:
            self.ensure(conn)
            with transaction(conn, wh.kind):
                if wh.kind != "duckdb":
                    conn.execute(f"lock table {self.name} in exclusive mode")
                yield RecordWrites(self, conn, "?" if wh.kind == "duckdb" else "%s")


@dataclass(frozen=True)
class RecordWrites:
    """The writes of one `RecordTable.writing` transaction."""
    table: RecordTable
    conn: Any
    ph: str

    def rows(self) -> list[tuple]:
        return self.table.select(self.conn)

    def delete(self, key: Sequence[Any]) -> None:
        where = " and ".join(f"{column} = {self.ph}" for column in self.table.key)
        self.conn.execute(f"delete from {self.table.name} where {where}", list(key))  # noqa: S608 - constants

    def insert(self, values: Sequence[Any]) -> None:
        names = self.table.column_names
        self.conn.execute(f"insert into {self.table.name} ({', '.join(names)}) "  # noqa: S608 - constants
                          f"values ({', '.join([self.ph] * len(names))})", list(values))

    def replace(self, values: Sequence[Any]) -> None:
        """Insert the row, after deleting any row of its key."""
        names = self.table.column_names
        self.delete([values[names.index(column)] for column in self.table.key])
        self.insert(values)
