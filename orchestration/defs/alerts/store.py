"""The `agreement_nudges` table: every Slack message the working-agreement nudges posted, with the breaches it
lists. A breach listed in any stored message is never posted again; a re-run edits stored messages
(chat.update) instead of posting new ones, like the Sprint Health post (emd/sprint_health.py). Kept in the record
store (emd/records.py: a SQLite file beside a DuckDB warehouse, the warehouse's schema on Postgres).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from emd.records import RecordStore, RecordTable, adopt_from_warehouse
from emd.warehouse import Warehouse

COLUMNS: tuple[tuple[str, str], ...] = (
    ("message_key", "text"),      # "breaches:<team>:<hash of its breach ids>" or "digest:<team>:<local date>"
    ("team", "text"), ("kind", "text"),  # breaches | digest
    ("period", "text"),           # the local date of a digest; the UTC time of the refresh that found the breaches
    ("breach_ids_json", "text"),  # JSON list of fct_agreement_breaches.breach_id
    ("slack_channel", "text"), ("slack_ts", "text"), ("slack_message_json", "text"), ("posted_at", "timestamp"),
)
TABLE = RecordTable("agreement_nudges", COLUMNS, key=("message_key",))
COLUMN_NAMES = TABLE.column_names


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


def read_nudges(wh: Warehouse) -> dict[str, NudgeRow]:
    """Every stored message. Called by the alert assets, which hold the warehouse pool: the nudges a DuckDB
    warehouse held before the record store are moved into it first (once)."""
    adopt_from_warehouse(TABLE, wh)
    return {row[0]: NudgeRow(*row) for row in TABLE.read(RecordStore.of(wh))}


def record_nudge(wh: Warehouse, row: NudgeRow) -> None:
    """Insert or replace one message's row, in one transaction (called right after each post or edit, so a
    failure on a later team never causes a duplicate for this one)."""
    with TABLE.writing(RecordStore.of(wh)) as writes:
        writes.replace(row.values())
