"""The kiosk daemon in-process with its real wiring: mock GPIO, real broker, network FakePrinter.

Only what crosses the wire is here: a ticket reaches the broker, the caller's confirmation
empties the outbox, the status topic. The kiosk's own rules are in test_kiosk_device.py."""

from __future__ import annotations

import pytest
from rig import Listener, eventually

from motcua.protocol import Received, Status, Ticket, Topics, encode

pytestmark = pytest.mark.broker

TOPICS = Topics("liem-chung")
CUT = b"\x1bd\x05\x1dV\x00"          # feed and full cut: one per ticket
DAT_DAI, CHUNG_THUC = 17, 23


def tickets(listener: Listener) -> list[Ticket]:
    return [Ticket.decode(p) for p in listener.payloads(TOPICS.ticket_from("k1"))]


def wait_tickets(listener: Listener, count: int) -> list[Ticket]:
    assert listener.wait_for(lambda lst: len({t.id for t in tickets(lst)}) >= count), tickets(listener)
    return tickets(listener)


def last_status(listener: Listener) -> Status:
    payloads = listener.payloads(TOPICS.status("kiosk", "k1"))
    return Status.decode(payloads[-1]) if payloads else Status("kiosk", "k1", "offline")


def test_a_press_prints_and_the_ticket_reaches_the_broker(start_kiosk, broker, printer) -> None:
    listener = Listener(broker.url, TOPICS.ticket_from("k1"), TOPICS.status("kiosk", "k1"))
    kiosk = start_kiosk()
    kiosk.press(DAT_DAI)
    wait_tickets(listener, 1)
    kiosk.press(CHUNG_THUC)
    got = wait_tickets(listener, 2)
    assert [(t.service, t.number, t.seq, t.kiosk, t.priority, t.name) for t in got] == [
        ("dat-dai", "1001", 1001, "k1", False, None), ("chung-thuc", "C001", 1, "k1", False, None)]
    assert printer.data().count(CUT) == 2
    assert kiosk.rows("SELECT number, state FROM tickets ORDER BY n") == [("1001", "printed"),
                                                                         ("C001", "printed")]
    # The outbox keeps a ticket until the caller confirms it (the broker's PUBACK is not
    # delivery); here the listener plays the caller's part.
    assert kiosk.rows("SELECT count(*) FROM outbox") == [(2,)]
    listener.publish(TOPICS.received, encode(Received(ids=[t.id for t in got])))
    assert eventually(lambda: kiosk.rows("SELECT count(*) FROM outbox") == [(0,)])
    assert listener.wait_for(lambda lst: last_status(lst).health.get("outbox") == 0)
    health = last_status(listener).health
    assert health["printer"] == "ok" and health["open"] is True and health["paper"] == "80mm"
    listener.close()
