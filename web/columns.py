"""The tickets of settled service days as compact columns, for the office's report pages.

A report of any period is ``read_report``'s figures (caller/history.py), computed by its own
code (``_Tickets``) on the same rows: the kept columns of settled days, joined with the rows
of the days they do not hold (today, yesterday, days older than the kept ones) read from the
caller's database with the same query. Only the rows' order differs, and the figures do not
depend on it (each duration is sorted by value before it is summed or ranked).

A ticket costs 12 bytes here (outcome and rating: 1; wait and service time in milliseconds:
4 + 4; service, counter, hour as codes: 1 each); the day is a run of rows, not a column.
Durations are kept as integer milliseconds only where that is exact: ``read_report`` takes
SQLite's ``round(…, 3)``, and each value is checked to come back bit for bit as ``ms / 1000``;
if any does not, the columns keep doubles.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from motcua.caller.figures import OUTCOMES
from motcua.caller.history import (  # the report's own SQL and counting: one definition
    _HOUR,
    _KEYS,
    _OUTCOME,
    _PERIOD,
    _RATING,
    _SERVICE,
    _WAIT,
    Report,
    _read,
    _Targets,
    _Tickets,
    report_of_records,
)

from motcua.errors import MotcuaError

GROUPS = ("service", "counter", "hour")      # the day is in ``day_start``
MISSING = -(2**31)                           # an integer duration that is NULL in SQLite
QUERY = (f"SELECT {_OUTCOME.format(**{name: i for i, name in enumerate(OUTCOMES)})}"
         f" + {len(OUTCOMES)} * ifnull({_RATING}, 0), {_WAIT}, {_SERVICE}, day, {_KEYS['service']},"
         f" {_KEYS['counter']}, {_HOUR} {_PERIOD} ORDER BY day")


@dataclass(frozen=True)
class Columns:
    """The tickets of the days ``first``..``last``, in day order."""

    first: date
    last: date
    days: list[str]                  # the days that have tickets, in order
    day_start: Any                   # int64: row where each day starts, and the end (len(days) + 1)
    outcome_and_rating: Any          # uint8 (uint16/int64 if ratings are out of range)
    wait: Any                        # int32 ms (MISSING: not called) or float64 s (nan)
    service: Any                     # the same, for the service time
    keys: dict[str, tuple[list, Any]]   # GROUPS -> (sorted names, each row's code)

    def __len__(self) -> int:
        return len(self.outcome_and_rating)

    @property
    def nbytes(self) -> int:
        arrays = [self.day_start, self.outcome_and_rating, self.wait, self.service,
                  *(codes for _, codes in self.keys.values())]
        return sum(a.nbytes for a in arrays)

    def between(self, start: date, end: date) -> Columns:
        """The days start..end within these (views: nothing copied)."""
        start, end = max(start, self.first), min(end, self.last)
        low_day = bisect.bisect_left(self.days, start.isoformat())
        high_day = bisect.bisect_right(self.days, end.isoformat())
        if end < start:
            low_day = high_day = 0
        low, high = int(self.day_start[low_day]), int(self.day_start[high_day])
        return Columns(start, end, self.days[low_day:high_day],
                       self.day_start[low_day:high_day + 1] - low,
                       self.outcome_and_rating[low:high], self.wait[low:high], self.service[low:high],
                       {name: (names, codes[low:high]) for name, (names, codes) in self.keys.items()})


def numpy_or_none() -> Any:
    try:
        import numpy
    except ImportError:          # a hub without the report extra: the pages read as the command does
        return None
    return numpy


def read_columns(db: Path, first: date, last: date, *, chunk_days: int = 2) -> Columns | None:
    """The tickets of the days first..last; None without numpy. A few days at a time: SQLite's
    rows as Python objects take ~400 bytes a ticket while they last."""
    np = numpy_or_none()
    return None if np is None else _read_columns(np, db, first, last, chunk_days)


def _read_columns(np: Any, db: Path, first: date, last: date, chunk_days: int = 2) -> Columns:
    parts = []
    day = first
    while day <= last:
        until = min(last, day + timedelta(days=chunk_days - 1))
        parts.append(_part(np, _read(db, QUERY, day, until), day, until))
        day = until + timedelta(days=1)
    if not parts:
        return _part(np, [], first, last)
    return parts[0] if len(parts) == 1 else join(parts)


def _part(np: Any, rows: list[tuple], first: date, last: date) -> Columns:
    """Rows of QUERY as columns (their own key codes; ``join`` maps them onto shared ones)."""
    if rows:
        outcome_and_rating, wait, service, day, *groups = zip(*rows, strict=True)
    else:
        outcome_and_rating, wait, service, day, groups = (), (), (), (), [(), (), ()]
    del rows
    days = [key for key, _ in groupby(day)]          # the query orders the rows by day
    day_start = np.cumsum([0] + [sum(1 for _ in run) for _, run in groupby(day)])
    keys = {}
    for name, values in zip(GROUPS, groups, strict=True):
        names = sorted(set(values))
        index = {key: i for i, key in enumerate(names)}
        keys[name] = (names, _small(np, np.fromiter(map(index.__getitem__, values), dtype=np.int64,
                                                     count=len(values))))
    return Columns(first, last, days, day_start.astype(np.int64),
                   _small(np, np.fromiter(outcome_and_rating, dtype=np.int64, count=len(outcome_and_rating))),
                   _milliseconds(np, np.array(wait, dtype=float)),
                   _milliseconds(np, np.array(service, dtype=float)), keys)


def _small(np: Any, values: Any) -> Any:
    """Non-negative integers in the narrowest type that holds them."""
    largest = int(values.max()) if len(values) else 0
    return values.astype(np.uint8 if largest < 2**8 else np.uint16 if largest < 2**16 else np.int64)


def _milliseconds(np: Any, seconds: Any) -> Any:
    """Integer milliseconds if every value comes back exactly as ``ms / 1000``; else the doubles."""
    present = ~np.isnan(seconds)
    ms = np.rint(np.where(present, seconds, 0) * 1000)
    if not np.all(np.abs(ms) < 2**31 - 1):
        return seconds
    whole = np.where(present, ms, MISSING).astype(np.int32)
    back = whole[present].astype(np.float64) / 1000.0    # bit for bit: a -0.0 would come back 0.0
    if np.array_equal(back.view(np.int64), seconds[present].view(np.int64)):
        return whole
    return seconds


def _seconds(np: Any, values: Any) -> Any:
    if values.dtype.kind == "f":
        return values.astype(np.float64)
    seconds = values.astype(np.float64) / 1000.0      # the same double SQLite's round(…, 3) gave
    seconds[values == MISSING] = np.nan
    return seconds


def join(parts: Sequence[Columns]) -> Columns:
    """Consecutive periods' columns as one (copied into compact arrays)."""
    np = numpy_or_none()
    keys = {}
    for name in GROUPS:
        names = sorted({key for part in parts for key in part.keys[name][0]})
        index = {key: i for i, key in enumerate(names)}
        codes = [np.array([index[key] for key in own] or [0], dtype=np.int64)[part_codes]
                 for own, part_codes in (part.keys[name] for part in parts)]
        keys[name] = (names, _small(np, np.concatenate(codes)))
    exact = all(part.wait.dtype.kind == "i" and part.service.dtype.kind == "i" for part in parts)

    def durations(column: str) -> Any:
        values = [getattr(part, column) for part in parts]
        return np.concatenate(values if exact else [_seconds(np, v) for v in values])

    outcome_and_rating = _small(np, np.concatenate([part.outcome_and_rating for part in parts]))
    starts = [0]
    for part in parts:
        starts.extend((part.day_start[1:] + starts[-1]).tolist())
    return Columns(parts[0].first, parts[-1].last, [day for part in parts for day in part.days],
                   np.array(starts, dtype=np.int64), outcome_and_rating,
                   durations("wait"), durations("service"), keys)


