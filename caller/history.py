"""Reading the caller's ticket history for reports (read-only: the caller keeps running)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from motcua.errors import MotcuaError

from .figures import TicketRecord

# The caller's ticket status -> the report's outcome.
OUTCOME = {"done": "served", "waiting": "waiting", "serving": "waiting", "skipped": "no_show"}


def outcome(status: str, called: bool) -> str:
    """An expired ticket that was called (then skipped) is a no-show; one never called expired."""
    if status == "expired":
        return "no_show" if called else "expired"
    return OUTCOME.get(status, "waiting")


def load_records(db: Path, start: date, end: date) -> list[TicketRecord]:
    """The tickets of the service days start..end, from the caller's database."""
    if not db.exists():
        raise MotcuaError(f"{db}: no caller database here (use --db PATH)")
    # Durations are computed by SQLite (julianday understands the stored UTC offsets), and the
    # local hour is read off the stored local time: no datetime parsing per ticket in Python.
    query = """
        SELECT day, service, CAST(substr(issued_at, 12, 2) AS INTEGER), status, counter,
               called_at IS NOT NULL,
               (julianday(called_at) - julianday(issued_at)) * 86400.0,
               (julianday(done_at) - julianday(called_at)) * 86400.0,
               priority, rating
        FROM tickets WHERE day BETWEEN ? AND ?"""
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = connection.execute(query, (start.isoformat(), end.isoformat())).fetchall()
        connection.close()
    except sqlite3.Error as exc:
        raise MotcuaError(f"{db}: cannot read the ticket history: {exc}") from None
    records = []
    for day, service, hour, status, counter, called, wait_s, service_s, priority, rating in rows:
        result = outcome(status, called)
        records.append(TicketRecord(
            day=day, service=service, hour=hour, outcome=result,
            counter=counter if called else None,
            wait_s=wait_s, service_s=service_s if result == "served" else None,
            priority=bool(priority), rating=rating))
    return records
