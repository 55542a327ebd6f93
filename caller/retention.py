"""Personal data is kept only as long as needed: names older than N days are erased.

Names reach the hub only from scanned CCCD cards (the kiosk never stores more than the
name, and only until the broker has it). Here they live in the ticket history and in the
event log's ticket and day-marker bodies; counts and times stay for the reports.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, time, tzinfo
from pathlib import Path


def erase_names(db: sqlite3.Connection, before_day: str) -> int:
    """Erase every name of a ticket whose service day is before ``before_day`` (YYYY-MM-DD).

    Returns how many places were rewritten. Runs in one transaction.
    """
    erased = 0
    db.execute("PRAGMA secure_delete = ON")      # overwritten text is zeroed, not left in free pages
    db.execute("BEGIN IMMEDIATE")
    try:
        erased += db.execute("UPDATE tickets SET name = NULL WHERE day < ? AND name IS NOT NULL",
                             (before_day,)).rowcount
        erased += db.execute(
            "UPDATE events SET body = json_remove(body, '$.name') WHERE kind = 'ticket'"
            " AND json_extract(body, '$.day') < ? AND json_extract(body, '$.name') IS NOT NULL",
            (before_day,)).rowcount
        markers = db.execute("SELECT seq, body FROM events WHERE kind = 'day' AND body LIKE '%\"name\"%'")
        for seq, body in markers.fetchall():
            data = json.loads(body)
            changed = False
            for ticket in data.get("carry", []):
                if ticket.get("day", "") < before_day and ticket.get("name"):
                    ticket["name"] = None
                    changed = True
            if changed:
                db.execute("UPDATE events SET body = ? WHERE seq = ?",
                           (json.dumps(data, ensure_ascii=False, separators=(",", ":")), seq))
                erased += 1
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if erased:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # and the old pages leave the WAL file
    return erased


def erase_recordings(directory: Path, before_day: str, tz: tzinfo, day_starts_at: time) -> int:
    """Delete the calls recorded by ``--audio wav:DIR`` before the service day ``before_day``:
    each one speaks a citizen's full name. Returns how many files were deleted."""
    start = datetime.combine(date.fromisoformat(before_day), day_starts_at, tz).timestamp()
    erased = 0
    for path in [*directory.glob("*.wav"), *directory.glob("*.part")]:
        try:
            if path.stat().st_mtime < start:
                path.unlink()
                erased += 1
        except FileNotFoundError:       # the announcer renamed or removed it meanwhile
            continue
    return erased
