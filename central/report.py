"""The report figures of docs/report.md at the centre, over PostgreSQL: one definition.

- ``refresh``: a site's history rows not yet counted are replayed through the caller's own
  engine (caller/engine.py), set up from the commune's site config, exactly as its caller
  applied them live. The tickets they changed go to ``report_tickets`` with the durations,
  outcome and keys that caller/history.py reads from the hub's ``tickets`` table, and the
  service days of those tickets are rolled up again into ``report_days``. Run before each
  report (only rows that arrived since are replayed), so the centre's ingest is untouched.
- ``commune_report``: one site's tickets of a period through caller/history.py
  ``report_of_records``: the hub's own report code on the same records.
- ``province``: every site side by side from ``report_days`` (one row per site and day):
  counts summed by PostgreSQL; the median and p90 exact, from each day's sorted waits, with
  caller/figures.py's interpolation (docs/central.md says why not a histogram).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from motcua.caller.engine import DONE, EXPIRED, SERVING, SKIPPED, Engine, Event, Order, Priority, TicketRecord
from motcua.caller.figures import OUTCOMES, satisfied_levels
from motcua.caller.figures import TicketRecord as Record
from motcua.caller.history import Report, report_of_records
from motcua.caller.store import _event as logged_event

from motcua.errors import MotcuaError

LEVELS_MAX = 10                 # the protocol's rating scores: 1..10
BIN_MS = 30_000                 # report_months.bins: floor(wait_ms / BIN_MS)
REPLAY_CHUNK = 5000             # history rows fetched at a time
LOCK_ID = 0x6D637270            # with the site's hash: one refresh of a site at a time
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class CentralReportError(MotcuaError):
    """A commune's config or the centre's database cannot give the figures."""


@dataclass(frozen=True)
class Commune:
    """What the centre needs of a commune's site config: its queue rules (to replay its
    history through the engine as its caller did), its names and its rating scale."""

    site: str
    name: str
    counters: dict[str, tuple[str, ...]]
    priority: Priority
    priority_every: int
    order: Order
    rating_window_s: int
    max_press_age_s: float
    levels: tuple[str, ...]
    services: dict[str, str]
    counter_names: dict[str, str]

    @classmethod
    def of(cls, config: Any) -> Commune:
        queue = config.caller.queue
        return cls(site=config.site.id, name=config.site.name,
                   counters={c.id: tuple(c.services) for c in config.counters},
                   priority=queue.priority, priority_every=queue.priority_every, order=queue.order,
                   rating_window_s=config.caller.ratings.window_s,
                   max_press_age_s=queue.max_press_age_s,
                   levels=tuple(config.counter_pad.rating.levels),
                   services={s.id: s.name for s in config.services},
                   counter_names={c.id: c.name for c in config.counters})

    @property
    def good_levels(self) -> int:
        return satisfied_levels(self.levels)

    def engine(self) -> Engine:
        """The engine the caller builds (caller/daemon.py ``load_engine``)."""
        return Engine(self.counters, priority=self.priority, priority_every=self.priority_every,
                      order=self.order, rating_window_s=self.rating_window_s,
                      max_press_age_s=self.max_press_age_s)


def load_communes(directory: Path) -> dict[str, Commune]:
    """Every ``*.toml`` in the folder: a copy of a commune's site config, by its site id."""
    from motcua.config import load_config

    if not directory.is_dir():
        raise CentralReportError(f"{directory}: no such folder of communes' site configs")
    found: dict[str, Commune] = {}
    for path in sorted(directory.glob("*.toml")):
        commune = Commune.of(load_config(path))
        if commune.site in found:
            raise CentralReportError(f"{path}: site {commune.site!r} is already in another file")
        found[commune.site] = commune
    return found


# -- the ticket rules of caller/history.py, on the engine's records ----------------------------

