"""Per-site order at the centre (pure logic)."""

from __future__ import annotations

from motcua.central.sequencer import Request, Sequencer

from motcua.protocol import HistoryEvent, HistoryKind


def event(seq: int, prev: int, site: str = "a") -> HistoryEvent:
    return HistoryEvent(site=site, seq=seq, prev=prev, id=f"m{seq}", kind=HistoryKind.COMMAND,
                        at="2026-11-30T08:00:00+07:00", body={"action": "next"}, counter="1")


def seqs(events) -> list[int]:
    return [e.seq for e in events]


def test_in_order_events_follow_on_and_copies_are_dropped():
    order = Sequencer()
    assert seqs(order.offer(event(1, 0))) == [1]
    assert seqs(order.offer(event(2, 1))) == [2]
    assert order.offer(event(1, 0)) == [] and order.offer(event(2, 1)) == []
    assert order.copies == 2
    assert order.site("a").upto == 2


def test_an_early_event_waits_for_the_gap_then_all_follow_in_order():
    order = Sequencer()
    order.offer(event(1, 0))
    assert order.offer(event(4, 3)) == []
    assert order.offer(event(5, 4)) == []
    assert order.offer(event(5, 4)) == []          # a copy of a waiting event
    assert seqs(order.offer(event(3, 2))) == []
    assert seqs(order.offer(event(2, 1))) == [2, 3, 4, 5]


def test_a_log_that_skipped_numbers_is_no_gap():
    order = Sequencer()
    assert seqs(order.offer(event(3, 0))) == [3]
    assert seqs(order.offer(event(9, 3))) == [9]
    assert order.requests(now=100.0) == []


def test_a_gap_is_asked_for_after_the_grace_and_again_only_after_retry():
    order = Sequencer(grace_s=2, retry_s=10)
    order.offer(event(1, 0))
    order.offer(event(7, 6))
    assert order.requests(now=0.0) == []                 # grace: the rest may be just behind
    assert order.requests(now=1.0) == []
    assert order.requests(now=2.5) == [Request("a", 2, 6)]
    assert order.requests(now=5.0) == []                 # asked, not yet answered
    assert order.requests(now=13.0) == [Request("a", 2, 6)]


def test_a_head_beyond_what_arrived_is_asked_for_in_chunks():
    order = Sequencer({"b": 10}, grace_s=0, retry_s=10)
    order.head("b", 20_000)
    assert order.requests(now=0.0) == [Request("b", 11, 5010)]
    order.offer(event(5010, 10, site="b"))               # the answer's rows arrived (log skipped)
    assert order.requests(now=0.5) == [Request("b", 5011, 10010)]


def test_sites_are_independent():
    order = Sequencer()
    assert seqs(order.offer(event(1, 0, "a"))) == [1]
    assert seqs(order.offer(event(1, 0, "b"))) == [1]
    assert order.offer(event(3, 2, "b")) == []
    assert seqs(order.offer(event(2, 1, "a"))) == [2]
