"""The web role's own small database (STATE_DIR/web.db): tablet tokens and the tickets it knows.

Tokens are kept as SHA-256 hashes: the database alone does not let anyone rate. The tickets
table lets a restarted web role still show the day's pages and take the ratings of tickets
finished just before (their finish time is kept; the MQTT session keeps only what came while
it was down). Ratings go out through their own durable outbox (web-outbox.db,
motcua.counter.outbox), as a counter pad's presses do.

Both databases are written with synchronous=FULL: an fsync that takes tens of milliseconds on
a Pi's SD card. In the server every write goes to one writer thread (:class:`Writer`), in
order, so the event loop keeps serving the pages meanwhile; a rating is answered only once
its outbox row is on disk. The loop reads through its own connection (WAL: readers do not
wait for the writer).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from motcua.counter.outbox import Outbox

from motcua.durable import open_durable
from motcua.errors import MotcuaError

from .auth import User, UserRole
from .state import Stage, TicketInfo

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,            -- the first 8 hex of the hash: what lists and revoke show
    hash TEXT NOT NULL UNIQUE,
    counter TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    service TEXT NOT NULL,
    day TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    stage TEXT NOT NULL,
    counter TEXT,
    rated INTEGER NOT NULL DEFAULT 0,
    finished_at REAL                -- wall-clock epoch seconds it was finished (the rating window)
);
CREATE INDEX IF NOT EXISTS tickets_by_day ON tickets (day);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,             -- auth.UserRole
    counter TEXT,                   -- a clerk's counter
    password_hash TEXT NOT NULL,    -- scrypt, see auth.hash_password
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
"""


log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreError(MotcuaError):
    """The web role's database cannot be opened or written."""


