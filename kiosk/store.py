"""The kiosk's SQLite file: allocated numbers, the service day, and the outbox to the caller.

Every number is committed (WAL, synchronous=FULL) before a byte goes to the
printer. A ticket row is ``allocated`` -> ``printed`` or ``void``; a row still
``allocated`` when the kiosk starts was interrupted mid-print, so it becomes
void: never reused, never sent. A printed ticket enters the outbox in the same
transaction that marks it printed, and leaves it only when the caller confirms its id.
No personal data is kept but the citizen's name inside an outbox payload, which
is deleted once delivered.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from motcua.durable import open_durable
from motcua.errors import HardwareError

from .numbering import NumberRange

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    day TEXT NOT NULL,
    seq INTEGER NOT NULL,
    number TEXT NOT NULL,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('allocated', 'printed', 'void')),
    void_reason TEXT,
    allocated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_by_day ON tickets (service, day, n);
CREATE TABLE IF NOT EXISTS outbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id TEXT NOT NULL,
    payload BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class Allocation:
    id: str
    service: str
    day: date
    seq: int
    number: str
    priority: bool


@dataclass(frozen=True)
class OutboxRow:
    n: int
    ticket_id: str
    payload: bytes


class TicketStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = open_durable(path)
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise HardwareError(f"cannot open the ticket database {path}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    # -- the service day -------------------------------------------------------
    def last_day(self) -> date | None:
        """The latest service day ever used (kept, so the day never goes backwards)."""
        row = self.db.execute(
            "SELECT max(day) FROM (SELECT value AS day FROM meta WHERE key = 'day' "
            "UNION ALL SELECT max(day) FROM tickets)").fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def save_day(self, day: date) -> None:
        with self._write():
            self.db.execute("INSERT INTO meta VALUES ('day', ?) ON CONFLICT(key) DO UPDATE "
                            "SET value = excluded.value WHERE excluded.value > meta.value",
                            (day.isoformat(),))

    # -- tickets -----------------------------------------------------------------
    def void_interrupted(self) -> list[str]:
        """Mark numbers allocated but never recorded as printed void; their labels."""
        with self._write():
            rows = self.db.execute("SELECT number FROM tickets WHERE state = 'allocated'").fetchall()
            self.db.execute("UPDATE tickets SET state = 'void', void_reason = 'interrupted' "
                            "WHERE state = 'allocated'")
        return [row[0] for row in rows]

    def allocate(self, ticket_id: str, numbers: NumberRange, day: date, *, priority: bool,
                 at: str) -> Allocation:
        """Take the next number of a service for a day, committed before it is returned.

        Raises RangeExhausted when the range is used up and must stop.
        """
        with self._write():
            row = self.db.execute("SELECT seq FROM tickets WHERE service = ? AND day = ? "
                                  "ORDER BY n DESC LIMIT 1",
                                  (numbers.service, day.isoformat())).fetchone()
            seq = numbers.next_after(row[0] if row else None)
            allocation = Allocation(ticket_id, numbers.service, day, seq, numbers.label(seq), priority)
            self.db.execute("INSERT INTO tickets (id, service, day, seq, number, priority, state, "
                            "allocated_at) VALUES (?, ?, ?, ?, ?, ?, 'allocated', ?)",
                            (ticket_id, numbers.service, day.isoformat(), seq, allocation.number,
                             int(priority), at))
        return allocation

    def mark_printed(self, ticket_id: str, payload: bytes) -> OutboxRow:
        """Printed, and into the outbox, in one transaction."""
        with self._write():
            self.db.execute("UPDATE tickets SET state = 'printed' WHERE id = ?", (ticket_id,))
            cursor = self.db.execute("INSERT INTO outbox (ticket_id, payload) VALUES (?, ?)",
                                     (ticket_id, payload))
        return OutboxRow(int(cursor.lastrowid or 0), ticket_id, payload)

    def mark_void(self, ticket_id: str, reason: str) -> None:
        with self._write():
            self.db.execute("UPDATE tickets SET state = 'void', void_reason = ? WHERE id = ?",
                            (reason, ticket_id))

    def state_of(self, ticket_id: str) -> str | None:
        row = self.db.execute("SELECT state FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return row[0] if row else None

    # -- the outbox --------------------------------------------------------------
    def outbox(self) -> list[OutboxRow]:
        """Undelivered tickets, oldest first."""
        return [OutboxRow(n, ticket_id, bytes(payload)) for n, ticket_id, payload in
                self.db.execute("SELECT n, ticket_id, payload FROM outbox ORDER BY n")]

    def delivered(self, n: int) -> None:
        with self._write():
            self.db.execute("DELETE FROM outbox WHERE n = ?", (n,))

    def _write(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
