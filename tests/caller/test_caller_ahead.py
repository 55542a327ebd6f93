"""The count ahead printed on a ticket is the truth: checked against the engine's own calls.

Issue 15: a priority ticket printed "Số người chờ trước: 1" and was called first. The board
now says, per service, how many tickets a priority ticket taken now would find ahead; the
reference is the engine itself: take the ticket, press Next at the service's counters in
turn, and count the calls before it.
"""

from __future__ import annotations

from datetime import timedelta

from caller_helpers import DAY, T0, command, ticket
from hypothesis import given, settings
from hypothesis import strategies as st
from motcua.caller.board import ahead_of_new, board_message, wait_estimates
from motcua.caller.engine import Engine

from motcua.waits import ahead_of_new_ticket


def _calls_before(e: Engine, number: str, counters: list[str]) -> int:
    """Press Next at the counters in turn until ``number`` is called; the calls before it."""
    calls = 0
    for step in range(1000):
        counter = counters[step % len(counters)]
        outcome = e.command(counter, command("next"), T0 + timedelta(minutes=30))
        if not outcome.calls:
            continue
        if e.tickets[outcome.calls[0].ticket].number == number:
            return calls
        calls += 1
    raise AssertionError(f"{number} was never called")


def test_a_priority_ticket_behind_one_normal_ticket_has_nobody_ahead() -> None:
    e = Engine({"1": ("a",)})
    e.start_day(DAY, T0)
    e.add_ticket(ticket("1001", "a", at=T0), T0)
    board = board_message(e, seq=1, now=T0, day=DAY)
    assert board.waiting == {"a": 1}
    ahead = ahead_of_new_ticket(board.waiting["a"], board.ahead_priority.get("a"))
    assert ahead == 0                      # it printed 1 before: the whole queue
    e.add_ticket(ticket("1002", "a", at=T0 + timedelta(seconds=5), priority=True), T0)
    assert _calls_before(e, "1002", ["1"]) == 0


@settings(max_examples=150, deadline=None)
@given(policy=st.sampled_from([("strict", 1), ("every", 2), ("every", 3), ("every", 4)]),
       counters=st.integers(1, 3),
       queue=st.lists(st.booleans(), max_size=12),
       nexts=st.lists(st.integers(0, 2), max_size=8),
       priority=st.booleans())
def test_the_count_ahead_matches_the_calls_the_engine_makes(policy, counters, queue, nexts,
                                                             priority) -> None:
    mode, every = policy
    names = [str(n + 1) for n in range(counters)]
    e = Engine({name: ("a",) for name in names}, priority=mode, priority_every=every)
    e.start_day(DAY, T0)
    at = T0
    for n, is_priority in enumerate(queue):
        at += timedelta(seconds=1)
        e.add_ticket(ticket(str(1001 + n), "a", at=at, priority=is_priority), T0)
    for index in nexts:                    # some calls already made: streaks part-way
        e.command(names[index % counters], command("next"), T0 + timedelta(minutes=1))
    # Every counter free, so "in turn" is the order the new ticket's turn is counted in.
    for name in names:
        e.command(name, command("done"), T0 + timedelta(minutes=2))
    board = board_message(e, seq=1, now=T0, day=DAY)
    counted = board.ahead_priority if priority else board.ahead_normal
    expected = ahead_of_new_ticket(board.waiting["a"], counted.get("a"))
    e.add_ticket(ticket("9999", "a", at=at + timedelta(seconds=1), priority=priority), T0)
    assert _calls_before(e, "9999", names) == expected


def test_ahead_is_counted_per_service() -> None:
    e = Engine({"1": ("a", "b")})
    e.start_day(DAY, T0)
    e.add_ticket(ticket("1001", "a", priority=True), T0)
    e.add_ticket(ticket("2001", "b"), T0)
    assert ahead_of_new(e, priority=True) == {"a": 1, "b": 0}
    assert ahead_of_new(e, priority=False) == {"a": 1, "b": 1}


def test_estimates_have_nothing_for_an_empty_day_and_borrow_the_office_mean() -> None:
    e = Engine({"1": ("a",), "2": ("b",)})
    e.start_day(DAY, T0)
    e.add_ticket(ticket("1001", "a"), T0)
    assert wait_estimates(e) == {}                         # nobody served yet: no guess
    e.add_ticket(ticket("2001", "b"), T0)
    e.command("2", command("next"), T0)
    e.command("2", command("done"), T0 + timedelta(minutes=4))
    # Service "a" has no finished ticket: it borrows the office's 4 minutes per ticket.
    assert wait_estimates(e) == {"a": 240, "b": 0}


def test_the_counts_ahead_cross_the_wire_and_bad_ones_are_refused() -> None:
    import json

    import pytest

    from motcua.errors import ProtocolError
    from motcua.protocol import Board, encode

    e = Engine({"1": ("a",)})
    e.start_day(DAY, T0)
    e.add_ticket(ticket("1001", "a"), T0)
    e.add_ticket(ticket("1002", "a", priority=True), T0)
    board = board_message(e, seq=1, now=T0, day=DAY)
    decoded = Board.decode(encode(board))
    assert (decoded.ahead_normal, decoded.ahead_priority) == ({"a": 2}, {"a": 1})
    body = json.loads(encode(board))
    body["ahead_priority"] = {"a": -1}
    with pytest.raises(ProtocolError, match="ahead_priority"):
        Board.decode(json.dumps(body).encode())
    del body["ahead_priority"], body["ahead_normal"]         # an older caller: still a board
    assert Board.decode(json.dumps(body).encode()).ahead_priority == {}
