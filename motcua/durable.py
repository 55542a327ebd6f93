"""The one way motcua opens a database whose commits must survive a power cut."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_durable(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """SQLite in WAL mode with synchronous=FULL: a commit is on disk when it returns (a Pi
    has no UPS). Autocommit mode: callers say BEGIN/COMMIT themselves. Raises OSError or
    sqlite3.Error; each caller words the failure for its own device."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db
