"""Reading the caller's ticket history for reports (read-only: the caller keeps running)."""

from __future__ import annotations

import sqlite3
from datetime import date
from itertools import starmap
from pathlib import Path

from motcua.errors import MotcuaError

from .figures import TicketRecord


def load_records(db: Path, start: date, end: date) -> list[TicketRecord]:
    """The tickets of the service days start..end, from the caller's database."""
    if not db.exists():
        raise MotcuaError(f"{db}: no caller database here (use --db PATH)")
    # SQLite does the per-ticket work: durations (julianday understands the stored UTC
    # offsets), the local hour (read off the stored local time) and the outcome (a ticket
    # called, then skipped and expired is a no-show); Python only builds the records.
    query = """
        SELECT day, service, CAST(substr(issued_at, 12, 2) AS INTEGER),
               CASE status WHEN 'done' THEN 'served' WHEN 'skipped' THEN 'no_show'
                           WHEN 'expired' THEN iif(called_at IS NULL, 'expired', 'no_show')
                           ELSE 'waiting' END,
               iif(called_at IS NULL, NULL, counter),
               (julianday(called_at) - julianday(issued_at)) * 86400.0,
               iif(status = 'done', (julianday(done_at) - julianday(called_at)) * 86400.0, NULL),
               priority = 1, rating
        FROM tickets WHERE day BETWEEN ? AND ?"""
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = connection.execute(query, (start.isoformat(), end.isoformat())).fetchall()
        connection.close()
    except sqlite3.Error as exc:
        raise MotcuaError(f"{db}: cannot read the ticket history: {exc}") from None
    return list(starmap(TicketRecord, rows))
