"""Reading the caller's ticket history for reports (read-only: the caller keeps running).

Two readers give the same figures:

- ``load_records`` + ``figures.figures``: one record per ticket, counted in plain Python.
  It is the definition the tests hold the fast reader to, and the fallback without numpy.
- ``read_report``: what ``motcua report`` uses. SQLite does the per-ticket work (durations,
  outcome, group keys) in one query; numpy counts, sorts and takes percentiles per group.
  A year of a busy centre (500,000 tickets) takes 1.0–1.6 s for one command's report on
  the development machine (docs/report.md); the plain reader 3.3–5.2 s, most of it
  sorting each group's durations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import starmap
from pathlib import Path
from typing import Any, TypedDict

from motcua.errors import MotcuaError

from .figures import GROUPINGS, OUTCOMES, Figures, Spread, TicketRecord, figures, figures_by, wait_by_hour

# The ticket rules, written once for both readers. Outcome: a ticket called, then skipped
# and expired is a no-show. Durations: julianday understands the stored UTC offsets; its
# days-as-doubles leave ~3e-5 s of noise, rounded off to the millisecond so that a wait of
# exactly the target counts as within it. Ratings: levels start at 1 (the protocol's range).
_OUTCOME = """CASE status WHEN 'done' THEN {served} WHEN 'skipped' THEN {no_show}
                          WHEN 'expired' THEN iif(called_at IS NULL, {expired}, {no_show})
                          WHEN 'serving' THEN {serving} ELSE {waiting} END"""
_WAIT = "round((julianday(called_at) - julianday(issued_at)) * 86400.0, 3)"
_SERVICE = "iif(status = 'done', round((julianday(done_at) - julianday(called_at)) * 86400.0, 3), NULL)"
_RATING = "iif(rating >= 1, rating, NULL)"
_COUNTER = "iif(called_at IS NULL, NULL, counter)"
_HOUR = "CAST(substr(issued_at, 12, 2) AS INTEGER)"     # read off the stored local time
_PERIOD = "FROM tickets WHERE day BETWEEN ? AND ?"

# The report's group keys, as figures.GROUPINGS defines them on records.
_KEYS = {"day": "day", "service": "service",
         "counter": f"iif(ifnull({_COUNTER}, '') = '', '-', counter)"}
assert _KEYS.keys() == GROUPINGS.keys()


class _Targets(TypedDict):
    """The two settings every figure needs, passed on as keywords."""

    target_wait_s: float
    satisfied_levels: int


@dataclass(frozen=True)
class Report:
    """The figures of a period: in total, per group of each grouping asked, wait by hour."""

    total: Figures
    groups: dict[str, dict[str, Figures]] = field(default_factory=dict)  # grouping -> key -> figures
    wait_by_hour: dict[int, Spread] = field(default_factory=dict)       # when asked (the chart)


def load_records(db: Path, start: date, end: date) -> list[TicketRecord]:
    """The tickets of the service days start..end, one record each."""
    outcome = _OUTCOME.format(**{name: f"'{name}'" for name in OUTCOMES})
    rows = _read(db, f"SELECT day, service, {_HOUR}, {outcome}, {_COUNTER}, {_WAIT}, {_SERVICE},"
                     f" priority = 1, {_RATING} {_PERIOD}", start, end)
    return list(starmap(TicketRecord, rows))


def report_of_records(records: Sequence[TicketRecord], *, by: Sequence[str] = (),
                      hours: bool = False, target_wait_s: float, satisfied_levels: int) -> Report:
    """The report counted record by record (the definition)."""
    settings = _Targets(target_wait_s=target_wait_s, satisfied_levels=satisfied_levels)
    return Report(figures(records, **settings),
                  {name: figures_by(records, name, **settings) for name in by},
                  wait_by_hour(records) if hours else {})


def read_report(db: Path, start: date, end: date, *, by: Sequence[str] = (), hours: bool = False,
                target_wait_s: float, satisfied_levels: int) -> Report:
    """The figures of the service days start..end, from the caller's database."""
    settings = _Targets(target_wait_s=target_wait_s, satisfied_levels=satisfied_levels)
    try:
        import numpy
    except ImportError:      # a hub without the report extra: slower, same figures
        return report_of_records(load_records(db, start, end), by=by, hours=hours, **settings)
    keys = [_KEYS[name] for name in by] + ([_HOUR] if hours else [])
    outcome = _OUTCOME.format(**{name: i for i, name in enumerate(OUTCOMES)})
    # Outcome and rating share a column: fetching Python objects is most of the time.
    rows = _read(db, f"SELECT {outcome} + {len(OUTCOMES)} * ifnull({_RATING}, 0), {_WAIT}, {_SERVICE}, "
                     f"{', '.join(keys) or 'NULL'} {_PERIOD}", start, end)
    if not rows:
        return report_of_records([], by=by, hours=hours, **settings)
    table = numpy.array(rows, dtype=object)          # one column per select item; None stays None
    del rows
    outcome_and_rating = table[:, 0].astype(numpy.int64)
    tickets = _Tickets(numpy, outcome=outcome_and_rating % len(OUTCOMES),
                       wait=table[:, 1].astype(float), service=table[:, 2].astype(float),  # None: nan
                       rating=outcome_and_rating // len(OUTCOMES), **settings)
    total = tickets.figures([""], numpy.zeros(len(table), dtype=numpy.int64))[""]
    groups = {name: tickets.figures(*_factorize(numpy, table[:, 3 + i])) for i, name in enumerate(by)}
    by_hour = {}
    if hours:
        names, group = _factorize(numpy, table[:, -1])
        spreads = tickets.spreads(group, len(names), "wait")
        by_hour = {hour: spread for hour, spread in zip(names, spreads, strict=True) if spread.count}
    return Report(total, groups, by_hour)


def _factorize(numpy: Any, column: Any) -> tuple[list[Any], Any]:
    """The sorted distinct keys of a column, and each row's index into them."""
    names = sorted(dict.fromkeys(column))
    index = {name: i for i, name in enumerate(names)}
    return names, numpy.fromiter(map(index.__getitem__, column), dtype=numpy.int64, count=len(column))


class _Tickets:
    """The period's tickets as parallel numpy columns; figures per group of rows."""

    def __init__(self, numpy: Any, *, outcome: Any, wait: Any, service: Any, rating: Any,
                 target_wait_s: float, satisfied_levels: int) -> None:
        self.np = numpy
        self.outcome, self.wait, self.service, self.rating = outcome, wait, service, rating
        self.target_wait_s, self.satisfied_levels = target_wait_s, satisfied_levels
        self.levels = int(rating.max()) + 1                  # 0 = not rated
        # Each duration column's present rows in value order, sorted once: a stable sort by
        # group then keeps each group's values in order.
        self._in_order = {"wait": self._present_in_order(wait), "service": self._present_in_order(service)}

    def figures(self, names: list, group: Any) -> dict[str, Figures]:
        np, n = self.np, len(names)
        counts = np.bincount(group * len(OUTCOMES) + self.outcome,
                             minlength=n * len(OUTCOMES)).reshape(n, len(OUTCOMES)).tolist()
        rated = np.bincount(group * self.levels + self.rating,
                            minlength=n * self.levels).reshape(n, self.levels).tolist()
        called = ~np.isnan(self.wait)
        within = np.bincount(group[called & (self.wait <= self.target_wait_s)], minlength=n).tolist()
        waits, service_times = self.spreads(group, n, "wait"), self.spreads(group, n, "service")
        result = {}
        for i, name in enumerate(names):
            served, no_shows, expired, waiting_now, serving_now = counts[i]
            ratings = {level: c for level, c in enumerate(rated[i]) if level and c}
            total_rated = sum(ratings.values())
            result[name] = Figures(
                issued=served + no_shows + expired + waiting_now + serving_now, served=served,
                no_shows=no_shows, serving_now=serving_now,
                expired=expired, waiting_now=waiting_now, wait=waits[i], service_time=service_times[i],
                within_target=within[i] / waits[i].count if waits[i].count else None,
                ratings=ratings,
                satisfied=sum(c for level, c in ratings.items() if level <= self.satisfied_levels)
                / total_rated if total_rated else None)
        return result

    def _present_in_order(self, values: Any) -> Any:
        present = self.np.flatnonzero(~self.np.isnan(values))
        return present[self.np.argsort(values[present], kind="stable")]

    def spreads(self, group: Any, n: int, column: str) -> list[Spread]:
        """Count, mean, median and p90 of a duration column ("wait", "service") per group."""
        np, values, rows = self.np, getattr(self, column), self._in_order[column]
        group = group[rows]
        ordered = values[rows][np.argsort(group, kind="stable")]
        counts = np.bincount(group, minlength=n)
        sums = np.bincount(group, weights=values[rows], minlength=n)
        starts = np.cumsum(counts) - counts
        percentiles = []
        for pct in (50, 90):
            rank = (np.maximum(counts, 1) - 1) * pct / 100
            low, high = np.floor(rank).astype(np.int64), np.ceil(rank).astype(np.int64)
            last = max(len(ordered) - 1, 0)
            at_low = ordered[np.minimum(starts + low, last)] if len(ordered) else np.zeros(n)
            at_high = ordered[np.minimum(starts + high, last)] if len(ordered) else np.zeros(n)
            percentiles.append((at_low + (at_high - at_low) * (rank - low)).tolist())
        return [Spread(c, s / c, median, p90) if c else Spread(0, None, None, None)
                for c, s, median, p90 in zip(counts.tolist(), sums.tolist(), *percentiles, strict=True)]


def read_reasons(db: Path, start: date, end: date) -> dict[str, int]:
    """How often each rating reason (web pages) was given for the period's tickets. The
    accepted rating of a ticket is the logged rating event naming it at its rated_at."""
    rows = _read(db, "SELECT json_extract(e.body, '$.reason') AS reason, count(*) FROM events e "
                     "JOIN tickets t ON t.id = json_extract(e.body, '$.ticket') AND t.rated_at = e.at "
                     "WHERE e.kind = 'rating' AND t.day BETWEEN ? AND ? AND reason IS NOT NULL "
                     "GROUP BY reason ORDER BY count(*) DESC, reason", start, end)
    return dict(rows)


def read_reasons_by(db: Path, start: date, end: date) -> list[tuple[str, str, str, int]]:
    """The period's rating reasons as (counter, week's Monday, reason, count), the same
    accepted ratings as ``read_reasons``; the counter is the one that served the ticket."""
    rows = _read(db, "SELECT ifnull(t.counter, '-'), date(t.day, 'weekday 0', '-6 days') AS week, "
                     "json_extract(e.body, '$.reason') AS reason, count(*) FROM events e "
                     "JOIN tickets t ON t.id = json_extract(e.body, '$.ticket') AND t.rated_at = e.at "
                     "WHERE e.kind = 'rating' AND t.day BETWEEN ? AND ? AND reason IS NOT NULL "
                     "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", start, end)
    return [(str(c), str(w), str(r), int(n)) for c, w, r, n in rows]


def _read(db: Path, query: str, start: date, end: date) -> list[tuple]:
    if not db.exists():
        raise MotcuaError(f"{db}: no caller database here (use --db PATH)")
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return connection.execute(query, (start.isoformat(), end.isoformat())).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise MotcuaError(f"{db}: cannot read the ticket history: {exc}") from None
