"""The web role's own small database (STATE_DIR/web.db): tablet tokens and the tickets it knows.

Tokens are kept as SHA-256 hashes: the database alone does not let anyone rate. The tickets
table lets a restarted web role still show the day's pages (the MQTT session keeps only what
came while it was down). Ratings go out through their own durable outbox (web-outbox.db,
motcua.counter.outbox), as a counter pad's presses do.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
    rated INTEGER NOT NULL DEFAULT 0
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


class StoreError(MotcuaError):
    """The web role's database cannot be opened or written."""


@dataclass(frozen=True)
class Token:
    id: str
    counter: str
    created_at: str
    revoked_at: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WebStore:
    def __init__(self, path: Path) -> None:
        try:
            self.db = open_durable(path)
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"web database {path}: {exc}") from None
        self.path = path

    def close(self) -> None:
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
        row = self.db.execute("SELECT counter FROM tokens WHERE hash = ? AND revoked_at IS NULL",
                              (token_hash(token),)).fetchone()
        return row[0] if row else None

    def tokens(self) -> list[Token]:
        return [Token(*row) for row in self.db.execute(
            "SELECT id, counter, created_at, revoked_at FROM tokens ORDER BY created_at")]

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
        row = self.db.execute("SELECT name, role, counter, password_hash, failures, locked_until "
                              "FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        name, role, counter, password_hash, failures, locked_until = row
        return User(name, UserRole(role), counter, password_hash, failures, locked_until)

    def login_failed(self, name: str, failures: int, locked_until: float) -> None:
        self.db.execute("UPDATE users SET failures = ?, locked_until = ? WHERE name = ?",
                        (failures, locked_until, name))

    # -- tickets ----------------------------------------------------------------------
    def save(self, infos: list[TicketInfo]) -> None:
        if not infos:
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO tickets VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(i.id, i.number, i.service, i.day, i.issued_at, i.seq, int(i.priority),
                  i.stage.value, i.counter, int(i.rating_taken)) for i in infos])

    def load(self, since_day: str | None = None) -> Iterator[TicketInfo]:
        """The tickets of ``since_day`` and later (all when None)."""
        for row in self.db.execute("SELECT * FROM tickets WHERE day >= ? ORDER BY issued_at",
                                   (since_day or "",)):
            id_, number, service, day, issued_at, seq, priority, stage, counter, rated = row
            yield TicketInfo(id=id_, number=number, service=service, day=day, issued_at=issued_at,
                             seq=seq, priority=bool(priority), stage=Stage(stage), counter=counter,
                             rated=bool(rated))

    def forget_before(self, day: str) -> None:
        self.db.execute("DELETE FROM tickets WHERE day < ?", (day,))


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