def julian_ms(at: datetime) -> int:
    """The instant as SQLite's julianday() counts it, in ms: whole minutes (UTC), then the
    seconds with their fraction rounded half up to the millisecond, as its date parser does.
    The hub's durations are differences of these (caller/history.py ``_WAIT``)."""
    minute = at.replace(second=0, microsecond=0)
    minutes = int((minute - EPOCH).total_seconds()) // 60
    seconds = at.second + (at.microsecond / 1e6 if at.microsecond else 0.0)
    return minutes * 60000 + int(seconds * 1000 + 0.5)


def outcome_of(record: TicketRecord) -> int:
    """caller/history.py ``_OUTCOME``: the index into OUTCOMES."""
    if record.status == DONE:
        name = "served"
    elif record.status == SKIPPED:
        name = "no_show"
    elif record.status == EXPIRED:
        name = "no_show" if record.called_at is not None else "expired"
    elif record.status == SERVING:
        name = "serving"
    else:
        name = "waiting"
    return OUTCOMES.index(name)


def ticket_row(site: str, record: TicketRecord, reason: str | None) -> tuple:
    called = record.called_at
    wait = julian_ms(called) - julian_ms(record.issued_at) if called is not None else None
    service = (julian_ms(record.done_at) - julian_ms(called)
               if record.status == DONE and called is not None and record.done_at is not None else None)
    rating = record.rating if record.rating is not None and record.rating >= 1 else None
    return (site, record.id, record.day, record.service, record.counter if called is not None else None,
            outcome_of(record), record.issued_at.hour, bool(record.priority), wait, service, rating,
            reason if rating is not None else None)


# -- keeping report_tickets and report_days up to date --------------------------------------------

def refresh(db: Any, commune: Commune,
            engines: dict[str, tuple[str, int, Engine]] | None = None) -> int:
    """Replay the site's history rows not counted yet, log by log in the order the centre first
    heard them; returns how many. One transaction a log.

    ``engines`` keeps each site's engine as it stands after the rows counted, so the next
    refresh need not rebuild it from the day's marker (late in a busy day, thousands of rows)."""
    site = commune.site
    kept = engines.pop(site, None) if engines is not None else None   # gone if this one fails
    logs = db.execute("SELECT log, upto FROM site_logs WHERE site = %s ORDER BY first_heard, log",
                      (site,)).fetchall()
    applied = 0
    for identity, last in logs:
        usable = kept[1:] if kept is not None and kept[0] == identity else None
        done, upto, engine = _refresh(db, commune, identity, int(last), usable)
        applied += done
        kept = (identity, upto, engine) if engine is not None else None
    if engines is not None and kept is not None:
        engines[site] = kept
    return applied


def _refresh(db: Any, commune: Commune, identity: str, last: int,
             kept: tuple[int, Engine] | None) -> tuple[int, int, Engine | None]:
    """One log of the site: its rows after the report's position up to ``last`` (the log is
    complete up to there)."""
    site = commune.site
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_ID, site))
        row = db.execute("SELECT upto FROM report_position WHERE site = %s AND log = %s",
                         (site, identity)).fetchone()
        upto = int(row[0]) if row else 0
        usable = kept[1] if kept is not None and kept[0] == upto else None
        if last <= upto:
            return 0, upto, usable
        engine = commune.engine() if usable is None else usable
        if upto and usable is None:
            # The engine's state at ``upto``: from the last day marker, whose carry holds the
            # open tickets, as the caller itself rebuilds it after a restart.
            marker = db.execute("SELECT coalesce(max(seq), 0) FROM history WHERE site = %s "
                                "AND log = %s AND kind = 'day' AND seq <= %s",
                                (site, identity, upto)).fetchone()[0]
            for event in _events(db, site, identity, int(marker) - 1 if marker else 0, upto):
                engine.apply(event)
        changed: dict[str, TicketRecord] = {}
        named: dict[str, str | None] = {}   # reasons of ratings that named their ticket
        applied = 0
        for event in _events(db, site, identity, upto, last):
            if event.kind == "day" and event.day is not None:
                # What the caller did live: tickets of earlier days closed as expired.
                outcome = engine.start_day(event.day, event.at)
            else:
                outcome = engine.apply(event)
            for record in outcome.tickets:
                changed[record.id] = record
            rating = event.rating
            if rating is not None and rating.ticket is not None and outcome.tickets \
                    and outcome.tickets[0].id == rating.ticket:
                # The hub counts a reason by the rating event that names its ticket
                # (caller/history.py read_reasons_by); a pad's rating names none.
                named[rating.ticket] = rating.reason
            applied += 1
        _save(db, site, changed.values(), named)
        db.execute("INSERT INTO report_position (site, log, upto) VALUES (%s, %s, %s) "
                   "ON CONFLICT (site, log) DO UPDATE SET upto = excluded.upto",
                   (site, identity, last))
        return applied, last, engine


