"""The province report at the centre: every commune side by side for a year and for a month
(goal: <= 2 s for 200 communes x one year, about 10 million tickets, on this machine).

1. A real PostgreSQL (tests/central/centralrig.py, fsync on as in production) with the
   centre's migrations. The communes' tickets, as the replay of their history makes them
   (central/report.py ``report_tickets``), are generated and loaded with COPY; then rolled
   up per site and day and per site and month by central/report.py's own statements
   (``roll_up_all``; ``refresh`` runs them for the days and months that changed).
2. In a fresh process (its memory is the report's alone): the province table of the year
   and of a month as the page makes it (web/central_web.py ``Centre.province`` and its
   HTML), and one commune's year page (``commune_report``), three runs each.
3. The replay itself: one commune's history (a caller log written as the caller writes it,
   tests/central/hub_office.py) carried into ``history`` and counted by ``refresh``.

Usage: .venv/bin/python bench/central_report.py [--communes 200] [--tickets 10000000]
The full size takes a while to build (about 10-20 minutes here: generation, COPY, indexes and
the roll-up of 10 M rows); ``--tickets 1000000`` is a quicker look.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "central")]

from motcua.caller.figures import OUTCOMES  # noqa: E402

FIRST, LAST = date(2025, 12, 1), date(2026, 11, 30)
MONTH = (date(2026, 11, 1), date(2026, 11, 30))
ODD = (date(2025, 12, 15), date(2026, 6, 20))       # whole months and 37 days either side
SERVICES = ("dat-dai", "tu-phap", "ldtbxh", "chung-thuc")
NULL = "\\N"                # COPY's text format: a missing value
REASONS = ("Thái độ phục vụ", "Thời gian chờ lâu", "Hướng dẫn chưa rõ", "Lý do khác")
LEVELS = ("Rất hài lòng", "Hài lòng", "Không hài lòng")


def working_days() -> list[date]:
    days, day = [], FIRST
    while day <= LAST:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def generate(db, communes: int, tickets: int, seed: int = 7) -> int:
    """``tickets`` closed tickets over the year's working days, communes of varied size."""
    import numpy as np

    rng = np.random.default_rng(seed)
    days = working_days()
    sizes = rng.uniform(0.4, 1.6, communes)
    per_commune = np.floor(sizes / sizes.sum() * tickets).astype(int)
    served, no_show, expired = (OUTCOMES.index(name) for name in ("served", "no_show", "expired"))
    written = 0
    columns = "site, id, day, service, counter, outcome, hour, priority, wait_ms, service_ms, rating, reason"
    for c in range(communes):
        site = f"xa-{c:03d}"
        n = int(per_commune[c])
        day_of = np.sort(rng.integers(0, len(days), n))
        outcome = rng.choice([served, no_show, expired], n, p=[0.88, 0.08, 0.04])
        called = outcome != expired
        wait = np.where(called, np.round(rng.lognormal(np.log(9 * 60_000), 0.8, n)), -1).astype(np.int64)
        service = np.where(outcome == served, np.round(rng.lognormal(np.log(6 * 60_000), 0.6, n)), -1)
        rated = (outcome == served) & (rng.random(n) < 0.35)
        rating = np.where(rated, rng.choice([1, 2, 3], n, p=[0.7, 0.22, 0.08]), 0)
        reason = np.where((rating == 3) & (rng.random(n) < 0.6), rng.integers(0, len(REASONS), n), -1)
        hour = rng.integers(7, 17, n)
        service_of = rng.integers(0, len(SERVICES), n)
        counter = rng.integers(1, 5, n)
        priority = rng.random(n) < 0.08
        null = np.array([NULL])
        fields = [
            np.full(n, site), np.char.add("t", np.char.zfill(np.arange(n).astype(str), 7)),
            np.array([d.isoformat() for d in days])[day_of], np.array(SERVICES)[service_of],
            np.where(called, counter.astype(str), null), outcome.astype(str), hour.astype(str),
            np.where(priority, "t", "f"), np.where(called, wait.astype(str), null),
            np.where(service >= 0, service.astype(np.int64).astype(str), null),
            np.where(rated, rating.astype(str), null), np.where(reason >= 0, np.array(REASONS)[reason], null)]
        text = "".join("\t".join(row) + "\n" for row in zip(*(f.tolist() for f in fields), strict=True))
        with db.cursor() as cursor, cursor.copy(f"COPY report_tickets ({columns}) FROM STDIN") as copy:
            copy.write(text)
        written += n
        if c % 20 == 19:
            print(f"  {c + 1} communes, {written:,} tickets", flush=True)
    return written


