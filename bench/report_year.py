"""A year of a busy district centre (500,000 tickets): how long the full report takes, and
how big the ticket history is. Targets: report <= 2 s, database <= 200 MB.

The history is written straight into the caller's real schema (caller/store.py), with
realistic spreads: 250 working days, 2,000 tickets a day over 4 services and 8 counters,
waits of 0-90 minutes, 85 % served, ratings on a third of the tickets.
"""

from __future__ import annotations

import math
import random
import sqlite3
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from motcua.caller.history import load_records, read_report, report_of_records
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


def timed(runs: int, work) -> tuple[float, float, object]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return min(timings), max(timings), result


def main() -> None:
    settings = dict(target_wait_s=900, satisfied_levels=2)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "caller.db"
        started = time.perf_counter()
        start, end = build(db)
        print(f"built {TICKETS:,} tickets in {time.perf_counter() - started:.1f} s")
        size_mb = db.stat().st_size / 1e6
        full = dict(by=("day", "service", "counter"), hours=True, **settings)
        best, worst, report = timed(3, lambda: read_report(db, start, end, **full))
        assert report.total.issued == TICKETS
        print(f"full report (total + by day, service and counter + wait by hour): best {best:.2f} s, "
              f"worst {worst:.2f} s  (target <= 2 s)")
        best, worst, _ = timed(3, lambda: read_report(db, start, end, by=("service",), hours=True,
                                                       **settings))
        print(f"one command's report (total + by service + chart hours): best {best:.2f} s, "
              f"worst {worst:.2f} s")
        best, _, plain = timed(1, lambda: report_of_records(load_records(db, start, end), **full))
        print(f"the plain reader (the definition, and the fallback without numpy): {best:.2f} s")
        differences = _differences(report, plain)
        print(f"fast == plain on the year: {'yes' if not differences else differences[:3]}")
        print(f"ticket history database: {size_mb:.0f} MB  (target <= 200 MB)")
        sys.stdout.flush()


def _differences(fast: object, plain: object, where: str = "report") -> list[str]:
    """Where the two reports differ (floats to 1e-9 relative: numpy sums in another order)."""
    if hasattr(fast, "__dataclass_fields__"):
        return [d for name in fast.__dataclass_fields__
                for d in _differences(getattr(fast, name), getattr(plain, name), f"{where}.{name}")]
    if isinstance(fast, dict):
        if list(fast) != list(plain):
            return [f"{where}: keys"]
        return [d for key in fast for d in _differences(fast[key], plain[key], f"{where}[{key}]")]
    if isinstance(fast, float) and isinstance(plain, float):
        return [] if math.isclose(fast, plain, rel_tol=1e-9) else [where]
    return [] if fast == plain else [where]


if __name__ == "__main__":
    main()
