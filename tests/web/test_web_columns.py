"""The office pages' report columns (web/columns.py) give ``read_report``'s figures exactly, for
any period: days kept in memory, days read from the database (today), or both joined."""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from motcua.caller.history import read_report
from motcua.web.columns import (
    MISSING,
    _milliseconds,
    read_columns,
    read_columns_apart,
    report_of_columns,
    report_of_days,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "report"))   # the readers' generated histories
from test_history_readers import DAYS, OPTIONS, same, tickets, write_history

PERIODS = st.sampled_from([(0, 2), (1, 1), (2, 2), (0, 1), (1, 2), (0, 0)])


def sub_second(row: dict, micro: int) -> dict:
    """Now and then a call at a fraction of a second (the rounding to the millisecond)."""
    if row["called"] and micro:
        row = dict(row, called=row["called"].replace("+", f".{micro:06d}+", 1))
    return row


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(tickets(), st.sampled_from([0, 0, 1, 499, 500, 501, 999_999])), max_size=60),
       PERIODS, PERIODS, OPTIONS)
def test_kept_days_joined_with_read_days_give_the_readers_figures(
        rows: list, kept: tuple[int, int], period: tuple[int, int], options: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "caller.db"
        write_history(db, [sub_second(row, micro) for row, micro in rows])
        columns = read_columns(db, DAYS[kept[0]], DAYS[kept[1]], chunk_days=1)
        assert columns is not None
        start, end = DAYS[period[0]], DAYS[period[1]]
        report = report_of_days(db, columns, start, end, **options)
        expected = read_report(db, start, end, **options)
        same(report, expected)
        assert report == expected                  # means too: the same sums in the same order
        if kept[0] <= period[0] and period[1] <= kept[1]:     # all from memory
            assert report_of_columns(columns.between(start, end), **options) == expected


def test_the_columns_are_compact_and_exact(tmp_path: Path) -> None:
    db = tmp_path / "caller.db"
    write_history(db, [dict(day=str(DAYS[d % 3]), service="dat-dai", status="done", counter=str(1 + d % 4),
                            priority=False, issued=f"{DAYS[d % 3]}T08:00:00+07:00",
                            called=f"{DAYS[d % 3]}T08:{d % 60:02d}:01.{d:03d}+07:00",
                            done=f"{DAYS[d % 3]}T09:30:00+07:00", rating=1 + d % 3) for d in range(300)])
    columns = read_columns(db, DAYS[0], DAYS[2])
    assert columns is not None and columns.days == [str(day) for day in DAYS]
    assert columns.wait.dtype == numpy.int32 and columns.outcome_and_rating.dtype == numpy.uint8
    assert columns.keys["counter"][1].dtype == numpy.uint8
    assert columns.nbytes == 300 * 12 + 4 * 8            # 12 bytes a ticket, and the day starts
    options = dict(by=("day", "service", "counter"), hours=True, target_wait_s=900, satisfied_levels=2)
    assert report_of_columns(columns, **options) == read_report(db, DAYS[0], DAYS[2], **options)
    # Read in a child process (what the role does for the two years): the same arrays.
    apart = read_columns_apart(db, DAYS[0], DAYS[2])
    assert apart is not None and apart.days == columns.days and apart.keys.keys() == columns.keys.keys()
    for name in ("day_start", "outcome_and_rating", "wait", "service"):
        assert numpy.array_equal(getattr(apart, name), getattr(columns, name))
        assert getattr(apart, name).dtype == getattr(columns, name).dtype
    for name, (names, codes) in columns.keys.items():
        assert apart.keys[name][0] == names and numpy.array_equal(apart.keys[name][1], codes)
    # Durations that are not whole milliseconds stay doubles; a -0.0 stays -0.0.
    values = numpy.array([1.5, numpy.nan, 0.001])
    assert _milliseconds(numpy, values).tolist() == [1500, MISSING, 1]
    assert _milliseconds(numpy, numpy.array([1.0004])).dtype == numpy.float64
    assert _milliseconds(numpy, numpy.array([-0.0])).dtype == numpy.float64
    assert _milliseconds(numpy, numpy.array([3.0e6])).dtype == numpy.float64     # beyond int32 ms


def test_days_without_tickets(tmp_path: Path) -> None:
    db = tmp_path / "caller.db"
    write_history(db, [])
    columns = read_columns(db, DAYS[0], DAYS[2])
    assert columns is not None and columns.days == [] and len(columns) == 0
    options = dict(by=("service",), hours=True, target_wait_s=900, satisfied_levels=2)
    report = report_of_days(db, columns, DAYS[0], DAYS[2] + timedelta(days=3), **options)
    assert report is not None and report.total.issued == 0 and report.groups == {"service": {}}
