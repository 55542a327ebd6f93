"""Opening hours and days off: when the kiosk may give out tickets (pure, no clock of its own)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class OpeningHours:
    """Open spans per weekday (0 = Monday); ``None`` means open around the clock."""

    weekly: dict[int, tuple[tuple[time, time], ...]] | None = None
    days_off: frozenset[date] = field(default_factory=frozenset)

    def is_open(self, local: datetime) -> bool:
        """Whether a press at this local wall time may get a ticket."""
        if local.date() in self.days_off:
            return False
        if self.weekly is None:
            return True
        now = local.time().replace(tzinfo=None)
        return any(start <= now < end for start, end in self.weekly.get(local.weekday(), ()))


def parse_span(text: str) -> tuple[time, time]:
    """``"07:00-11:30"`` -> (07:00, 11:30); ValueError with the reason otherwise."""
    match = _SPAN.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a span written \"HH:MM-HH:MM\"")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{text!r} is not a span of times of day")
    start, end = time(h1, m1), time.max if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


def parse_days(key: str) -> list[int]:
    """``"mon"`` -> [0]; ``"mon-fri"`` -> [0, 1, 2, 3, 4]; ValueError otherwise."""
    names = key.lower().split("-")
    if len(names) not in (1, 2) or any(name not in DAY_NAMES for name in names):
        raise ValueError(f"{key!r} is not a day ({', '.join(DAY_NAMES)}) or a range like \"mon-fri\"")
    first, last = DAY_NAMES.index(names[0]), DAY_NAMES.index(names[-1])
    if last < first:
        raise ValueError(f"{key!r} runs backwards")
    return list(range(first, last + 1))


def day_spans(key: str, spans: Iterable[str]) -> dict[int, tuple[tuple[time, time], ...]]:
    """One entry of the weekly table: ``("mon-fri", ["07:00-11:30"])`` -> {0: ..., 4: ...}."""
    parsed = tuple(sorted(parse_span(span) for span in spans))
    return {day: parsed for day in parse_days(key)}
