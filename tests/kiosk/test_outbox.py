"""The durable outbox: tickets printed while the broker is down, across a kiosk restart, arrive in order."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from rig import Subscriber, eventually

from motcua.protocol import Heartbeat, Ticket, Topics, encode

pytestmark = pytest.mark.broker

TOPICS = Topics("liem-chung")
DAT_DAI, TU_PHAP = 17, 27


class Caller(Subscriber):
    """The caller's side of the outbox: a persistent session on the ticket topic; it confirms
    each ticket (rig.Subscriber) and beats, so the kiosk resends a ticket whose confirmation
    a broker restart lost (docs/protocol.md, Delivery guarantees)."""

    def __init__(self, port: int) -> None:
        self.tickets: list[Ticket] = []       # decoded once each: a soak waits on 1,000
        super().__init__(port, TOPICS.ticket_from("k1"))
        self.beating = threading.Event()
        threading.Thread(target=self._beat, daemon=True).start()

    def _beat(self) -> None:
        seq = 0
        while not self.beating.wait(0.5):
            seq += 1
            at = datetime.now().astimezone().isoformat(timespec="milliseconds")
            self.client.publish(TOPICS.heartbeat, encode(Heartbeat(at=at, seq=seq)), qos=0)

    def close(self) -> None:
        self.beating.set()
        super().close()

    def _on_message(self, client, userdata, message) -> None:
        with self.changed:
            self.tickets.append(Ticket.decode(message.payload))
            super()._on_message(client, userdata, message)

    def first_copies(self) -> list[str]:
        """The numbers in order of arrival after dropping copies by id, as the caller does."""
        seen: dict[str, str] = {}
        for ticket in self.tickets:
            seen.setdefault(ticket.id, ticket.number)
        return list(seen.values())

    def wait_for(self, count: int, timeout: float = 20) -> list[str]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.first_copies()) >= count, timeout)
            return self.first_copies()


def press_and_print(kiosk, pin: int, printed: int) -> None:
    kiosk.press(pin)
    assert eventually(lambda: kiosk.rows("SELECT count(*) FROM tickets WHERE state = 'printed'")
                      == [(printed,)])


def test_outbox_across_a_broker_restart_and_a_kiosk_restart(start_kiosk, broker) -> None:
    caller = Caller(broker.port)
    kiosk = start_kiosk()
    press_and_print(kiosk, DAT_DAI, 1)
    assert caller.wait_for(1) == ["1001"]
    assert eventually(lambda: kiosk.rows("SELECT count(*) FROM outbox") == [(0,)])   # confirmed
    broker.stop()
    press_and_print(kiosk, TU_PHAP, 2)                  # printed while the broker is down
    press_and_print(kiosk, DAT_DAI, 3)
    assert kiosk.rows("SELECT count(*) FROM outbox") == [(2,)]
    kiosk.stop()                                        # ... and the kiosk restarts before it is back
    kiosk = start_kiosk()
    press_and_print(kiosk, TU_PHAP, 4)
    broker.start()
    assert caller.wait_for(4) == ["1001", "2001", "1002", "2002"]
    assert eventually(lambda: kiosk.rows("SELECT count(*) FROM outbox") == [(0,)])
    press_and_print(kiosk, DAT_DAI, 5)
    assert caller.wait_for(5) == ["1001", "2001", "1002", "2002", "1003"]
    # QoS 1 may deliver a copy after a broker restart (a lost PUBACK); the protocol promises each
    # ticket once after dropping copies by id, in order, and no other ticket.
    assert len({t.id for t in caller.tickets}) == 5
    caller.close()


def test_three_broker_restarts_during_a_stream_of_presses(start_kiosk, broker, soak: bool) -> None:
    """Every printed ticket reaches the caller once and in order (--soak: 1,000 presses)."""
    presses = 1000 if soak else 150
    restarts = {presses // 4, presses // 2, 3 * presses // 4}
    caller = Caller(broker.port)
    kiosk = start_kiosk()
    for i in range(1, presses + 1):
        press_and_print(kiosk, DAT_DAI if i % 3 else TU_PHAP, i)
        if i in restarts:
            broker.restart()
    printed = [number for (number,) in kiosk.rows(
        "SELECT number FROM tickets WHERE state = 'printed' ORDER BY n")]
    assert len(printed) == presses
    assert caller.wait_for(presses, timeout=60) == printed
    assert len({t.id for t in caller.tickets}) == presses     # copies, if any, share the id
    # A confirmation lost in a restart: the row goes again RESEND_S later, and is confirmed.
    assert eventually(lambda: kiosk.rows("SELECT count(*) FROM outbox") == [(0,)], timeout=30)
    caller.close()
