"""The caller's side of the web's ratings: a rating names its ticket, one per ticket, only the
counter that finished it; the counter's state says which ticket is rateable and when it is rated."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "caller"))

from caller_helpers import DAY, T0, command, ticket
from motcua.caller.board import counter_state
from motcua.caller.engine import Engine

from motcua.protocol import Rating, new_id

COUNTERS = {"1": ("a",), "2": ("a",)}


def served(e: Engine, counter: str, number: str, at=T0):
    t = ticket(number, at=at, name="Nguyễn Văn An")
    e.add_ticket(t, at)
    assert e.command(counter, command("next"), at).calls
    e.command(counter, command("done"), at + timedelta(minutes=5))
    return t


def test_a_rating_naming_its_ticket_rates_that_ticket_once() -> None:
    e = Engine(COUNTERS, rating_window_s=3600)
    e.start_day(DAY, T0)
    first = served(e, "1", "1001")
    second = served(e, "1", "1002", T0 + timedelta(minutes=6))
    later = T0 + timedelta(minutes=12)
    # The phone of the first citizen rates after the counter finished another ticket.
    outcome = e.rate("1", Rating(new_id(), 3, ticket=first.id, reason="Thái độ"), later)
    assert outcome.applied and outcome.counters == {"1"}
    assert (e.tickets[first.id].rating, e.tickets[first.id].rating_reason) == (3, "Thái độ")
    assert e.rate("1", Rating(new_id(), 1, ticket=first.id), later).duplicate
    assert e.tickets[first.id].rating == 3
    assert e.tickets[second.id].rating is None


def test_a_rating_for_a_ticket_this_counter_did_not_finish_is_refused() -> None:
    e = Engine(COUNTERS)
    e.start_day(DAY, T0)
    other = served(e, "2", "1001")
    waiting = ticket("1002")
    e.add_ticket(waiting, T0)
    at = T0 + timedelta(minutes=6)
    before = e.snapshot()
    for rating in (Rating(new_id(), 1, ticket=other.id), Rating(new_id(), 1, ticket=waiting.id),
                   Rating(new_id(), 1, ticket=new_id())):
        assert not e.rate("1", rating, at).applied
    assert e.snapshot() == before
    assert e.rate("2", Rating(new_id(), 1, ticket=other.id), at).applied


def test_the_counter_state_names_its_current_and_last_ticket_and_whether_it_is_rated() -> None:
    e = Engine(COUNTERS)
    e.start_day(DAY, T0)
    first = served(e, "1", "1001")
    state = counter_state(e, "1", seq=1)
    assert state.ticket is None
    assert (state.last.ticket, state.last.number, state.last.name, state.last.rated) == \
        (first.id, "1001", "Nguyễn V. A.", False)
    nxt = ticket("1002")
    e.add_ticket(nxt, T0)
    e.command("1", command("next"), T0 + timedelta(minutes=6))
    assert counter_state(e, "1", seq=2).ticket == nxt.id
    e.rate("1", Rating(new_id(), 2), T0 + timedelta(minutes=6))
    assert counter_state(e, "1", seq=3).last.rated
