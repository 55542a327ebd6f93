"""Ticket numbers (pure): the ranges a kiosk hands out and how numbers are written.

Numbers never repeat within a day because they come from the store's last number of
that (service, day), and the service day only moves forward (motcua/service_day.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from motcua.config import OnExhausted
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
    on_exhausted: OnExhausted = OnExhausted.WRAP
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
        if self.on_exhausted == OnExhausted.STOP:
            raise RangeExhausted(self.service, self.first, self.last)
        return self.first
