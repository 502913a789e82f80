"""The `agreement_nudges` table: every Slack message the working-agreement nudges posted, with the breaches it
lists. A breach listed in any stored message is never posted again; a re-run edits stored messages
(chat.update) instead of posting new ones, like the Sprint Health post (emd/sprint_health.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from emd.warehouse import Warehouse

TABLE = "agreement_nudges"

COLUMNS: list[tuple[str, str]] = [
    ("message_key", "text"),      # "breaches:<team>:<hash of its breach ids>" or "digest:<team>:<local date>"
    ("team", "text"), ("kind", "text"),  # breaches | digest
    ("period", "text"),           # the local date of a digest; the UTC time of the refresh that found the breaches
    ("breach_ids_json", "text"),  # JSON list of fct_agreement_breaches.breach_id
    ("slack_channel", "text"), ("slack_ts", "text"), ("slack_message_json", "text"), ("posted_at", "timestamp"),
]
COLUMN_NAMES = [c for c, _ in COLUMNS]


@dataclass
class NudgeRow:
    message_key: str
    team: str
    kind: str
    period: str
    breach_ids_json: str
    slack_channel: str | None
    slack_ts: str | None
    slack_message_json: str | None
    posted_at: datetime | None

    @property
    def breach_ids(self) -> list[str]:
        return list(json.loads(self.breach_ids_json))

    def values(self) -> list[Any]:
        return [getattr(self, f.name) for f in fields(self)]


assert [f.name for f in fields(NudgeRow)] == COLUMN_NAMES


def _ph(wh: Warehouse) -> str:
    return "?" if wh.kind == "duckdb" else "%s"


def ensure_table(conn: Any) -> None:
    cols = ", ".join(f"{name} {ctype}" for name, ctype in COLUMNS)
    conn.execute(f"create table if not exists {TABLE} ({cols})")


def read_nudges(wh: Warehouse) -> dict[str, NudgeRow]:
    with wh.connect() as conn:
        ensure_table(conn)
        rows = conn.execute(f"select {', '.join(COLUMN_NAMES)} from {TABLE}").fetchall()  # noqa: S608 - constants
    return {row[0]: NudgeRow(*row) for row in rows}


def record_nudge(wh: Warehouse, row: NudgeRow) -> None:
    """Insert or replace one message's row, in one transaction (called right after each post or edit, so a
    failure on a later team never causes a duplicate for this one)."""
    ph = _ph(wh)
    with wh.connect() as conn:
        ensure_table(conn)
        if wh.kind == "duckdb":
            conn.execute("begin transaction")
        try:
            conn.execute(f"delete from {TABLE} where message_key = {ph}", [row.message_key])  # noqa: S608
            conn.execute(f"insert into {TABLE} ({', '.join(COLUMN_NAMES)}) "  # noqa: S608 - constants
                         f"values ({', '.join([ph] * len(COLUMN_NAMES))})", row.values())
            if wh.kind == "duckdb":
                conn.execute("commit")
        except BaseException:
            if wh.kind == "duckdb":
                conn.execute("rollback")
            raise