def _events(db: Any, site: str, identity: str, after: int, upto: int) -> Iterator[Event]:
    """The log's events with ``after`` < seq <= ``upto``, in the log's order."""
    while after < upto:
        rows = db.execute("SELECT seq, kind, id, at, counter, body FROM history WHERE site = %s "
                          "AND log = %s AND seq > %s AND seq <= %s ORDER BY seq LIMIT %s",
                          (site, identity, after, upto, REPLAY_CHUNK)).fetchall()
        if not rows:
            return
        for seq, kind, msg_id, at, counter, body in rows:
            # The caller logged it, so it decoded there; one it cannot read (a newer kind) is skipped.
            with contextlib.suppress(MotcuaError):
                yield logged_event(kind, msg_id, at, counter, json.dumps(body, ensure_ascii=False))
            after = seq


def _save(db: Any, site: str, records: Iterable[TicketRecord], named: dict[str, str | None]) -> None:
    rows = [ticket_row(site, r, named.get(r.id)) for r in records]
    if not rows:
        return
    columns = [list(c) for c in zip(*rows, strict=True)]
    db.execute(
        "INSERT INTO report_tickets (site, id, day, service, counter, outcome, hour, priority, "
        "wait_ms, service_ms, rating, reason) SELECT * FROM unnest(%s::text[], %s::text[], "
        "%s::date[], %s::text[], %s::text[], %s::smallint[], %s::smallint[], %s::boolean[], "
        "%s::bigint[], %s::bigint[], %s::smallint[], %s::text[]) ON CONFLICT (site, id) DO UPDATE SET "
        "day = excluded.day, service = excluded.service, counter = excluded.counter, "
        "outcome = excluded.outcome, hour = excluded.hour, priority = excluded.priority, "
        "wait_ms = excluded.wait_ms, service_ms = excluded.service_ms, rating = excluded.rating, "
        "reason = CASE WHEN excluded.rating IS NULL THEN NULL "
        "ELSE coalesce(excluded.reason, report_tickets.reason) END", columns)
    roll_up(db, site, sorted({r[2] for r in rows}))


ROLL_UP = (
    "INSERT INTO report_days (site, day, outcomes, ratings, waits) SELECT site, day, ARRAY["
    + ", ".join(f"count(*) FILTER (WHERE outcome = {i})" for i in range(len(OUTCOMES)))
    + "]::integer[], ARRAY["
    + ", ".join(f"count(*) FILTER (WHERE rating = {level})" for level in range(1, LEVELS_MAX + 1))
    + "]::integer[], coalesce(string_agg(int8send(wait_ms), ''::bytea ORDER BY wait_ms) "
    "FILTER (WHERE wait_ms IS NOT NULL), ''::bytea) FROM report_tickets WHERE {where} "
    "GROUP BY site, day ON CONFLICT (site, day) DO UPDATE SET outcomes = excluded.outcomes, "
    "ratings = excluded.ratings, waits = excluded.waits")


