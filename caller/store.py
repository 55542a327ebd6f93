"""The caller's event log (SQLite, WAL): what it was told, in order, and each ticket's history.

``events`` is the source of truth: the engine's state is rebuilt by replaying it from the
last service-day marker (which carries the tickets still open into that day). ``tickets``
holds one row per ticket with its times, for reports; it is written in the same
transaction as the events that changed it. Both tables keep every day (history stays).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import struct
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from motcua.durable import open_durable
from motcua.errors import MotcuaError
from motcua.protocol import CounterCommand, Rating, Ticket, encode

from .engine import Event, EventKind, TicketRecord

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


class DamagedLog(StoreError):
    """The event log's file is damaged (not a database, a malformed page)."""


PAGE_CACHE_KIB = 1024
PROBE_BYTES = 256 * 1024            # the room a probe asks for before the caller takes work again
WAL_KEPT_BYTES = 4 * 1024 * 1024    # a WAL grown by a burst is cut back to this after a checkpoint


class EventStore:
    """Append events inside a transaction; ``commit`` makes a batch durable.

    ``sync_apart=True`` (the caller daemon): ``commit`` returns once the batch is in the
    WAL file but not yet on disk (synchronous=NORMAL), and ``sync`` puts it there with
    an fsync of the WAL, which another thread may call while the owner goes on. The
    caller acknowledges a message only after that fsync, so a power cut still loses
    nothing acknowledged, and a press that arrives during the fsync is not held up by it.
    Checkpoints (which fsync the WAL and the database) are then ``checkpoint``'s job, on
    that other thread too, rather than SQLite's every 1,000 pages inside a commit.
    """

    def __init__(self, path: str | Path, *, sync_apart: bool = False) -> None:
        self.path = Path(path)
        self._in_transaction = False
        self._wal_fd: int | None = None
        self._checkpointer: sqlite3.Connection | None = None
        try:
            self.db = open_durable(self.path, check_same_thread=False)
            if sync_apart:
                # In WAL mode NORMAL never corrupts; durability is sync()'s job.
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute("PRAGMA wal_autocheckpoint=0")
                self.db.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
            # The log is appended to all day and read back only at start: 1 MiB of page
            # cache (SQLite's default is 2) is plenty, and the day's memory stays flat.
            self.db.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
            self.db.executescript(SCHEMA)
            if sync_apart:
                # Opened now, so the daemon's open files do not change later in the day.
                self._checkpointer = open_durable(self.path, check_same_thread=False)
                self._checkpointer.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
        except (sqlite3.Error, OSError) as exc:
            if hasattr(self, "db"):
                self.db.close()
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
                raise DamagedLog(f"event log {self.path}: {exc}") from None
            raise StoreError(f"event log {self.path}: {exc}") from None

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self.db.close()
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None

    def sync(self) -> None:
        """Put every committed batch on disk (fsync of the WAL). One thread at a time."""
        if self._wal_fd is None:
            # The WAL exists from the first write on and stays while the connection is
            # open (checkpoints rewind it, never replace it); its directory entry once.
            try:
                self._wal_fd = os.open(f"{self.path}-wal", os.O_RDONLY)
            except FileNotFoundError:     # nothing written since the file was opened
                return
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        os.fsync(self._wal_fd)

    def checkpoint(self) -> tuple[int, int]:
        """Copy the committed pages of the WAL into the database file, on a connection of
        its own (PASSIVE: never waits for the writer, which rewinds the WAL at its next
        commit once all is copied). Returns (frames in the WAL, frames copied). One
        thread at a time, ``sync_apart`` stores only; raises sqlite3.Error."""
        assert self._checkpointer is not None, "checkpoint() is for sync_apart stores"
        _, frames, copied = self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return frames, copied

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
        """Undo the open transaction (SQLite may have undone it already, e.g. when full)."""
        if self._in_transaction:
            self._in_transaction = False
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")

    def probe(self) -> None:
        """Can the log be written again? A committed write of PROBE_BYTES, then its removal;
        raises sqlite3.Error if not. Outside any batch (the owner calls it while refusing)."""
        self.rollback()
        self.db.execute("CREATE TABLE IF NOT EXISTS probe (k INTEGER PRIMARY KEY, v BLOB)")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT OR REPLACE INTO probe VALUES (1, zeroblob(?))", (PROBE_BYTES,))
            self.db.execute("COMMIT")
        finally:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        self.db.execute("DELETE FROM probe")

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
    if event.kind == EventKind.TICKET and event.ticket is not None:
        return encode(event.ticket).decode()
    if event.kind == EventKind.COMMAND and event.command is not None:
        return encode(event.command).decode()
    if event.kind == EventKind.RATING and event.rating is not None:
        return encode(event.rating).decode()
    if event.kind == EventKind.DAY:
        return json.dumps({"day": event.day, "carry": [r.as_dict() for r in event.carry or ()]},
                          ensure_ascii=False)
    raise StoreError(f"cannot log a {event.kind} event without its message")


