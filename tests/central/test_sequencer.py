"""Per-site order at the centre (pure logic)."""

from __future__ import annotations

from motcua.central.sequencer import Request, Sequencer

from motcua.protocol import HistoryEvent, HistoryKind


def event(seq: int, prev: int, site: str = "a", log: str = "") -> HistoryEvent:
    return HistoryEvent(site=site, seq=seq, prev=prev, id=f"m{seq}", kind=HistoryKind.COMMAND,
                        at="2026-11-30T08:00:00+07:00", body={"action": "next"}, counter="1",
                        log=log)


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
    order = Sequencer({("b", ""): 10}, grace_s=0, retry_s=10)
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


OLD, NEW = "0" * 16, "1" * 16


def test_a_new_log_numbers_from_1_again_and_copies_of_both_are_dropped():
    order = Sequencer()
    assert seqs(order.offer(event(1, 0, log=OLD))) == [1]
    assert seqs(order.offer(event(2, 1, log=OLD))) == [2]
    assert seqs(order.offer(event(1, 0, log=NEW))) == [1]         # the replaced caller.db
    assert seqs(order.offer(event(2, 1, log=NEW))) == [2]
    assert order.current == {"a": NEW} and order.site("a").upto == 2
    assert order.offer(event(2, 1, log=NEW)) == [] and order.offer(event(2, 1, log=OLD)) == []
    assert seqs(order.offer(event(3, 2, log=OLD))) == [3]         # the old log's late tail
    assert order.site("a", OLD).upto == 3


def test_gaps_are_asked_for_in_the_current_log_only_and_the_old_ones_wait_no_more():
    order = Sequencer(grace_s=0, retry_s=10)
    order.offer(event(1, 0, log=OLD))
    assert order.offer(event(5, 4, log=OLD)) == []                # waits for 2..4
    assert order.requests(now=0.0) == [Request("a", 2, 4, OLD)]
    # The hub's log was replaced: rows 2..4 of the old one cannot come any more.
    assert seqs(order.head("a", 3, log=NEW)) == [5]
    assert order.requests(now=1.0) == [Request("a", 1, 3, NEW)]
    assert seqs(order.offer(event(1, 0, log=NEW))) == [1]


def test_an_upgraded_hub_keeps_its_numbering_under_its_new_identity():
    order = Sequencer({("a", ""): 7}, {"a": ""})
    assert seqs(order.offer(event(8, 7, log=NEW))) == [8]
    assert order.adopted == [("a", NEW)] and order.current == {"a": NEW}
    assert ("a", "") not in order.logs
    # ...but a hub whose log restarted is a new log, not an upgrade.
    other = Sequencer({("b", ""): 7}, {"b": ""})
    assert seqs(other.offer(event(1, 0, site="b", log=NEW))) == [1]
    assert other.adopted == [] and other.site("b", "").upto == 7