# Each part is grouped on its own and materialized before the join: with stale statistics
# (a table that just grew) the planner would otherwise recompute the bins for every ticket.
ROLL_UP_MONTHS = (
    "WITH t AS MATERIALIZED (SELECT site, date_trunc('month', day)::date AS month, outcome, rating, wait_ms "
    "FROM report_tickets WHERE {where}), "
    "a AS MATERIALIZED (SELECT site, month, ARRAY["
    + ", ".join(f"count(*) FILTER (WHERE outcome = {i})" for i in range(len(OUTCOMES)))
    + "]::integer[] AS outcomes, ARRAY["
    + ", ".join(f"count(*) FILTER (WHERE rating = {level})" for level in range(1, LEVELS_MAX + 1))
    + "]::integer[] AS ratings, coalesce(string_agg(int8send(wait_ms), ''::bytea ORDER BY wait_ms) "
    "FILTER (WHERE wait_ms IS NOT NULL), ''::bytea) AS waits FROM t GROUP BY site, month), "
    "b AS MATERIALIZED (SELECT site, month, floor(wait_ms / " + str(BIN_MS) + ".0)::integer AS bin, "
    "count(*)::integer AS n FROM t WHERE wait_ms IS NOT NULL GROUP BY 1, 2, 3), "
    "bins AS MATERIALIZED (SELECT site, month, string_agg(int4send(bin) || int4send(n), ''::bytea "
    "ORDER BY bin) AS bins FROM b GROUP BY 1, 2) "
    "INSERT INTO report_months (site, month, outcomes, ratings, bins, waits) "
    "SELECT a.site, a.month, a.outcomes, a.ratings, coalesce(bins.bins, ''::bytea), a.waits "
    "FROM a LEFT JOIN bins ON bins.site = a.site AND bins.month = a.month "
    "ON CONFLICT (site, month) DO UPDATE SET outcomes = excluded.outcomes, ratings = excluded.ratings, "
    "bins = excluded.bins, waits = excluded.waits")


def roll_up(db: Any, site: str, days: Sequence[str]) -> None:
    """``report_days`` of these days of the site, and their months, again from its tickets."""
    db.execute(ROLL_UP.format(where="site = %s AND day = ANY(%s::date[])"), (site, list(days)))
    months = sorted({day[:7] + "-01" for day in days})
    db.execute(ROLL_UP_MONTHS.format(
        where="site = %s AND day >= %s::date AND day < (%s::date + interval '1 month') "
              "AND date_trunc('month', day)::date = ANY(%s::date[])"), (site, months[0], months[-1], months))


def roll_up_all(db: Any) -> None:
    """Every site's every day and month (after a bulk load: bench/central_report.py)."""
    db.execute(ROLL_UP.format(where="true"))
    db.execute(ROLL_UP_MONTHS.format(where="true"))


# -- one commune: the hub's report ------------------------------------------------------------------

def commune_records(db: Any, site: str, start: date, end: date) -> list[Record]:
    """The period's tickets as caller/history.py ``load_records`` gives them on the hub."""
    rows = db.execute("SELECT day::text, service, hour, outcome, counter, wait_ms, service_ms, priority, "
                      "rating FROM report_tickets WHERE site = %s AND day BETWEEN %s AND %s",
                      (site, start, end)).fetchall()
    return [Record(day, service, hour, OUTCOMES[outcome], counter,
                   None if wait is None else wait / 1000, None if served is None else served / 1000,
                   priority, rating) for day, service, hour, outcome, counter, wait, served, priority, rating
            in rows]


def commune_report(db: Any, commune: Commune, start: date, end: date, *, by: Sequence[str] = (),
                   hours: bool = False, target_wait_s: float) -> Report:
    return report_of_records(commune_records(db, commune.site, start, end), by=by, hours=hours,
                             target_wait_s=target_wait_s, satisfied_levels=commune.good_levels)


def reasons_by(db: Any, site: str, start: date, end: date) -> list[tuple[str, str, str, int]]:
    """caller/history.py ``read_reasons_by``: (counter, week's Monday, reason, count)."""
    rows = db.execute("SELECT coalesce(counter, '-'), date_trunc('week', day)::date::text, reason, count(*) "
                      "FROM report_tickets WHERE site = %s AND day BETWEEN %s AND %s AND reason IS NOT NULL "
                      "GROUP BY 1, 2, 3", (site, start, end)).fetchall()
    return sorted((str(c), str(w), str(r), int(n)) for c, w, r, n in rows)


