"""The service day (pure: clocks are handed in, never read here).

A Raspberry Pi has no battery clock: after a power cut its wall clock may start
in the past (fake-hwclock's last save, or 1970) and jump when NTP syncs. The
service day (the kiosk's numbers, the caller's queue) therefore follows these rules
(:class:`DayKeeper`):

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

The kiosk numbers tickets by this day and the caller starts its queue's days by it, so a
jump of either Pi's clock neither reuses a number nor expires a waiting queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo


def service_day(moment: datetime | float, tz: tzinfo, starts_at: time) -> date:
    """The service day an instant (aware datetime, or seconds since the epoch) belongs to."""
    local = moment.astimezone(tz) if isinstance(moment, datetime) else datetime.fromtimestamp(moment, tz)
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
