"""The fast report reader (SQLite + numpy) gives the figures of the plain definition.

Generated histories go into the caller's real schema; ``read_report`` must equal
``report_of_records(load_records(...))`` (figures.py, tested on known answers) for the whole
period, every grouping and the wait by hour. Means may differ in the last bits (numpy
adds in another order); every count, share and percentile is exact.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import tempfile
from dataclasses import fields, is_dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from motcua.caller.history import load_records, read_report, report_of_records
from motcua.caller.store import EventStore

DAYS = [date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 28)]
TZ = "+07:00"


def same(fast: object, plain: object, where: str = "report") -> None:
    """Equal, except means, which agree to 1e-9 relative."""
    if is_dataclass(fast):
        assert type(fast) is type(plain), where
        for f in fields(fast):
            same(getattr(fast, f.name), getattr(plain, f.name), f"{where}.{f.name}")
    elif isinstance(fast, dict):
        assert list(fast) == list(plain), where          # same keys, same order
        for key in fast:
            same(fast[key], plain[key], f"{where}[{key!r}]")
    elif where.endswith(".mean") and isinstance(fast, float) and isinstance(plain, float):
        assert math.isclose(fast, plain, rel_tol=1e-9, abs_tol=1e-9), (where, fast, plain)
    else:
        assert fast == plain and type(fast) is type(plain), (where, fast, plain)


@st.composite
def tickets(draw: st.DrawFn) -> dict:
    day = draw(st.sampled_from(DAYS))
    offset = draw(st.sampled_from([TZ, "+00:00"]))      # the hub and a kiosk may differ
    issued = datetime.fromisoformat(f"{day}T00:00:00{offset}") + timedelta(
        seconds=draw(st.integers(0, 86399)))
    status = draw(st.sampled_from(["waiting", "serving", "skipped", "done", "expired"]))
    called = None
    if status in ("serving", "skipped", "done") or draw(st.booleans()):
        # whole seconds, now and then the same wait twice (ties in the percentiles), and
        # now and then before the issue time (the kiosk's clock ahead of the hub's)
        called = issued + timedelta(seconds=draw(st.sampled_from([0, 60, 600, 900])
                                                 | st.integers(-600, 7200)))
    done = called + timedelta(seconds=draw(st.integers(-60, 3600))) if status == "done" else None
    return dict(day=day.isoformat(), service=draw(st.sampled_from(["dat-dai", "tu-phap", "ldtbxh"])),
                status=status, counter=draw(st.sampled_from(["1", "2", "10", "", None])) if called else None,
                issued=issued.isoformat(), called=called and called.isoformat(),
                done=done and done.isoformat(),
                rating=draw(st.none() | st.integers(1, 3) | st.sampled_from([0, 7])),
                priority=draw(st.booleans()))


def write_history(db: Path, rows: list[dict]) -> None:
    EventStore(db).db.close()                     # the caller's real schema
    with sqlite3.connect(db) as connection:
        connection.executemany(
            "INSERT INTO tickets (id, day, service, number, priority, status, counter, issued_at,"
            " called_at, done_at, rating) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(f"t{i}", r["day"], r["service"], str(1001 + i), int(r["priority"]), r["status"],
              r["counter"], r["issued"], r["called"], r["done"], r["rating"]) for i, r in enumerate(rows)])
    connection.close()


def both(db: Path, start: date, end: date, **options: object) -> tuple[object, object]:
    options = dict(by=("day", "service", "counter"), hours=True, target_wait_s=900,
                   satisfied_levels=2) | options
    return (read_report(db, start, end, **options),
            report_of_records(load_records(db, start, end), **options))


OPTIONS = st.fixed_dictionaries({
    "by": st.sampled_from([(), ("service",), ("counter",), ("day", "service", "counter")]),
    "hours": st.booleans(), "target_wait_s": st.sampled_from([0, 300, 900]),
    "satisfied_levels": st.integers(1, 3)})


@settings(max_examples=80, deadline=None)
@given(st.lists(tickets(), max_size=60), st.sampled_from([(0, 2), (1, 1), (2, 2)]), OPTIONS)
def test_fast_reader_equals_the_definition(rows: list[dict], period: tuple[int, int],
                                           options: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "caller.db"
        write_history(db, rows)
        fast, plain = both(db, DAYS[period[0]], DAYS[period[1]], **options)
    same(fast, plain)


def test_known_period(tmp_path: Path) -> None:
    # Two waits of 5 and 25 minutes at counter 1: the fast reader's own answer, not only agreement.
    db = tmp_path / "caller.db"
    write_history(db, [
        dict(day="2026-11-27", service="dat-dai", status="done", counter="1", priority=False,
             issued=f"2026-11-27T08:00:00{TZ}", called=f"2026-11-27T08:05:00{TZ}",
             done=f"2026-11-27T08:15:00{TZ}", rating=1),
        dict(day="2026-11-27", service="dat-dai", status="expired", counter="1", priority=False,
             issued=f"2026-11-27T09:00:00{TZ}", called=f"2026-11-27T09:25:00{TZ}", done=None,
             rating=None)])
    report = read_report(db, DAYS[1], DAYS[1], by=("counter",), hours=True, target_wait_s=900,
                         satisfied_levels=2)
    total = report.total
    assert (total.issued, total.served, total.no_shows, total.expired) == (2, 1, 1, 0)
    assert (total.wait.median, total.wait.p90) == (900.0, 1380.0)
    assert (total.within_target, total.ratings, total.satisfied) == (0.5, {1: 1}, 1.0)
    assert list(report.groups["counter"]) == ["1"]
    assert {hour: s.count for hour, s in report.wait_by_hour.items()} == {8: 1, 9: 1}
    # A wait of exactly the target is within it (julianday's noise is rounded off).
    assert read_report(db, DAYS[1], DAYS[1], target_wait_s=300, satisfied_levels=2
                       ).total.within_target == 0.5


def test_empty_period_and_missing_numpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "caller.db"
    write_history(db, [dict(day="2026-11-27", service="dat-dai", status="waiting", counter=None,
                            issued=f"2026-11-27T08:00:00{TZ}", called=None, done=None, rating=None,
                            priority=True)])
    fast, plain = both(db, DAYS[2], DAYS[2])
    same(fast, plain)
    assert fast.total.issued == 0 and fast.total.wait.mean is None
    # Without numpy (a hub without the report extra) the report is counted the plain way.
    monkeypatch.setitem(sys.modules, "numpy", None)
    fast, plain = both(db, DAYS[1], DAYS[1])
    same(fast, plain)
    assert fast.total.waiting_now == 1
