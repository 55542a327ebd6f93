"""The caller's event log (SQLite, WAL): what it was told, in order, and each ticket's history.

``events`` is the source of truth: the engine's state is rebuilt by replaying it from the
last service-day marker (which carries the tickets still open into that day). ``tickets``
holds one row per ticket with its times, for reports; it is written in the same
transaction as the events that changed it. Both tables keep every day (history stays).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from motcua.durable import open_durable
from motcua.errors import MotcuaError
from motcua.protocol import CounterCommand, Rating, Ticket, encode

from .engine import Event, TicketRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    at TEXT NOT NULL,
    counter TEXT,
    body TEXT NOT NULL,
    UNIQUE (kind, msg_id)
);
CREATE INDEX IF NOT EXISTS events_days ON events (kind) WHERE kind = 'day';
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    service TEXT NOT NULL,
    first_service TEXT,
    number TEXT NOT NULL,
    priority INTEGER NOT NULL,
    name TEXT,
    status TEXT NOT NULL,
    counter TEXT,
    issued_at TEXT NOT NULL,
    called_at TEXT,
    recalled_at TEXT,
    served_at TEXT,
    skipped_at TEXT,
    done_at TEXT,
    expired_at TEXT,
    rating INTEGER,
    rated_at TEXT
);
CREATE INDEX IF NOT EXISTS tickets_by_day ON tickets (day);
"""

TICKET_COLUMNS = ("id", "day", "service", "first_service", "number", "priority", "name", "status",
                  "counter", "issued_at", "called_at", "recalled_at", "served_at", "skipped_at",
                  "done_at", "expired_at", "rating", "rated_at")


class StoreError(MotcuaError):
    """The event log cannot be opened or written."""


PAGE_CACHE_KIB = 1024


class EventStore:
    """Append events inside a transaction; ``commit`` makes a batch durable."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.db = open_durable(self.path, check_same_thread=False)
            # The log is appended to all day and read back only at start: 1 MiB of page
            # cache (SQLite's default is 2) is plenty, and the day's memory stays flat.
            self.db.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
            self.db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"event log {self.path}: {exc}") from None
        self._in_transaction = False

    def close(self) -> None:
        self.db.close()

    # -- writing ---------------------------------------------------------------------
    def begin(self) -> None:
        if not self._in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True

    def append(self, event: Event) -> bool:
        """Log an event; False if one of that kind and id is already logged (a duplicate)."""
        self.begin()
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO events (kind, msg_id, at, counter, body) VALUES (?,?,?,?,?)",
            (event.kind, event.id, event.at.isoformat(), event.counter, _body(event)))
        return cursor.rowcount == 1

    def save_tickets(self, records: Iterable[TicketRecord]) -> None:
        rows = {r.id: r for r in records}.values()
        if not rows:
            return
        self.begin()
        placeholders = ",".join("?" * len(TICKET_COLUMNS))
        self.db.executemany(
            f"INSERT OR REPLACE INTO tickets ({','.join(TICKET_COLUMNS)}) VALUES ({placeholders})",
            [_ticket_row(r) for r in rows])

    def commit(self) -> None:
        if self._in_transaction:
            self.db.execute("COMMIT")
            self._in_transaction = False

    def rollback(self) -> None:
        if self._in_transaction:
            self.db.execute("ROLLBACK")
            self._in_transaction = False

    # -- reading ---------------------------------------------------------------------
    def replay(self) -> Iterator[Event]:
        """The events since the last service-day marker, in order (all, if none yet)."""
        row = self.db.execute("SELECT max(seq) FROM events WHERE kind = 'day'").fetchone()
        start = row[0] or 0
        cursor = self.db.execute(
            "SELECT kind, msg_id, at, counter, body FROM events WHERE seq >= ? ORDER BY seq", (start,))
        for kind, msg_id, at, counter, body in cursor:
            yield _event(kind, msg_id, datetime.fromisoformat(at), counter, body)

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return self.db.execute("SELECT count(*) FROM events").fetchone()[0]
        return self.db.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0]


def _body(event: Event) -> str:
    if event.kind == "ticket" and event.ticket is not None:
        return encode(event.ticket).decode()
    if event.kind == "command" and event.command is not None:
        return encode(event.command).decode()
    if event.kind == "rating" and event.rating is not None:
        return encode(event.rating).decode()
    if event.kind == "day":
        return json.dumps({"day": event.day, "carry": [r.as_dict() for r in event.carry or ()]},
                          ensure_ascii=False)
    raise StoreError(f"cannot log a {event.kind} event without its message")


def _event(kind: str, msg_id: str, at: datetime, counter: str | None, body: str) -> Event:
    raw = body.encode()
    if kind == "ticket":
        return Event(kind, msg_id, at, ticket=Ticket.decode(raw))
    if kind == "command":
        return Event(kind, msg_id, at, counter=counter, command=CounterCommand.decode(raw))
    if kind == "rating":
        return Event(kind, msg_id, at, counter=counter, rating=Rating.decode(raw))
    if kind == "day":
        data = json.loads(body)
        return Event(kind, msg_id, at, day=data["day"],
                     carry=tuple(TicketRecord.from_dict(r) for r in data["carry"]))
    raise StoreError(f"unknown event kind {kind!r} in the log")


def _ticket_row(record: TicketRecord) -> tuple:
    values = record.as_dict()
    values["priority"] = int(record.priority)
    return tuple(values[column] for column in TICKET_COLUMNS)
