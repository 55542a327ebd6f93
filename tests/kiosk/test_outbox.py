"""The durable outbox: tickets printed while the broker is down, across a kiosk restart, arrive in order."""

from __future__ import annotations

from rig import Subscriber, eventually

from motcua.protocol import Ticket, Topics

TOPICS = Topics("liem-chung")
DAT_DAI, TU_PHAP = 17, 27


class Caller(Subscriber):
    """The caller's side of the outbox: a persistent session on the ticket topic."""

    def __init__(self, port: int) -> None:
        self.tickets: list[Ticket] = []       # decoded once each: a soak waits on 1,000
        super().__init__(port, TOPICS.ticket_from("k1"))

    def _on_message(self, client, userdata, message) -> None:
        with self.changed:
            self.tickets.append(Ticket.decode(message.payload))
            super()._on_message(client, userdata, message)

    def first_copies(self) -> list[str]:
        seen: list[str] = []
        for ticket in self.tickets:
            if ticket.number not in seen:
                seen.append(ticket.number)
        return seen

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
    # Each ticket arrived once here; a copy after a lost PUBACK would be dropped by id at the caller.
    assert len(caller.tickets) == len({t.id for t in caller.tickets}) == 5
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
    assert eventually(lambda: kiosk.rows("SELECT count(*) FROM outbox") == [(0,)])
    caller.close()
