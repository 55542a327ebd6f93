"""Per-site order at the centre: pure logic, no I/O.

Events of a site are written strictly in the order of the hub's log. An event whose ``prev``
is the last one written follows on; a copy (``seq`` already written) is dropped; one that
arrives early waits (bounded) while the missing rows are asked for again, after a short
grace, since the missing ones are usually just behind in the same pipe.

A hub's log has an identity (``HistoryEvent.log``): a replaced log numbers its rows from 1
again, so the order is kept per (site, log). A site's current log is the one its hub sends
now; only its gaps are asked for. An earlier log's rows can no longer be asked for: what of it
still waits is written as it is, and its late rows as they come (the store drops copies).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from motcua.protocol import HistoryEvent

WAITING_MAX = 20_000      # early events kept per log; beyond, they are asked for again later
REQUEST_MAX = 5_000       # rows asked for at once
LEGACY = ""               # the log of hubs older than log identities


@dataclass
class SiteOrder:
    upto: int = 0                                   # every row up to here is written
    head: int = 0                                   # the hub's newest row, as it last said
    waiting: dict[int, HistoryEvent] = field(default_factory=dict)   # prev -> early event
    gap_since: float | None = None
    asked_at: float | None = None
    asked_last: int = 0
    skipped: bool = False                           # left with gaps: rows below upto may come


@dataclass(frozen=True)
class Request:
    site: str
    first: int
    last: int
    log: str = LEGACY


class Sequencer:
    def __init__(self, positions: dict[tuple[str, str], int] | None = None,
                 current: dict[str, str] | None = None, *, grace_s: float = 2.0,
                 retry_s: float = 10.0) -> None:
        self.logs: dict[tuple[str, str], SiteOrder] = {
            key: SiteOrder(upto=upto, head=upto) for key, upto in (positions or {}).items()}
        self.current: dict[str, str] = dict(current or {})
        for site, log in self.logs:
            self.current.setdefault(site, log)
        self.grace_s = grace_s
        self.retry_s = retry_s
        self.copies = 0
        self.adopted: list[tuple[str, str]] = []     # (site, log) that took over LEGACY rows
        # (site, log) left by a switch: their position may have moved with the rows flushed;
        # the centre takes them (and empties this) with each batch it writes.
        self.switched: list[tuple[str, str]] = []

    @property
    def sites(self) -> set[str]:
        return set(self.current)

    def site(self, site: str, log: str | None = None) -> SiteOrder:
        """The order of a site's log (its current one when ``log`` is None)."""
        if log is None:
            log = self.current.setdefault(site, LEGACY)
        return self.logs.setdefault((site, log), SiteOrder())

    def offer(self, event: HistoryEvent) -> list[HistoryEvent]:
        """The events now ready to write, in order (maybe none, maybe several)."""
        ready: list[HistoryEvent] = []
        key = (event.site, event.log)
        order = self.logs.get(key)
        if order is None:
            ready = self._new_log(event)
            order = self.logs[key]
        if event.log != self.current[event.site]:
            # A log the hub has left: nothing can be asked for, so nothing waits; a row below
            # the gaps it was left with may still come (the store drops it if it is a copy).
            if event.seq <= order.upto and not order.skipped:
                self.copies += 1
                return ready
            order.skipped |= event.prev != order.upto
            order.upto = max(order.upto, event.seq)
            return [*ready, event]
        if event.seq <= order.upto or event.prev in order.waiting:
            self.copies += 1
            return ready
        order.head = max(order.head, event.seq)
        if event.prev != order.upto:
            if event.prev < order.upto:
                # Its predecessor is not the row we wrote last: the log changed under us.
                # Taken as following on, so one odd row never blocks a site for good.
                pass
            elif len(order.waiting) < WAITING_MAX:
                order.waiting[event.prev] = event
                return ready
            else:
                return ready
        ready.append(event)
        order.upto = event.seq
        while order.upto in order.waiting:
            following = order.waiting.pop(order.upto)
            ready.append(following)
            order.upto = following.seq
        order.gap_since = None
        return ready

    def _new_log(self, event: HistoryEvent) -> list[HistoryEvent]:
        """The first event of a log not seen before: usually the hub's new current log."""
        site, log = event.site, event.log
        before = self.current.get(site)
        legacy = self.logs.get((site, LEGACY))
        if before == LEGACY and log != LEGACY and legacy is not None and legacy.upto > 0 \
                and event.seq > legacy.upto:
            # The hub was upgraded: the log it sent without an identity goes on under one.
            self.logs[(site, log)] = self.logs.pop((site, LEGACY))
            self.current[site] = log
            self.adopted.append((site, log))
            return []
        self.logs[(site, log)] = SiteOrder()
        if before is not None and before != log:
            return self.switch(site, log)
        self.current.setdefault(site, log)
        return []

    def switch(self, site: str, log: str) -> list[HistoryEvent]:
        """The hub's current log is now ``log``: what waits of the one before is written as
        it is (in its order), since those gaps can no longer be asked for."""
        before = self.current.get(site)
        self.current[site] = log
        self.logs.setdefault((site, log), SiteOrder())
        old = self.logs.get((site, before)) if before is not None else None
        if old is None or before is None or before == log:
            return []
        self.switched.append((site, before))
        flushed = sorted(old.waiting.values(), key=lambda e: e.seq)
        old.waiting.clear()
        old.gap_since = None
        if flushed:
            old.upto = max(old.upto, flushed[-1].seq)
            old.skipped = True
        return flushed

    def head(self, site: str, last: int, log: str = LEGACY) -> list[HistoryEvent]:
        """The hub's head: its current log and newest row. Returns events to write now (a
        log left behind). A legacy site waits for an event to tell an upgrade from a new log."""
        before = self.current.get(site)
        ready: list[HistoryEvent] = []
        if before != log:
            if before == LEGACY and (site, log) not in self.logs:
                return []
            ready = self.switch(site, log)
        order = self.site(site, log)
        order.head = max(order.head, last)
        return ready

    def requests(self, now: float) -> list[Request]:
        """Ranges to ask the hubs for again: gaps older than the grace, at most every retry_s,
        of each site's current log only."""
        wanted = []
        for site, log in self.current.items():
            order = self.logs.get((site, log))
            if order is None:
                continue
            if order.waiting:
                last = min(order.waiting)
            elif order.head > order.upto:
                last = order.head
            else:
                order.gap_since = None
                continue
            if order.gap_since is None:
                order.gap_since = now
            if now - order.gap_since < self.grace_s:
                continue
            answered = order.upto >= order.asked_last
            if order.asked_at is not None and not answered and now - order.asked_at < self.retry_s:
                continue
            first = order.upto + 1
            last = min(last, first + REQUEST_MAX - 1)
            order.asked_at, order.asked_last = now, last
            wanted.append(Request(site, first, last, log))
        return wanted