def build(dsn: str, communes: int, tickets: int) -> None:
    import psycopg
    from motcua.central.report import roll_up_all
    from motcua.central.store import CentralStore

    store = CentralStore(dsn)
    store.migrate()
    store.close()
    with psycopg.connect(dsn, autocommit=True) as db:
        # Indexes after the load: the same table, built faster.
        db.execute("ALTER TABLE report_tickets DROP CONSTRAINT report_tickets_pkey")
        db.execute("DROP INDEX report_tickets_by_day")
        started = time.monotonic()
        with db.transaction():
            written = generate(db, communes, tickets)
        loaded = time.monotonic() - started
        started = time.monotonic()
        db.execute("ALTER TABLE report_tickets ADD PRIMARY KEY (site, id)")
        db.execute("CREATE INDEX report_tickets_by_day ON report_tickets (site, day)")
        indexed = time.monotonic() - started
        started = time.monotonic()
        db.execute("SET work_mem = '256MB'")
        roll_up_all(db)
        rolled = time.monotonic() - started
        db.execute("VACUUM ANALYZE report_tickets")
        db.execute("VACUUM ANALYZE report_days")
        db.execute("VACUUM ANALYZE report_months")
        days = db.execute("SELECT count(*) FROM report_days").fetchone()[0]
        months = db.execute("SELECT count(*) FROM report_months").fetchone()[0]
        sizes = db.execute("SELECT pg_size_pretty(pg_total_relation_size('report_tickets')), "
                           "pg_size_pretty(pg_total_relation_size('report_days')), "
                           "pg_size_pretty(pg_total_relation_size('report_months'))").fetchone()
    print(f"tickets generated and copied: {written:,} in {loaded:.1f} s; indexes {indexed:.1f} s; "
          f"roll-up into {days:,} site-days and {months:,} site-months {rolled:.1f} s")
    print(f"report_tickets {sizes[0]}, report_days {sizes[1]}, report_months {sizes[2]}")


