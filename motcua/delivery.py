"""Delivery to the caller, confirmed by the caller itself (docs/protocol.md, Delivery guarantees).

The broker's PUBACK only says the broker has a message: on a fresh broker (no saved
session) with the caller not yet subscribed, it drops it. So a sender (the kiosk, a
counter pad, the MQTT button bridge) keeps each row until the caller lists its id on
``received`` (after the caller's fsync), and sends it again while the caller's heartbeat
says it is alive and accepting, ``RESEND_S`` after the last copy went out. While the
caller is gone nothing is resent: the first copy waits in the broker, and resends would
only pile up behind it. The caller drops copies by id and confirms them again.

Owner thread only. :class:`CallerWatch` is the receivers' view of the heartbeat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .mqtt import Link
from .protocol import Heartbeat, message_id

HEARTBEAT_S = 1.0     # the caller beats this often
STALE_S = 5.0         # a caller not heard for this long is shown as not answering
RESEND_S = 5.0        # an unconfirmed row goes again this long after its last copy


class CallerWatch:
    """The caller's heartbeat as heard here, by this device's monotonic clock."""

    def __init__(self, *, stale_s: float = STALE_S) -> None:
        self.stale_s = stale_s
        self.last: Heartbeat | None = None
        self.heard_at: float | None = None
        self.since: float | None = None        # link up: the grace before "lost" starts here

    def link_up(self, now: float) -> None:
        self.since = now

    def link_down(self) -> None:
        self.since = None

    def offer(self, beat: Heartbeat, now: float) -> None:
        if self.last is None or beat.seq >= self.last.seq or beat.at != self.last.at:
            self.last, self.heard_at = beat, now

    def alive(self, now: float) -> bool:
        """Heard within ``stale_s``."""
        return self.heard_at is not None and now - self.heard_at <= self.stale_s

    def accepting(self, now: float) -> bool:
        return self.alive(now) and self.last is not None and self.last.accepting

    def lost(self, now: float) -> bool:
        """Connected for ``stale_s`` at least and still no recent heartbeat (or no link)."""
        if self.since is None:
            return True
        return not self.alive(now) and now - self.since > self.stale_s

    def anchor(self, now: float) -> tuple[str | None, int | None]:
        """(caller_at, after_ms) for a press now: the last beat heard and how long ago."""
        if self.last is None or self.heard_at is None:
            return None, None
        return self.last.at, max(0, round((now - self.heard_at) * 1000))


@dataclass
class _Row:
    topic: str
    payload: bytes
    msg_id: str | None
    mid: int | None = None          # paho holds it (no PUBACK yet)
    sent_at: float | None = None    # last handed to paho


class Confirmed:
    """Rows to the caller, handed to paho in order while the link is up, kept until confirmed.

    paho resends the QoS 1 publishes it holds when a connection comes back, but a publish
    from another thread while that connection is being made (socket open, CONNACK not yet
    read) goes out at once, ahead of the resends: a ticket printed then reached the caller
    before tickets printed earlier. So a row is handed over only while the owner knows the
    link is up (its LinkUp handled, the link still connected); rows made meanwhile go,
    oldest first, when the owner handles the next LinkUp, after paho has queued its resends
    (it does so before the SUBACK that makes the LinkUp). Owner thread only.
    """

    def __init__(self, link: Link, *, resend_s: float = RESEND_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.resend_s = resend_s
        self.clock = clock
        self.up = False
        self.rows: dict[int, _Row] = {}
        self.by_id: dict[str, int] = {}
        self.in_flight: dict[int, int] = {}       # paho mid -> row
        self.resent = 0

    def __len__(self) -> int:
        return len(self.rows)

    def load(self, rows: Iterable[tuple[int, str, bytes]]) -> None:
        """Rows a previous run left: they go at the first LinkUp."""
        for row, topic, payload in rows:
            self._keep(row, topic, payload)

    def add(self, row: int, topic: str, payload: bytes) -> None:
        """A newly committed row: to paho now if the link is up, else at the next LinkUp."""
        self._keep(row, topic, payload)
        if self.up and self.link.connected.is_set():
            self._hand_over(row)

    offer = add     # mqtt.InOrder's name for it

    def link_up(self) -> int:
        """Hand paho, oldest first, the rows it does not hold and the broker never took."""
        self.up = True
        fresh = [row for row, r in self.rows.items() if r.mid is None and r.sent_at is None]
        for row in fresh:
            self._hand_over(row)
        return len(fresh)

    def link_down(self) -> None:
        self.up = False

    def published(self, mid: int) -> bool:
        """The broker's PUBACK: it has the copy, the caller may not. True if ours."""
        row = self.in_flight.pop(mid, None)
        if row is None:
            return False
        if row in self.rows:
            self.rows[row].mid = None
        return True

    def confirm(self, ids: Sequence[str]) -> list[int]:
        """The caller has these ids: the rows to delete."""
        done = []
        for msg_id in ids:
            row = self.by_id.pop(msg_id, None)
            if row is not None and self.rows.pop(row, None) is not None:
                done.append(row)
        return done

    def row_of(self, msg_id: str) -> int | None:
        return self.by_id.get(msg_id)

    def resend_due(self, caller_accepting: bool) -> int:
        """Send again, oldest first, the rows the caller has not confirmed in time."""
        if not (caller_accepting and self.up and self.link.connected.is_set()):
            return 0
        now = self.clock()
        due = [row for row, r in self.rows.items()
               if r.mid is None and r.sent_at is not None and now - r.sent_at >= self.resend_s]
        for row in due:
            self._hand_over(row)
        self.resent += len(due)
        return len(due)

    def _keep(self, row: int, topic: str, payload: bytes) -> None:
        msg_id = message_id(payload)
        self.rows[row] = _Row(topic, payload, msg_id)
        if msg_id is not None:
            self.by_id[msg_id] = row

    def _hand_over(self, row: int) -> None:
        r = self.rows[row]
        info = self.link.publish(r.topic, r.payload, qos=1)
        r.mid, r.sent_at = info.mid, self.clock()
        self.in_flight[info.mid] = row
