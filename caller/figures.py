"""The office's figures from its ticket history (pure: records in, numbers out).

What a commune reports upward: how many citizens it served, how long they
waited and were served, how many it served within a target wait, and how
satisfied they were. The report command (report.py) reads the records from the
caller's database and prints, writes CSV or draws charts from these figures.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

OUTCOMES = ("served", "no_show", "expired", "waiting", "serving")   # each ticket: exactly one


def number_vi(value: float, decimals: int = 1) -> str:
    """A number as Vietnamese write it: 1,7 and 1.234 (comma for decimals, dot for thousands)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """One ticket's life, as the caller recorded it, reduced to what the report counts."""

    day: str
    service: str
    hour: int                          # local hour of day it was issued
    outcome: str                       # one of OUTCOMES
    counter: str | None = None         # the counter that called it last
    wait_s: float | None = None        # issued -> first call
    service_s: float | None = None     # first call -> done, for served tickets
    priority: bool = False
    rating: int | None = None          # 1 = best level

    @classmethod
    def from_times(cls, *, day: str, service: str, outcome: str, issued_at: datetime,
                   called_at: datetime | None = None, done_at: datetime | None = None,
                   **rest: object) -> TicketRecord:
        """A record from the ticket's times (local time)."""
        return cls(day=day, service=service, outcome=outcome, hour=issued_at.hour,
                   wait_s=(called_at - issued_at).total_seconds() if called_at else None,
                   service_s=(done_at - called_at).total_seconds()
                   if called_at and done_at and outcome == "served" else None,
                   **rest)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Spread:
    """Mean, median and 90th percentile of durations, in seconds."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls(0, None, None, None)
        ordered = sorted(values)
        return cls(len(ordered), sum(ordered) / len(ordered), percentile(ordered, 50),
                   percentile(ordered, 90))


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on sorted values."""
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Figures:
    """The figures of one group of tickets (the whole period, a day, a service, a counter)."""

    issued: int
    served: int
    no_shows: int
    expired: int
    waiting_now: int                   # still waiting when the report was made
    wait: Spread                       # issued -> first call, for called tickets
    service_time: Spread               # first call -> done, for served tickets
    within_target: float | None        # share of called tickets called within the target wait
    ratings: dict[int, int] = field(default_factory=dict)   # level -> count
    satisfied: float | None = None     # share of ratings in the satisfied levels
    serving_now: int = 0               # at a counter when the report was made

    def outcomes(self) -> tuple[int, int, int, int, int]:
        """Served, no-shows, expired, waiting, being served: they add up to ``issued``."""
        return self.served, self.no_shows, self.expired, self.waiting_now, self.serving_now

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())


def figures(records: Iterable[TicketRecord], *, target_wait_s: float,
            satisfied_levels: int) -> Figures:
    """Figures of a group; ``satisfied_levels`` top levels (1..N) count as satisfied."""
    counts = dict.fromkeys(OUTCOMES, 0)
    waits: list[float] = []
    service_times: list[float] = []
    ratings: dict[int, int] = defaultdict(int)
    for record in records:
        counts[record.outcome] += 1
        if record.wait_s is not None:
            waits.append(record.wait_s)
        if record.service_s is not None:
            service_times.append(record.service_s)
        if record.rating is not None:
            ratings[record.rating] += 1
    rated = sum(ratings.values())
    return Figures(
        issued=sum(counts.values()),
        served=counts["served"],
        no_shows=counts["no_show"],
        expired=counts["expired"],
        waiting_now=counts["waiting"],
        serving_now=counts["serving"],
        wait=Spread.of(waits),
        service_time=Spread.of(service_times),
        within_target=(sum(1 for w in waits if w <= target_wait_s) / len(waits)) if waits else None,
        ratings=dict(sorted(ratings.items())),
        satisfied=(sum(n for level, n in ratings.items() if level <= satisfied_levels) / rated)
        if rated else None,
    )


DISSATISFIED = "không hài lòng"


def satisfied_levels(levels: Sequence[str]) -> int:
    """How many of the best levels count as satisfied (Decision 766/QĐ-TTg, 2022: the share of
    cases not rated "không hài lòng" or worse). The first level whose name contains "không hài
    lòng" (any case) and every level after it (worse) are not satisfied; a scale without such a
    name counts all but its last level. 3 levels (Rất hài lòng, Hài lòng, Không hài lòng): 2;
    5 levels (… Bình thường, Không hài lòng, Rất không hài lòng): 3."""
    for index, name in enumerate(levels):
        if DISSATISFIED in unicodedata.normalize("NFC", name).casefold():
            return index
    return max(len(levels) - 1, 0)


GROUPINGS: dict[str, Callable[[TicketRecord], str]] = {
    "day": lambda r: r.day,
    "service": lambda r: r.service,
    "counter": lambda r: r.counter or "-",
}


def figures_by(records: Iterable[TicketRecord], by: str, *, target_wait_s: float,
               satisfied_levels: int) -> dict[str, Figures]:
    """Figures per day, service or counter, in key order."""
    key = GROUPINGS[by]
    groups: dict[str, list[TicketRecord]] = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return {name: figures(group, target_wait_s=target_wait_s, satisfied_levels=satisfied_levels)
            for name, group in sorted(groups.items())}


def wait_by_hour(records: Iterable[TicketRecord]) -> dict[int, Spread]:
    """Waiting time by the local hour the ticket was issued (for the chart)."""
    hours: dict[int, list[float]] = defaultdict(list)
    for record in records:
        if record.wait_s is not None:
            hours[record.hour].append(record.wait_s)
    return {hour: Spread.of(values) for hour, values in sorted(hours.items())}