def time_reports(dsn: str, communes: int) -> None:
    """The report pages' work, three runs each, in this (fresh) process."""
    from datetime import datetime

    from motcua.central.report import Commune
    from motcua.web.central_web import TIMEZONE, Centre, province_table
    from motcua.web.store import WebStore

    names = {f"xa-{c:03d}": Commune(
        site=f"xa-{c:03d}", name=f"UBND xã số {c + 1}", counters={str(i): SERVICES for i in range(1, 5)},
        priority="strict", priority_every=3, order="oldest", rating_window_s=120, max_press_age_s=15,
        levels=LEVELS, services={s: s for s in SERVICES},
        counter_names={str(i): f"Quầy số {i}" for i in range(1, 5)})
        for c in range(communes)}
    with tempfile.TemporaryDirectory() as folder:
        centre = Centre(dsn, names, WebStore(Path(folder) / "users.db"))
        for label, (start, end) in (("year", (FIRST, LAST)), ("month", MONTH), ("odd days", ODD)):
            times = []
            for _ in range(3):
                started = time.perf_counter()
                rows, _ = centre.province(start, end)
                html = province_table(rows, names, start, end, datetime.now(TIMEZONE))
                times.append(time.perf_counter() - started)
            print(f"province report, {label} {start}..{end}: {len(rows)} communes, "
                  f"{sum(r.issued for r in rows):,} tickets, page {len(html) // 1024} KB; "
                  f"{', '.join(f'{t:.2f}' for t in times)} s")
        for start, end in ((FIRST, LAST), ODD):
            rows, _ = centre.province(start, end)
            check(dsn, rows[:: max(1, len(rows) // 5)], start, end)
        commune = names["xa-000"]
        times = []
        for _ in range(3):
            started = time.perf_counter()
            report, _ = centre.commune(commune, FIRST, LAST, by=("service", "counter"), hours=True,
                                       target=900.0, reasons=True)
            times.append(time.perf_counter() - started)
        print(f"one commune's year page: {report.total.issued:,} tickets; "
              f"{', '.join(f'{t:.2f}' for t in times)} s")
    status = Path("/proc/self/status").read_text().splitlines()
    rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"report process memory: VmRSS {rss / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")


def check(dsn: str, rows, start: date, end: date) -> None:
    """A few communes' median and p90 of the year again from all their tickets, by
    caller/figures.py's definition: the rollups' figures must be these, exactly."""
    import psycopg
    from motcua.caller.figures import percentile

    with psycopg.connect(dsn) as db:
        for row in rows:
            waits = [w / 1000 for (w,) in db.execute(
                "SELECT wait_ms FROM report_tickets WHERE site = %s AND day BETWEEN %s AND %s "
                "AND wait_ms IS NOT NULL ORDER BY wait_ms", (row.site, start, end))]
            assert (row.median_wait, row.p90_wait) == (percentile(waits, 50), percentile(waits, 90)), row.site
    print(f"{start}..{end}: median and p90 of {len(rows)} communes recomputed from all their tickets: equal")


def time_replay(dsn: str, days: int) -> None:
    """One commune's history through ``refresh``: rows per second; then 200 new rows late in
    the day, with the engine kept since the last refresh (as the dashboard keeps it) and
    without it (rebuilt from the day's marker)."""
    import psycopg
    from hub_office import SimulatedCaller, carry_to_centre
    from motcua.central.report import Commune, refresh
    from rig import write_site_config

    from motcua.config import load_config

    with tempfile.TemporaryDirectory() as folder:
        config = load_config(write_site_config(Path(folder)))
        hub = SimulatedCaller(Path(folder) / "caller.db", config)
        hub.traffic([FIRST + timedelta(days=i) for i in range(days)], 190, random.Random(1))
        last = hub.store.db.execute("SELECT max(seq) FROM events").fetchone()[0]
        hub.close()
        commune, engines = Commune.of(config), {}
        with psycopg.connect(dsn, autocommit=True) as db:
            carry_to_centre(Path(folder) / "caller.db", config.site.id, dsn, upto=last - 400)
            started = time.perf_counter()
            counted = refresh(db, commune, engines)
            took = time.perf_counter() - started
            print(f"replay of one commune's history: {counted:,} rows ({days} days) in {took:.2f} s, "
                  f"{counted / took:,.0f} rows/s")
            for upto, kept, how in ((last - 200, engines, "kept"), (last, {}, "rebuilt")):
                carry_to_centre(Path(folder) / "caller.db", config.site.id, dsn, upto=upto)
                started = time.perf_counter()
                counted = refresh(db, commune, kept)
                print(f"  {counted} new rows late in the day, the engine {how}: "
                      f"{(time.perf_counter() - started) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, default=200)
    parser.add_argument("--tickets", type=int, default=10_000_000, help="over the year, all communes")
    parser.add_argument("--replay-days", type=int, default=20, help="days of one commune's history replayed")
    parser.add_argument("--dsn", help=argparse.SUPPRESS)          # the timing child's
    options = parser.parse_args()
    if options.dsn:
        time_reports(options.dsn, options.communes)
        return
    from centralrig import PostgreSQL

    print(f"load average {os.getloadavg()[0]:.1f}; {options.communes} communes, {options.tickets:,} tickets")
    server = PostgreSQL(durable=True)
    server.start()
    try:
        dsn = server.create_database()
        build(dsn, options.communes, options.tickets)
        subprocess.run([sys.executable, __file__, "--dsn", dsn, "--communes", str(options.communes)],
                       check=True)
        time_replay(dsn, options.replay_days)
        print(f"load average {os.getloadavg()[0]:.1f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
