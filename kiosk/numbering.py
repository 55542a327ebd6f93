"""Ticket numbers and the service day (pure: clocks are handed in, never read here).

The service day
---------------
A Raspberry Pi has no battery clock: after a power cut its wall clock may start
in the past (fake-hwclock's last save, or 1970) and jump when NTP syncs. The day
the numbers belong to therefore follows these rules (:class:`DayKeeper`):

1. The day never goes backwards. A wall clock that reads an earlier day (a jump
   back, 1970 after a power cut) leaves the current day in place.
2. A later day is accepted when the kernel says the clock is synchronised
   (adjtimex is not TIME_ERROR), or when the site says the clock is trusted
   (a battery RTC), or when the wall clock advanced in step with the monotonic
   clock since the last reading that agreed with the current day, within
   ``tolerance_s``: the clock simply ran across the reset time.
3. Otherwise (an unsynchronised jump forward) the day stays; numbers go on
   from the current day's last one, so nothing is reused. The day is taken up
   later, once the clock is synchronised or runs in step across a reset.

Numbers never repeat within a day because they come from the store's last
number of that (service, day), and the day only moves forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from motcua.errors import MotcuaError


class RangeExhausted(MotcuaError):
    """A service's range is used up today and the config says stop."""

    def __init__(self, service: str, first: int, last: int) -> None:
        super().__init__(f"service {service!r}: all numbers {first}..{last} are used today "
                         f"(on_exhausted = \"stop\"); tickets start again tomorrow")
        self.service = service


@dataclass(frozen=True)
class NumberRange:
    """The numbers one kiosk hands out for one service, and how they are written."""

    service: str
    first: int
    last: int
    prefix: str = ""
    on_exhausted: str = "wrap"      # "wrap" or "stop"
    width: int = 0                  # digits of the service's last number, for padding

    def label(self, seq: int) -> str:
        """The printed number: ``C001`` with a prefix (zero-padded), plain ``1012`` without."""
        if self.prefix:
            return f"{self.prefix}{seq:0{self.width}d}"
        return str(seq)

    def next_after(self, previous: int | None) -> int:
        """The number that follows ``previous`` (the day's last one, or None for the first)."""
        if previous is None or previous < self.first or previous > self.last:
            return self.first
        if previous < self.last:
            return previous + 1
        if self.on_exhausted == "stop":
            raise RangeExhausted(self.service, self.first, self.last)
        return self.first


def service_day(wall: float, tz: tzinfo, starts_at: time) -> date:
    """The service day a wall-clock instant (seconds since the epoch) belongs to."""
    local = datetime.fromtimestamp(wall, tz)
    return (local - timedelta(hours=starts_at.hour, minutes=starts_at.minute)).date()


@dataclass(frozen=True)
class ClockReading:
    wall: float          # time.time()
    monotonic: float     # time.monotonic()
    synced: bool         # the kernel says the wall clock is synchronised


class DayKeeper:
    """Decides the current service day from clock readings (rules in the module doc)."""

    def __init__(self, tz: tzinfo, starts_at: time, persisted: date | None, *,
                 trust_wall_clock: bool = False, tolerance_s: float = 120.0) -> None:
        self.tz = tz
        self.starts_at = starts_at
        self.day = persisted
        self.trust_wall_clock = trust_wall_clock
        self.tolerance_s = tolerance_s
        self._anchor: ClockReading | None = None   # last reading that agreed with self.day

    def observe(self, reading: ClockReading) -> date:
        """The service day now; moves forward only as the rules allow."""
        candidate = service_day(reading.wall, self.tz, self.starts_at)
        if self.day is None or candidate == self.day or (candidate > self.day and self._may_advance(reading)):
            self.day = candidate
            self._anchor = reading
        return self.day

    def _may_advance(self, reading: ClockReading) -> bool:
        if reading.synced or self.trust_wall_clock:
            return True
        anchor = self._anchor
        if anchor is None:
            return False
        ran = reading.monotonic - anchor.monotonic
        moved = reading.wall - anchor.wall
        return ran >= 0 and abs(moved - ran) <= self.tolerance_s