# -- the province: every commune side by side -------------------------------------------------------

@dataclass(frozen=True)
class SiteRow:
    """One commune's line of the province table."""

    site: str
    issued: int = 0
    served: int = 0
    no_shows: int = 0
    called: int = 0
    median_wait: float | None = None       # seconds
    p90_wait: float | None = None
    ratings: tuple[int, ...] = ()          # per level 1..
    satisfied: float | None = None         # Decision 766 share; None: nobody rated
    devices_offline: int = 0
    paper_out: int = 0
    heard_at: datetime | None = None


def split_period(start: date, end: date) -> tuple[list[date], list[date]]:
    """The period as whole months (their first days) and the days left at either end."""
    months, days = [], []
    day = start
    while day <= end:
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        if day.day == 1 and following - timedelta(days=1) <= end:
            months.append(day)
            day = following
        else:
            days.append(day)
            day += timedelta(days=1)
    return months, days


def province(db: Any, start: date, end: date, communes: dict[str, Commune]) -> list[SiteRow]:
    """Every site the centre knows (configured, heard from, or with devices), by site id."""
    months, days = split_period(start, end)
    sums = {row[0]: row[1:] for row in db.execute(
        "SELECT site, " + ", ".join(f"sum(outcomes[{i + 1}])" for i in range(len(OUTCOMES))) + ", "
        + ", ".join(f"sum(ratings[{level}])" for level in range(1, LEVELS_MAX + 1))
        + " FROM (SELECT site, outcomes, ratings FROM report_months WHERE month = ANY(%s::date[]) "
        "UNION ALL SELECT site, outcomes, ratings FROM report_days WHERE day = ANY(%s::date[])) AS p "
        "GROUP BY site", (months, days))}
    waits = _Waits.read(db, months, days)
    devices = {row[0]: row[1:] for row in db.execute(
        "SELECT site, count(*) FILTER (WHERE state <> 'online'), count(*) FILTER (WHERE role = 'kiosk' "
        "AND state = 'online' AND health->>'printer' = 'paper_out'), max(received_at) "
        "FROM device_status GROUP BY site")}
    heard = dict(db.execute("SELECT site, heard_at FROM sites").fetchall())
    names = sorted(set(communes) | set(heard) | set(sums) | (set(devices) - {"centre"}))
    result = []
    for site in names:
        counts = [int(v or 0) for v in sums.get(site, (0,) * (len(OUTCOMES) + LEVELS_MAX))]
        outcomes, ratings = counts[:len(OUTCOMES)], counts[len(OUTCOMES):]
        commune = communes.get(site)
        levels = len(commune.levels) if commune else max([i + 1 for i, n in enumerate(ratings) if n] or [0])
        good = commune.good_levels if commune else max(levels - 1, 0)
        rated = sum(ratings)
        median, p90, called = waits.get(site, (None, None, 0))
        offline, paper, status_at = devices.get(site, (0, 0, None))
        last = max((t for t in (heard.get(site), status_at) if t is not None), default=None)
        result.append(SiteRow(
            site=site, issued=sum(outcomes), served=outcomes[OUTCOMES.index("served")],
            no_shows=outcomes[OUTCOMES.index("no_show")], called=called, median_wait=median, p90_wait=p90,
            ratings=tuple(ratings[:max(levels, 1)]),
            satisfied=sum(ratings[:good]) / rated if rated else None,
            devices_offline=int(offline), paper_out=int(paper), heard_at=last))
    return result