class Writer:
    """One thread that does every write of the web role's databases, in the order asked."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-db")

    def submit(self, work: Callable[..., T], *args: Any) -> Future[T]:
        return self._pool.submit(work, *args)

    async def now(self, work: Callable[..., T], *args: Any) -> T:
        """Do it and wait for it (the loop serves other pages meanwhile)."""
        return await asyncio.wrap_future(self._pool.submit(work, *args))

    def later(self, work: Callable[..., Any], *args: Any) -> None:
        """Do it after what was asked before; a failure is logged (the pages go on)."""
        self._pool.submit(work, *args).add_done_callback(_log_failure)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _log_failure(done: Future) -> None:
    exc = done.exception()
    if exc is not None:
        log.error("web database: %s", exc)


class RatingsOutbox(Outbox):
    """The ratings' outbox with its disk and its order apart: ``commit`` and ``forget`` run on
    the writer thread (the connection is opened there), the order (delivery.Confirmed, which
    hands rows to paho) stays on the event loop."""

    def commit(self, topic: str, payload: bytes) -> int:
        """Write the row (on disk when this returns); its number, for ``order.add``."""
        return int(self.db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)",
                                   (topic, payload)).lastrowid or 0)

    def forget(self, rows: list[int]) -> None:
        self.db.executemany("DELETE FROM outbox WHERE n = ?", [(n,) for n in rows])


@dataclass(frozen=True)
class Token:
    id: str
    counter: str
    created_at: str
    revoked_at: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WebStore:
    """``db`` writes (the writer thread in the server), ``read`` reads (the event loop)."""

    def __init__(self, path: Path) -> None:
        try:
            self.db = open_durable(path, check_same_thread=False)
            self.db.executescript(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(tickets)")}
            if "finished_at" not in columns:           # a web.db of an earlier version
                self.db.execute("ALTER TABLE tickets ADD COLUMN finished_at REAL")
            self.read = sqlite3.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"web database {path}: {exc}") from None
        self.path = path

    def close(self) -> None:
        self.read.close()
        self.db.close()

    # -- tablet tokens ----------------------------------------------------------------
    def new_token(self, counter: str) -> tuple[str, str]:
        """A fresh token for a counter's tablet: (token, its id). Only the hash is kept."""
        token = secrets.token_urlsafe(24)
        digest = token_hash(token)
        self.db.execute("INSERT INTO tokens (id, hash, counter, created_at) VALUES (?,?,?,?)",
                        (digest[:8], digest, counter, _now()))
        return token, digest[:8]

    def counter_of(self, token: str) -> str | None:
        """The counter a valid (not revoked) token belongs to."""
        row = self.read.execute("SELECT counter FROM tokens WHERE hash = ? AND revoked_at IS NULL",
                                (token_hash(token),)).fetchone()
        return row[0] if row else None

    def tokens(self) -> list[Token]:
        return [Token(*row) for row in self.db.execute(
            "SELECT id, counter, created_at, revoked_at FROM tokens ORDER BY created_at")]

    def revocations(self) -> tuple:
        """What changes when a token is revoked (read by the server's loop)."""
        return self.read.execute("SELECT count(*), max(revoked_at) FROM tokens "
                                 "WHERE revoked_at IS NOT NULL").fetchone()

    def revoke(self, token_id: str) -> bool:
        cursor = self.db.execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                 (_now(), token_id))
        return cursor.rowcount == 1

    # -- users of the office's pages ---------------------------------------------------
    def set_user(self, name: str, role: UserRole, counter: str | None, password_hash: str) -> None:
        """Create the user or give it a new password and role (and clear its lockout)."""
        self.db.execute("INSERT OR REPLACE INTO users VALUES (?,?,?,?,0,0,?)",
                        (name, role.value, counter, password_hash, _now()))

    def user(self, name: str) -> User | None:
        row = self.read.execute("SELECT name, role, counter, password_hash, failures, locked_until "
                                "FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        name, role, counter, password_hash, failures, locked_until = row
        return User(name, UserRole(role), counter, password_hash, failures, locked_until)

    def login_failed(self, name: str, failures: int, locked_until: float) -> None:
        self.db.execute("UPDATE users SET failures = ?, locked_until = ? WHERE name = ?",
                        (failures, locked_until, name))

    # -- tickets ----------------------------------------------------------------------
    @staticmethod
    def rows(infos: list[TicketInfo]) -> list[tuple]:
        """The tickets as rows, taken on the loop (the writer must not read them as they change)."""
        return [(i.id, i.number, i.service, i.day, i.issued_at, i.seq, int(i.priority),
                 i.stage.value, i.counter, int(i.rating_taken), i.finished_at) for i in infos]

    def save(self, infos: list[TicketInfo]) -> None:
        self.save_rows(self.rows(infos))

    def save_rows(self, rows: list[tuple]) -> None:
        if not rows:
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO tickets VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)

    def load(self, since_day: str | None = None) -> Iterator[TicketInfo]:
        """The tickets of ``since_day`` and later (all when None)."""
        for row in self.read.execute(
                "SELECT id, number, service, day, issued_at, seq, priority, stage, counter, rated,"
                " finished_at FROM tickets WHERE day >= ? ORDER BY issued_at", (since_day or "",)):
            id_, number, service, day, issued_at, seq, priority, stage, counter, rated, finished = row
            yield TicketInfo(id=id_, number=number, service=service, day=day, issued_at=issued_at,
                             seq=seq, priority=bool(priority), stage=Stage(stage), counter=counter,
                             rated=bool(rated), finished_at=finished)

    def forget_before(self, day: str) -> None:
        self.db.execute("DELETE FROM tickets WHERE day < ?", (day,))


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class CallerTimes:
    """When the caller finished a ticket, from its database on this hub (read-only; the caller
    commits a ticket's row before it publishes the counter's state). None where it cannot say."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def done_at(self, ticket_id: str) -> float | None:
        try:
            if self._db is None:
                if not self.path.exists():
                    return None
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            row = self._db.execute("SELECT done_at FROM tickets WHERE id = ? AND status = 'done'",
                                   (ticket_id,)).fetchone()
        except sqlite3.Error as exc:
            log.warning("caller's finish time of %s not read: %s", ticket_id, exc)
            self.close()
            return None
        if not row or not row[0]:
            return None
        try:
            moment = datetime.fromisoformat(row[0])
        except ValueError:
            return None
        return moment.timestamp() if moment.tzinfo is not None else None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
