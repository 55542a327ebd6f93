"""Reading the caller's ticket history for reports (read-only: the caller keeps running)."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, tzinfo
from pathlib import Path

from motcua.errors import MotcuaError

from .figures import TicketRecord

# The caller's ticket status -> the report's outcome.
OUTCOME = {"done": "served", "waiting": "waiting", "serving": "waiting", "skipped": "no_show"}


def outcome(status: str, called_at: str | None) -> str:
    """An expired ticket that was called (then skipped) is a no-show; one never called expired."""
    if status == "expired":
        return "no_show" if called_at else "expired"
    return OUTCOME.get(status, "waiting")


def load_records(db: Path, start: date, end: date, tz: tzinfo) -> list[TicketRecord]:
    """The tickets of the service days start..end, from the caller's database, in local time."""
    if not db.exists():
        raise MotcuaError(f"{db}: no caller database here (use --db PATH)")
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = connection.execute(
            "SELECT day, service, issued_at, status, counter, called_at, done_at, priority, rating "
            "FROM tickets WHERE day BETWEEN ? AND ? ORDER BY issued_at",
            (start.isoformat(), end.isoformat())).fetchall()
        connection.close()
    except sqlite3.Error as exc:
        raise MotcuaError(f"{db}: cannot read the ticket history: {exc}") from None

    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text).astimezone(tz)

    return [TicketRecord(day=day, service=service, issued_at=parse(issued), outcome=outcome(status, called),
                         counter=counter if called else None,
                         called_at=parse(called) if called else None,
                         done_at=parse(done) if done else None,
                         priority=bool(priority), rating=rating)
            for day, service, issued, status, counter, called, done, priority, rating in rows]
