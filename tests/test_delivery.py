"""motcua.delivery without a broker: which rows go when, and what the heartbeat says."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from motcua.delivery import RESEND_S, STALE_S, CallerWatch, Confirmed
from motcua.protocol import CounterCommand, Heartbeat, encode


@dataclass
class Info:
    mid: int


class FakeLink:
    """Records what would be handed to paho (the real link is tested with a broker)."""

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.sent: list[bytes] = []

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> Info:
        self.sent.append(payload)
        return Info(len(self.sent))


def payload(n: int) -> bytes:
    return encode(CounterCommand(id=f"{n:032x}", action="next"))


def test_rows_stay_until_the_caller_confirms_and_go_again_only_while_it_accepts() -> None:
    link, now = FakeLink(), [100.0]
    order = Confirmed(link, clock=lambda: now[0])  # type: ignore[arg-type]
    order.load([(1, "t", payload(1))])            # from a previous run
    order.add(2, "t", payload(2))                 # link down: kept, not sent
    assert link.sent == []
    link.connected.set()
    assert order.link_up() == 2 and link.sent == [payload(1), payload(2)]
    assert order.published(1) and order.published(2) and not order.published(99)
    assert len(order) == 2                        # the broker has them; the caller may not
    assert order.resend_due(caller_accepting=True) == 0          # not yet RESEND_S
    now[0] += RESEND_S
    assert order.resend_due(caller_accepting=False) == 0         # a silent caller: no pile-up
    assert order.resend_due(caller_accepting=True) == 2 and link.sent[2:] == [payload(1), payload(2)]
    assert order.confirm([f"{1:032x}", "unknown"]) == [1]
    assert len(order) == 1 and order.row_of(f"{2:032x}") == 2


def test_the_callers_heartbeat_as_a_receiver_sees_it() -> None:
    watch = CallerWatch()
    assert watch.lost(0.0)                        # no link yet
    watch.link_up(10.0)
    assert not watch.lost(10.0 + STALE_S)         # a grace after connecting
    assert watch.lost(10.1 + STALE_S)
    watch.offer(Heartbeat(at="2026-11-30T08:00:00.000+07:00", seq=1), 20.0)
    assert watch.alive(20.0) and watch.accepting(20.0) and not watch.lost(21.0)
    assert watch.anchor(21.25) == ("2026-11-30T08:00:00.000+07:00", 1250)
    assert not watch.alive(20.1 + STALE_S) and watch.lost(20.1 + STALE_S)
    watch.offer(Heartbeat(at="2026-11-30T08:00:09.000+07:00", seq=2, accepting=False), 29.0)
    assert watch.alive(29.0) and not watch.accepting(29.0)


def test_rows_wait_for_the_owners_link_up_and_go_oldest_first() -> None:
    """A row goes to paho only while the owner knows the link is up: one handed over while
    paho is reconnecting would overtake paho's own resends of earlier rows."""
    link = FakeLink()
    order = Confirmed(link)  # type: ignore[arg-type]
    order.load([(1, "t", payload(1)), (2, "t", payload(2))])     # from a previous run
    order.add(3, "t", payload(3))                      # before the first LinkUp: held
    link.connected.set()
    order.add(4, "t", payload(4))                      # connected, LinkUp not yet handled: held
    assert link.sent == []
    assert order.link_up() == 4
    assert link.sent == [payload(1), payload(2), payload(3), payload(4)]
    order.add(5, "t", payload(5))                      # up: at once
    assert link.sent[-1] == payload(5)
    # The connection drops (paho keeps 1-5 and resends them itself); while down, 6 and 7 wait.
    link.connected.clear()
    order.add(6, "t", payload(6))
    order.link_down()
    order.add(7, "t", payload(7))
    link.connected.set()
    assert order.link_up() == 2                        # only 6 and 7: paho holds the others
    assert link.sent[-2:] == [payload(6), payload(7)]
    assert [order.published(mid) for mid in (1, 2, 3, 4, 5, 6, 7, 99)] == [True] * 7 + [False]
