"""A year of a busy district centre (500,000 tickets): how long the full report takes, and
how big the ticket history is. Targets: report <= 2 s, database <= 200 MB.

The history is written straight into the caller's real schema (caller/store.py), with
realistic spreads: 250 working days, 2,000 tickets a day over 4 services and 8 counters,
waits of 0-90 minutes, 85 % served, ratings on a third of the tickets.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from motcua.caller.figures import figures, figures_by
from motcua.caller.history import load_records
from motcua.caller.store import EventStore

TICKETS = 500_000
DAYS = 250
SERVICES = ("dat-dai", "tu-phap", "ldtbxh", "chung-thuc")
TZ = datetime.now().astimezone().tzinfo


def build(db: Path) -> tuple[date, date]:
    store = EventStore(db)
    store.db.close()
    rng = random.Random(7)
    first = date(2025, 1, 2)
    per_day = TICKETS // DAYS
    connection = sqlite3.connect(db)
    rows = []
    for d in range(DAYS):
        day = first + timedelta(days=d)
        opening = datetime(day.year, day.month, day.day, 7, 30, tzinfo=TZ)
        for i in range(per_day):
            issued = opening + timedelta(seconds=rng.randrange(8 * 3600))
            called = issued + timedelta(seconds=rng.randrange(90 * 60))
            served = rng.random() < 0.85
            done = called + timedelta(seconds=rng.randrange(60, 30 * 60)) if served else None
            rows.append((f"{d}-{i}", day.isoformat(), rng.choice(SERVICES), str(1001 + i), 0,
                         "done" if served else "expired", str(rng.randrange(1, 9)),
                         issued.isoformat(), called.isoformat(),
                         done.isoformat() if done else None,
                         rng.choice((1, 1, 2, 3)) if served and rng.random() < 0.33 else None))
        if len(rows) > 50_000:
            connection.executemany("INSERT INTO tickets (id, day, service, number, priority, status,"
                                   " counter, issued_at, called_at, done_at, rating)"
                                   " VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            rows.clear()
    connection.executemany("INSERT INTO tickets (id, day, service, number, priority, status,"
                           " counter, issued_at, called_at, done_at, rating)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    connection.commit()
    connection.execute("VACUUM")
    connection.close()
    return first, first + timedelta(days=DAYS - 1)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "caller.db"
        started = time.perf_counter()
        start, end = build(db)
        print(f"built {TICKETS:,} tickets in {time.perf_counter() - started:.1f} s")
        size_mb = db.stat().st_size / 1e6
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            records = load_records(db, start, end)
            total = figures(records, target_wait_s=900, satisfied_levels=2)
            for by in ("day", "service", "counter"):
                figures_by(records, by, target_wait_s=900, satisfied_levels=2)
            timings.append(time.perf_counter() - started)
        assert total.issued == TICKETS
        print(f"full report (total + by day, service, counter): best {min(timings):.2f} s, "
              f"worst {max(timings):.2f} s  (target <= 2 s)")
        print(f"ticket history database: {size_mb:.0f} MB  (target <= 200 MB)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
