"""Per-site order at the centre: pure logic, no I/O.

Events of a site are written strictly in the order of the hub's log. An event whose ``prev``
is the last one written follows on; a copy (``seq`` already written) is dropped; one that
arrives early waits (bounded) while the missing rows are asked for again, after a short
grace, since the missing ones are usually just behind in the same pipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from motcua.protocol import HistoryEvent

WAITING_MAX = 20_000      # early events kept per site; beyond, they are asked for again later
REQUEST_MAX = 5_000       # rows asked for at once


@dataclass
class SiteOrder:
    upto: int = 0                                   # every row up to here is written
    head: int = 0                                   # the hub's newest row, as it last said
    waiting: dict[int, HistoryEvent] = field(default_factory=dict)   # prev -> early event
    gap_since: float | None = None
    asked_at: float | None = None
    asked_last: int = 0


@dataclass(frozen=True)
class Request:
    site: str
    first: int
    last: int


class Sequencer:
    def __init__(self, positions: dict[str, int] | None = None, *, grace_s: float = 2.0,
                 retry_s: float = 10.0) -> None:
        self.sites: dict[str, SiteOrder] = {site: SiteOrder(upto=upto, head=upto)
                                            for site, upto in (positions or {}).items()}
        self.grace_s = grace_s
        self.retry_s = retry_s
        self.copies = 0

    def site(self, site: str) -> SiteOrder:
        return self.sites.setdefault(site, SiteOrder())

    def offer(self, event: HistoryEvent) -> list[HistoryEvent]:
        """The events now ready to write, in order (maybe none, maybe several)."""
        order = self.site(event.site)
        if event.seq <= order.upto or event.prev in order.waiting:
            self.copies += 1
            return []
        order.head = max(order.head, event.seq)
        if event.prev != order.upto:
            if event.prev < order.upto:
                # Its predecessor is not the row we wrote last: the log changed under us.
                # Taken as following on, so one odd row never blocks a site for good.
                pass
            elif len(order.waiting) < WAITING_MAX:
                order.waiting[event.prev] = event
                return []
            else:
                return []
        ready = [event]
        order.upto = event.seq
        while order.upto in order.waiting:
            following = order.waiting.pop(order.upto)
            ready.append(following)
            order.upto = following.seq
        order.gap_since = None
        return ready

    def head(self, site: str, last: int) -> None:
        order = self.site(site)
        order.head = max(order.head, last)

    def requests(self, now: float) -> list[Request]:
        """Ranges to ask the hubs for again: gaps older than the grace, at most every retry_s."""
        wanted = []
        for site, order in self.sites.items():
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
            wanted.append(Request(site, first, last))
        return wanted
