"""The `sprint_health` table (RULES.md): one row per (team, period_kind, period_id), read by the dashboard.

It lives in the record store (emd/records.py: on DuckDB a SQLite file beside the warehouse, never the live
warehouse file; on Postgres the warehouse's schema) and is copied into every published build (emd/snapshot.py),
which is what the dashboard and the API's card routes read. Rewriting a card keeps the row's Slack columns
(channel, ts, message, posted_at), so a re-run of the card asset, or a rebuild of the warehouse, never loses
track of the message already posted for that period.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from emd.records import RecordStore, RecordTable, adopt_from_warehouse
from emd.warehouse import Warehouse

COLUMNS: tuple[tuple[str, str], ...] = (
    ("team", "text"), ("period_kind", "text"), ("period_id", "text"), ("period_name", "text"),
    ("period_start", "timestamp"), ("period_end", "timestamp"), ("metrics_json", "text"), ("metrics_hash", "text"),
    ("prompt_version", "text"), ("model", "text"), ("source", "text"), ("card_json", "text"), ("card_text", "text"),
    ("tokens_used", "integer"), ("slack_channel", "text"), ("slack_ts", "text"), ("slack_message_json", "text"),
    ("generated_at", "timestamp"), ("posted_at", "timestamp"),
    # Beyond the RULES.md contract: why a card is the rule-based one (NULL for model cards).
    ("fallback_reason", "text"),
)
TABLE = RecordTable("sprint_health", COLUMNS, key=("team", "period_kind", "period_id"))
COLUMN_NAMES = TABLE.column_names
SLACK_COLUMNS = ("slack_channel", "slack_ts", "slack_message_json", "posted_at")


@dataclass
class SprintHealthRow:
    team: str
    period_kind: str
    period_id: str
    period_name: str
    period_start: datetime
    period_end: datetime
    metrics_json: str
    metrics_hash: str
    prompt_version: str
    model: str | None
    source: str
    card_json: str
    card_text: str
    tokens_used: int
    slack_channel: str | None
    slack_ts: str | None
    slack_message_json: str | None
    generated_at: datetime
    posted_at: datetime | None
    fallback_reason: str | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.team, self.period_kind, self.period_id)

    def values(self) -> list[Any]:
        return [getattr(self, f.name) for f in fields(self)]


assert [f.name for f in fields(SprintHealthRow)] == COLUMN_NAMES


def adopt_legacy(wh: Warehouse) -> int:
    """Move the cards a DuckDB warehouse held before the record store into it (once); for the steps that hold
    the warehouse pool only (emd/records.py `adopt_from_warehouse`)."""
    return adopt_from_warehouse(TABLE, wh)


def read_rows(wh: Warehouse) -> dict[tuple[str, str, str], SprintHealthRow]:
    """Every card of `wh`'s record store (never opens the live DuckDB file)."""
    records = [SprintHealthRow(*row) for row in TABLE.read(RecordStore.of(wh))]
    return {record.key: record for record in records}


def upsert_rows(wh: Warehouse, rows: Iterable[SprintHealthRow], keep_slack: bool = True,
                keep_only: set[tuple[str, str, str]] | None = None) -> int:
    """Write rows in one transaction; `keep_slack` carries the stored Slack columns over to the new row.
    With `keep_only`, rows of other (team, period_kind, period_id) are deleted (periods that no longer exist).
    Two card runs at once (the sprint sensor's and the Monday schedule's): the later waits and reads what
    the earlier wrote (RecordTable.writing)."""
    rows = list(rows)
    with TABLE.writing(RecordStore.of(wh)) as writes:
        stored = [SprintHealthRow(*row) for row in writes.rows()]
        existing = {record.key: record for record in stored}
        if keep_only is not None:
            for key in set(existing) - keep_only:
                writes.delete(key)
        for row in rows:
            old = existing.get(row.key) if keep_slack else None
            if old is not None:
                for column in SLACK_COLUMNS:
                    setattr(row, column, getattr(old, column))
            writes.replace(row.values())
    return len(rows)


def record_post(wh: Warehouse, key: Sequence[str], channel: str, ts: str, message_json: str,
                posted_at: datetime) -> None:
    """Record where a card was posted, in the record store (the API's `POST /slack/summaries` calls this while a
    run may hold the live DuckDB file)."""
    with TABLE.writing(RecordStore.of(wh)) as writes:
        writes.update(key, {"slack_channel": channel, "slack_ts": ts, "slack_message_json": message_json,
                            "posted_at": posted_at})