class _Waits:
    """Each site's exact median and p90 wait over whole months and single days, without
    reading every wait: the months' bin counts (and the odd days' waits) say which bin holds
    each rank; only that bin's slice of each month's sorted waits is read."""

    @classmethod
    def read(cls, db: Any, months: list[date], days: list[date]) -> dict[str, tuple[float, float, int]]:
        import numpy as np

        binned: dict[str, list[tuple[date, Any, Any]]] = {}      # site -> (month, bins, counts)
        for site, month, packed in db.execute("SELECT site, month, bins FROM report_months "
                                              "WHERE month = ANY(%s::date[]) AND bins <> ''::bytea",
                                              (months,)):
            pairs = np.frombuffer(packed, dtype=">i4").reshape(-1, 2).astype(np.int64)
            binned.setdefault(site, []).append((month, pairs[:, 0], pairs[:, 1]))
        loose: dict[str, list[bytes]] = {}
        for site, packed in db.execute("SELECT site, waits FROM report_days WHERE day = ANY(%s::date[]) "
                                       "AND waits <> ''::bytea", (days,)):
            loose.setdefault(site, []).append(packed)
        plans: dict[str, tuple[int, dict[int, tuple[int, int]], Any]] = {}
        slices: list[tuple[str, date, int, int, int]] = []       # site, month, bin, offset, length
        for site in set(binned) | set(loose):
            day_values = np.sort(np.concatenate([np.frombuffer(p, dtype=">i8").astype(np.int64)
                                                 for p in loose.get(site, [])] or [np.zeros(0, np.int64)]))
            parts = binned.get(site, [])
            all_bins = np.concatenate([b for _, b, _ in parts] + [day_values // BIN_MS])
            weights = np.concatenate([c for _, _, c in parts] + [np.ones(len(day_values), np.int64)])
            bins, index = np.unique(all_bins, return_inverse=True)
            per_bin = np.bincount(index, weights=weights).astype(np.int64)
            ends = np.cumsum(per_bin)
            count = int(ends[-1])
            where: dict[int, tuple[int, int]] = {}      # rank -> (bin, rank within the bin)
            for rank in _ranks(count):
                j = int(np.searchsorted(ends, rank, side="right"))
                where[rank] = (int(bins[j]), rank - int(ends[j] - per_bin[j]))
            for bin_ in {b for b, _ in where.values()}:
                for month, month_bins, month_counts in parts:
                    j = int(np.searchsorted(month_bins, bin_))
                    if j < len(month_bins) and month_bins[j] == bin_:
                        slices.append((site, month, bin_, int(month_counts[:j].sum()), int(month_counts[j])))
            plans[site] = (count, where, day_values)
        found: dict[tuple[str, int], list[Any]] = {}
        if slices:
            rows = db.execute(
                "SELECT q.i, substring(m.waits FROM q.o * 8 + 1 FOR q.n * 8) FROM unnest(%s::int[], "
                "%s::text[], %s::date[], %s::int[], %s::int[]) AS q(i, site, month, o, n) "
                "JOIN report_months m ON m.site = q.site AND m.month = q.month",
                [list(range(len(slices))), *[list(c) for c in zip(*[(s, m, o, n) for s, m, _, o, n in slices],
                                                                  strict=True)]]).fetchall()
            for i, packed in rows:
                site, _, bin_, _, _ = slices[i]
                found.setdefault((site, bin_), []).append(np.frombuffer(packed, dtype=">i8").astype(np.int64))
        result = {}
        for site, (count, where, day_values) in plans.items():
            at = {}
            for rank, (bin_, within) in where.items():
                lows = day_values[(day_values // BIN_MS) == bin_]
                values = np.sort(np.concatenate([*found.get((site, bin_), []), lows]))
                at[rank] = int(values[within]) / 1000
            median, p90 = (_interpolate(at, count, pct) for pct in (50, 90))
            result[site] = (median, p90, count)
        return result


def _ranks(count: int) -> set[int]:
    ranks = [(count - 1) * pct / 100 for pct in (50, 90)]
    return {k for rank in ranks for k in (math.floor(rank), math.ceil(rank))}


def _interpolate(at: dict[int, float], count: int, pct: float) -> float:
    """caller/figures.py ``percentile`` on the sorted waits (each ms / 1000, the value SQLite's
    round(…, 3) gives the hub), from the values at the two ranks it needs."""
    rank = (count - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return at[low] + (at[high] - at[low]) * (rank - low)


def day_range(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)