def report_of_columns(columns: Columns, *, by: Sequence[str] = (), hours: bool = False,
                      target_wait_s: float, satisfied_levels: int) -> Report:
    """``read_report``'s figures of every ticket in ``columns``."""
    settings = _Targets(target_wait_s=target_wait_s, satisfied_levels=satisfied_levels)
    if not len(columns):
        return report_of_records([], by=by, hours=hours, **settings)
    np = numpy_or_none()
    outcome_and_rating = columns.outcome_and_rating.astype(np.int64)
    tickets = _Tickets(np, outcome=outcome_and_rating % len(OUTCOMES), wait=_seconds(np, columns.wait),
                       service=_seconds(np, columns.service), rating=outcome_and_rating // len(OUTCOMES),
                       **settings)
    del outcome_and_rating

    def grouping(name: str) -> tuple[list, Any]:
        if name == "day":
            return list(columns.days), np.repeat(np.arange(len(columns.days), dtype=np.int64),
                                                 np.diff(columns.day_start))
        names, codes = columns.keys[name]
        present = np.unique(codes)
        return [names[i] for i in present.tolist()], np.searchsorted(present, codes).astype(np.int64)

    total = tickets.figures([""], np.zeros(len(columns), dtype=np.int64))[""]
    groups = {name: tickets.figures(*grouping(name)) for name in by}
    by_hour = {}
    if hours:
        names, group = grouping("hour")
        spreads = tickets.spreads(group, len(names), "wait")
        by_hour = {hour: spread for hour, spread in zip(names, spreads, strict=True) if spread.count}
    return Report(total, groups, by_hour)


