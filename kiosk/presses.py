"""From raw presses and keystrokes to ticket requests (pure: times are handed in).

:class:`KeyStream` turns keyboard characters into button presses and scans: a
USB QR scanner types like a keyboard, so characters that come in one quick
burst (or one line) holding a ``|`` are a scan, anything else is one press per
character. :class:`PressGate` decides which presses become tickets: a hold-off
per button, no stacking of presses made while a ticket was printing, and the
priority button or a scanned name applying to the next service press.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from .cccd import looks_like_scan


@dataclass(frozen=True)
class Press:
    """A button went down: a service's, or the priority button's (service None)."""

    service: str | None
    at: float            # monotonic seconds when it happened (not when it was handled)
    source: str = "gpio"


@dataclass(frozen=True)
class Scan:
    """Text from the QR scanner; repr hides it, so it can never slip into a log line."""

    text: str = field(repr=False)
    at: float = 0.0


@dataclass(frozen=True)
class Accepted:
    service: str
    priority: bool
    name: str | None = field(default=None, repr=False)


class Why(enum.StrEnum):
    """Why a press gave no ticket."""

    PRINTING = "printing"        # pressed while a ticket was printing: presses do not stack
    HOLD_OFF = "hold-off"        # the same button again within its hold-off


@dataclass(frozen=True)
class Refused:
    service: str
    reason: Why


class KeyStream:
    """Characters from a keyboard, keypad or scanner -> Press and Scan events.

    ``keys`` maps a character to a service id, or to None for the priority button.
    A burst is complete at a line end or after ``gap_s`` without a character.
    """

    def __init__(self, keys: Mapping[str, str | None], *, gap_s: float = 0.05,
                 source: str = "keyboard") -> None:
        self.keys = dict(keys)
        self.gap_s = gap_s
        self.source = source
        self._burst: list[str] = []
        self._burst_at = 0.0
        self._last_at = 0.0

    def feed(self, text: str, now: float) -> list[Press | Scan]:
        events: list[Press | Scan] = []
        for char in text:
            if char in "\r\n":
                events += self._close()
                continue
            if not self._burst:
                self._burst_at = now
            self._burst.append(char)
            self._last_at = now
        return events

    def deadline(self) -> float | None:
        """When an open burst is complete unless more characters come."""
        return self._last_at + self.gap_s if self._burst else None

    def flush(self, now: float) -> list[Press | Scan]:
        """Close a burst that has been quiet for ``gap_s``."""
        deadline = self.deadline()
        if deadline is not None and now >= deadline:
            return self._close()
        return []

    def _close(self) -> list[Press | Scan]:
        burst, self._burst = "".join(self._burst), []
        if not burst:
            return []
        if looks_like_scan(burst):
            return [Scan(text=burst, at=self._burst_at)]
        return [Press(service=self.keys[char], at=self._burst_at, source=self.source)
                for char in burst if char in self.keys]


class PressGate:
    """Which service presses become tickets."""

    def __init__(self, hold_off_s: Mapping[str, float], *, priority_window_s: float,
                 name_window_s: float) -> None:
        self.hold_off_s = dict(hold_off_s)
        self.priority_window_s = priority_window_s
        self.name_window_s = name_window_s
        self._held_until: dict[str, float] = {}
        self._busy_until = float("-inf")
        self._priority_until = float("-inf")
        self._name: str | None = None
        self._name_until = float("-inf")

    def priority_pressed(self, at: float) -> None:
        self._priority_until = at + self.priority_window_s

    def name_scanned(self, name: str, at: float) -> None:
        self._name, self._name_until = name, at + self.name_window_s

    def printing_ended(self, at: float) -> None:
        """Presses made before this instant were made while printing: they do not stack."""
        self._busy_until = max(self._busy_until, at)

    def decide(self, service: str, at: float) -> Accepted | Refused:
        if at < self._busy_until:
            return Refused(service, Why.PRINTING)
        if at < self._held_until.get(service, float("-inf")):
            return Refused(service, Why.HOLD_OFF)
        self._held_until[service] = at + self.hold_off_s.get(service, 0.0)
        priority = at <= self._priority_until
        name = self._name if at <= self._name_until else None
        self._priority_until = self._name_until = float("-inf")
        self._name = None
        return Accepted(service, priority, name)
