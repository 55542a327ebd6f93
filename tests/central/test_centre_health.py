"""What the centre's status says about its work: rows written, copies and junk dropped, sites."""

from __future__ import annotations

import time

from motcua.central.centre import Centre
from motcua.central.store import CentralStore

from motcua.mqtt import Inbound
from motcua.protocol import HistoryEvent, HistoryKind, HistoryTopics, encode


class RecordingLink:
    """Only what the centre's owner calls; the wire is tested in test_central_bridge."""

    def __init__(self) -> None:
        self.acked: list[Inbound] = []
        self.sent: list[tuple[str, bytes]] = []

    def ack(self, message: Inbound) -> None:
        self.acked.append(message)

    def ack_all(self, messages: list[Inbound]) -> None:
        self.acked.extend(messages)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self.sent.append((topic, payload))


def event(seq: int, site: str) -> Inbound:
    row = HistoryEvent(site=site, seq=seq, prev=seq - 1, id=f"{seq:032x}", kind=HistoryKind.TICKET,
                       at="2026-11-30T08:00:00+07:00",
                       body={"id": f"{seq:032x}", "service": "dat-dai", "number": str(seq)})
    return Inbound(HistoryTopics(site).event, encode(row), mid=seq, qos=1, retain=False)


def test_the_centres_health_counts_rows_copies_drops_and_sites(pg_dsn: str) -> None:
    store = CentralStore(pg_dsn)
    store.migrate()
    link = RecordingLink()
    centre = Centre(store, link)
    try:
        messages = [event(1, "xa-a"), event(2, "xa-a"), event(1, "xa-a"),        # a copy
                    event(1, "xa-b"),
                    Inbound(HistoryTopics("xa-a").event, b"{not json", mid=9, qos=1, retain=False)]
        for message in messages:
            centre.handle(message)
        centre.tick(time.monotonic())        # the socket may hold more: the batch still grows
        assert link.acked == []
        centre.tick(time.monotonic())        # a turn that brought nothing: the batch is written
        centre.finish(wait=True)             # its commit, then its acknowledgement
        assert len(link.acked) == len(messages)
        assert centre.health() == {"dropped": 1, "events_written": 3, "copies_dropped": 1,
                                   "sites": 2}
    finally:
        store.close()