def report_of_days(db: Path, kept: Columns | None, start: date, end: date, **options: Any) -> Report | None:
    """The report of start..end: the kept columns' days from memory, the others read from the
    database (the same query). None without numpy."""
    np = numpy_or_none()
    if np is None:
        return None
    parts: list[Columns] = []
    if kept is None or end < kept.first or start > kept.last:
        parts.append(_read_columns(np, db, start, end, 7))
    else:
        if start < kept.first:
            parts.append(_read_columns(np, db, start, kept.first - timedelta(days=1), 7))
        parts.append(kept.between(start, end))
        if end > kept.last:
            parts.append(_read_columns(np, db, kept.last + timedelta(days=1), end, 7))
    return report_of_columns(parts[0] if len(parts) == 1 else join(parts), **options)


def read_columns_apart(db: Path, first: date, last: date) -> Columns | None:
    """``read_columns`` in a child process: SQLite's rows become hundreds of thousands of Python
    objects while they are read, and the memory they leave behind (fragments the allocator
    keeps) would stay in the web role for good; the role only loads the finished arrays."""
    np = numpy_or_none()
    if np is None:
        return None
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="motcua-columns-") as folder:
        out = Path(folder) / "columns.npz"
        done = subprocess.run([sys.executable, "-m", __name__, str(db), first.isoformat(), last.isoformat(),
                               str(out)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise MotcuaError(f"{db}: the report history was not read: {done.stderr.strip()[-500:]}")
        with np.load(out, allow_pickle=False) as saved:
            names = json.loads(str(saved["names"]))
            return Columns(first, last, names["days"], saved["day_start"], saved["outcome_and_rating"],
                           saved["wait"], saved["service"],
                           {name: (names[name], saved[f"codes_{name}"]) for name in GROUPS})


def _save(columns: Columns, out: Path) -> None:
    import numpy

    names = {"days": columns.days, **{name: columns.keys[name][0] for name in GROUPS}}
    numpy.savez(out, names=numpy.array(json.dumps(names)), day_start=columns.day_start,
                outcome_and_rating=columns.outcome_and_rating, wait=columns.wait, service=columns.service,
                **{f"codes_{name}": columns.keys[name][1] for name in GROUPS})


if __name__ == "__main__":          # the child of read_columns_apart
    import sys

    db_path, first_day, last_day, out_path = sys.argv[1:5]
    read = read_columns(Path(db_path), date.fromisoformat(first_day), date.fromisoformat(last_day))
    assert read is not None
    _save(read, Path(out_path))