def _event(text: str, msg_id: str, at: datetime, counter: str | None, body: str) -> Event:
    raw = body.encode()
    if text not in EventKind.__members__.values():
        raise StoreError(f"unknown event kind {text!r} in the log")
    kind = EventKind(text)
    if kind == EventKind.TICKET:
        return Event(kind, msg_id, at, ticket=Ticket.decode(raw))
    if kind == EventKind.COMMAND:
        return Event(kind, msg_id, at, counter=counter, command=CounterCommand.decode(raw))
    if kind == EventKind.RATING:
        return Event(kind, msg_id, at, counter=counter, rating=Rating.decode(raw))
    data = json.loads(body)          # EventKind.DAY
    return Event(kind, msg_id, at, day=data["day"],
                 carry=tuple(TicketRecord.from_dict(r) for r in data["carry"]))


def _ticket_row(record: TicketRecord) -> tuple:
    values = record.as_dict()
    values["priority"] = int(record.priority)
    return tuple(values[column] for column in TICKET_COLUMNS)


# -- damaged logs ------------------------------------------------------------------------
WAL_MAGIC = (0x377F0682, 0x377F0683)    # little- and big-endian checksums


def wal_damage(path: Path) -> str | None:
    """What a damaged WAL file would silently lose, or None if it reads whole.

    SQLite stops reading a WAL at the first frame whose checksum fails and ignores the rest
    without a word; frames after it that carry the WAL's own salts were committed writes
    (events the caller acknowledged), not leftovers of an earlier WAL."""
    try:
        data = Path(f"{path}-wal").read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < 32:
        return None
    magic, _, page_size, _, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:32])
    if magic not in WAL_MAGIC or page_size < 512 or page_size & (page_size - 1):
        return f"{path}-wal has no valid WAL header"
    order = ">" if magic & 1 else "<"
    s0, s1 = _wal_checksum(data[:24], order, 0, 0)
    if (s0, s1) != (c1, c2):
        return f"{path}-wal has a damaged header"
    frame = 24 + page_size
    offset, good, bad_at = 32, 0, None
    ours_after = 0
    while offset + frame <= len(data):
        header = data[offset:offset + 24]
        _, _, fs1, fs2, fc1, fc2 = struct.unpack(">6I", header)
        if (fs1, fs2) == (salt1, salt2):
            if bad_at is None:
                s0, s1 = _wal_checksum(header[:8] + data[offset + 24:offset + frame], order, s0, s1)
                if (s0, s1) == (fc1, fc2):
                    good += 1
                else:
                    bad_at = good
            else:
                ours_after += 1
        elif bad_at is None:
            break                   # the end of this WAL: what follows is an earlier one's
        offset += frame
    if bad_at is None or ours_after == 0:
        return None
    return (f"{path}-wal is damaged at frame {bad_at + 1}: the {ours_after} frames after it "
            "(committed events) cannot be read")


def _wal_checksum(data: bytes, order: str, s0: int, s1: int) -> tuple[int, int]:
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def quick_check(path: Path) -> str | None:
    """SQLite's quick_check of the whole file (seconds for a year's log): None if whole."""
    try:
        db = sqlite3.connect(path)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    problems = [row[0] for row in rows if row[0] != "ok"]
    return "; ".join(problems[:3]) or None


def set_aside(path: Path, *, copy: bool = False) -> Path:
    """Keep a damaged event log (and its -wal, -shm) next to it as ``<name>.damaged-<UTC time>``;
    ``copy`` leaves the files in place (SQLite still reads what is whole), else they move."""
    stamp = datetime.now().astimezone().strftime("%Y%m%dT%H%M%S%z")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            target = Path(f"{aside}{suffix}")
            if copy:
                shutil.copy2(source, target)
            else:
                os.replace(source, target)
    return aside
