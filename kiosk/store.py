"""The kiosk's SQLite file: allocated numbers, the service day, and the outbox to the caller.

Every number is committed (WAL, synchronous=FULL) before a byte goes to the
printer. A ticket row is ``allocated`` -> ``printed`` or ``void``. Before the first
byte is written, the intent to print (the ticket's payload) is committed in
``printing``; it leaves that table in the transaction that marks the ticket printed
or void. So at start a row still ``allocated`` without an intent never reached the
printer (void: never reused, never sent), and one with an intent may have: it is in
doubt, and goes to the caller marked so (never voided). A printed ticket enters the
outbox in the same transaction that marks it printed, and leaves it only when the
caller confirms its id. No personal data is kept but the citizen's name inside an outbox or
intent payload, which is deleted once delivered.

A write that fails (disk full, I/O error) raises StorageError and leaves nothing half
done (the transaction is rolled back); the daemon refuses presses until writes work.
A database file that is empty or damaged is moved aside at open, with a log line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from motcua.durable import open_durable
from motcua.errors import HardwareError

from .numbering import NumberRange

log = logging.getLogger(__name__)

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
CREATE TABLE IF NOT EXISTS printing (ticket_id TEXT PRIMARY KEY, payload BLOB NOT NULL);
"""


class StorageError(HardwareError):
    """A write to the kiosk's database failed (disk full, I/O error); nothing was changed."""



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


@dataclass(frozen=True)
class Intent:
    """A ticket whose bytes may have reached the printer (its intent was recorded)."""

    ticket_id: str
    number: str
    payload: bytes


class TicketStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.set_aside: Path | None = None     # where a damaged file went at open
        self.new = not path.exists()           # no database before: lost, or a first start
        try:
            if path.exists() and path.stat().st_size == 0:
                self._set_aside("it is empty (0 bytes)")
            problem = self._open_and_check()
            if problem:
                self._set_aside(f"it is damaged ({problem})")
                self.db = open_durable(path)
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise HardwareError(f"cannot open the ticket database {path}: {exc}") from exc

    def _open_and_check(self) -> str | None:
        """Open the file; what is wrong with it when SQLite finds it damaged, else None."""
        try:
            self.db = open_durable(self.path)
            rows = self.db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise                   # not damage (disk full, I/O, permissions): say so, keep the file
            with contextlib.suppress(sqlite3.Error, AttributeError):
                self.db.close()
            return str(exc)
        if rows == [("ok",)]:
            return None
        self.db.close()
        return "; ".join(str(r[0]) for r in rows[:3])

    def _set_aside(self, why: str) -> None:
        """Move the file (and its WAL) out of the way, keeping it for a technician."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                os.replace(source, Path(f"{target}{suffix}"))
        self.set_aside = target
        self.new = True
        log.error("the ticket database %s was set aside as %s because %s; a new one is started "
                  "(docs/kiosk.md, \"Damaged database\")", self.path, target.name, why)

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
        """Void numbers allocated whose printing never began (no intent); their labels."""
        unstarted = ("state = 'allocated' AND id NOT IN (SELECT ticket_id FROM printing)")
        with self._write():
            rows = self.db.execute(f"SELECT number FROM tickets WHERE {unstarted} ORDER BY n").fetchall()
            self.db.execute(f"UPDATE tickets SET state = 'void', void_reason = 'interrupted' "
                            f"WHERE {unstarted}")
        return [row[0] for row in rows]

    def intents(self) -> list[Intent]:
        """Tickets whose printing began and was never recorded as done or failed, oldest first."""
        return [Intent(ticket_id, number, bytes(payload)) for ticket_id, number, payload in
                self.db.execute("SELECT p.ticket_id, t.number, p.payload FROM printing p "
                                "JOIN tickets t ON t.id = p.ticket_id ORDER BY t.n")]

    def issued(self, day: date) -> tuple[dict[str, int], dict[str, int]]:
        """Per service, the seq of the day's latest number and how many numbers the day has."""
        last = {service: seq for service, seq in self.db.execute(
            "SELECT service, seq FROM tickets t WHERE day = ? AND n = "
            "(SELECT max(n) FROM tickets WHERE service = t.service AND day = t.day)", (day.isoformat(),))}
        count = dict(self.db.execute("SELECT service, count(*) FROM tickets WHERE day = ? GROUP BY service",
                                     (day.isoformat(),)).fetchall())
        return last, count

    def add_lost(self, numbers: NumberRange, day: date, last_seq: int, missing: int, at: str) -> list[str]:
        """Record ``missing`` numbers ending at ``last_seq`` as issued and lost (void), so the
        day's numbering goes on after them; their labels."""
        seqs = [last_seq - k for k in reversed(range(missing)) if last_seq - k >= numbers.first]
        with self._write():
            for seq in seqs:
                self.db.execute("INSERT INTO tickets (id, service, day, seq, number, priority, state, "
                                "void_reason, allocated_at) VALUES (lower(hex(randomblob(16))), ?, ?, ?, "
                                "?, 0, 'void', 'lost with the database', ?)",
                                (numbers.service, day.isoformat(), seq, numbers.label(seq), at))
        return [numbers.label(seq) for seq in seqs]

    def begin_print(self, ticket_id: str, payload: bytes) -> None:
        """The intent, committed before the first byte goes to the printer."""
        with self._write():
            self.db.execute("INSERT INTO printing (ticket_id, payload) VALUES (?, ?)", (ticket_id, payload))

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
        """Printed (or in doubt: ``payload`` says so), into the outbox, the intent gone: one transaction."""
        with self._write():
            self.db.execute("UPDATE tickets SET state = 'printed' WHERE id = ?", (ticket_id,))
            self.db.execute("DELETE FROM printing WHERE ticket_id = ?", (ticket_id,))
            cursor = self.db.execute("INSERT INTO outbox (ticket_id, payload) VALUES (?, ?)",
                                     (ticket_id, payload))
        return OutboxRow(int(cursor.lastrowid or 0), ticket_id, payload)

    def mark_void(self, ticket_id: str, reason: str) -> None:
        with self._write():
            self.db.execute("UPDATE tickets SET state = 'void', void_reason = ? WHERE id = ?",
                            (reason, ticket_id))
            self.db.execute("DELETE FROM printing WHERE ticket_id = ?", (ticket_id,))

    def probe(self) -> None:
        """A small write, to learn whether writes work again (raises StorageError)."""
        with self._write():
            self.db.execute("INSERT INTO meta VALUES ('probe', ?) ON CONFLICT(key) DO UPDATE "
                            "SET value = excluded.value", (str(time.time()),))

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
        return _Transaction(self.db, self.path)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception; SQLite's failures as StorageError."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        return self.db

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if kind is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.Error as failure:
                self._rollback()
                raise self._failed(failure) from failure
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise self._failed(exc) from exc

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):     # SQLite may have rolled back already
            self.db.execute("ROLLBACK")

    def _failed(self, exc: sqlite3.Error) -> StorageError:
        return StorageError(f"cannot write the ticket database {self.path}: {exc}")
