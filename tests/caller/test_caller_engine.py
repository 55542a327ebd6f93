"""The queue engine's rules, one by one."""

from __future__ import annotations

from datetime import timedelta

from caller_helpers import DAY, T0, command, ticket
from motcua.caller.engine import (
    CLOSED_KEPT,
    DONE,
    EXPIRED,
    RECENT_CALLS,
    SERVING,
    SKIPPED,
    WAITING,
    Engine,
)

from motcua.protocol import Rating, new_id

COUNTERS = {"1": ("a",), "2": ("b", "a"), "3": ("b",)}


def engine(**policy) -> Engine:
    e = Engine(COUNTERS, **policy)
    e.start_day(DAY, T0)
    return e


def called(e: Engine, counter: str, action: str = "next", target: str | None = None) -> str | None:
    outcome = e.command(counter, command(action, target), T0 + timedelta(minutes=5))
    assert outcome.applied, outcome.reason
    return e.tickets[outcome.calls[0].ticket].number if outcome.calls else None


def test_next_gives_the_oldest_ticket_across_the_counters_services() -> None:
    e = engine()
    e.add_ticket(ticket("2001", "b", at=T0 + timedelta(seconds=2)), T0)
    e.add_ticket(ticket("1001", "a", at=T0 + timedelta(seconds=1)), T0)
    e.add_ticket(ticket("1002", "a", at=T0 + timedelta(seconds=3)), T0)
    assert [called(e, "2") for _ in range(4)] == ["1001", "2001", "1002", None]


def test_service_order_first_when_configured() -> None:
    e = engine(order="service")
    e.add_ticket(ticket("1001", "a", at=T0), T0)
    e.add_ticket(ticket("2001", "b", at=T0 + timedelta(seconds=5)), T0)
    assert [called(e, "2"), called(e, "2")] == ["2001", "1001"]


def test_strict_priority_goes_first() -> None:
    e = engine()
    e.add_ticket(ticket("1001", "a", at=T0), T0)
    e.add_ticket(ticket("1002", "a", at=T0 + timedelta(seconds=1), priority=True), T0)
    assert [called(e, "1"), called(e, "1")] == ["1002", "1001"]


def test_one_priority_ticket_every_n_calls() -> None:
    e = engine(priority="every", priority_every=3)
    for i in range(6):
        e.add_ticket(ticket(f"10{i:02d}", "a", at=T0 + timedelta(seconds=i)), T0)
    for i in range(3):
        e.add_ticket(ticket(f"19{i:02d}", "a", at=T0 + timedelta(seconds=10 + i), priority=True), T0)
    order = [called(e, "1") for _ in range(9)]
    assert order == ["1900", "1000", "1001", "1901", "1002", "1003", "1902", "1004", "1005"]


def test_next_while_serving_closes_the_current_as_done() -> None:
    e = engine()
    first, second = ticket("1001"), ticket("1002", at=T0 + timedelta(seconds=1))
    e.add_ticket(first, T0)
    e.add_ticket(second, T0)
    called(e, "1")
    called(e, "1")
    assert e.tickets[first.id].status == DONE
    assert e.tickets[second.id].status == SERVING
    assert e.tickets[first.id].served_at == e.tickets[first.id].called_at


def test_two_counters_never_get_the_same_ticket() -> None:
    e = engine()
    e.add_ticket(ticket("1001"), T0)
    assert called(e, "1") == "1001"
    assert called(e, "2") is None


def test_skipped_tickets_are_parked_until_called_back_by_number() -> None:
    e = engine()
    e.add_ticket(ticket("1001"), T0)
    e.add_ticket(ticket("1002", at=T0 + timedelta(seconds=1)), T0)
    called(e, "1")
    assert e.command("1", command("skip"), T0).applied
    assert called(e, "1") == "1002"
    assert called(e, "1") is None, "next never returns a skipped ticket"
    assert called(e, "2", "recall", "1001") == "1001"
    record = next(t for t in e.tickets.values() if t.number == "1001")
    assert (record.status, record.counter, record.recalled_at is not None) == (SERVING, "2", True)
    assert not e.command("2", command("recall", "1001"), T0).applied, "no longer skipped"


def test_plain_recall_announces_the_current_ticket_again() -> None:
    e = engine()
    e.add_ticket(ticket("1001"), T0)
    called(e, "1")
    outcome = e.command("1", command("recall"), T0 + timedelta(minutes=1))
    assert [c.recall for c in outcome.calls] == [True]
    assert not e.command("3", command("recall"), T0).applied


def test_transfer_keeps_the_place_by_issue_time() -> None:
    e = engine()
    e.add_ticket(ticket("2001", "b", at=T0 + timedelta(seconds=10)), T0)
    moved = ticket("1001", "a", at=T0)
    e.add_ticket(moved, T0)
    assert called(e, "1") == "1001"
    assert e.command("1", command("transfer", "b"), T0).applied
    assert (e.tickets[moved.id].service, e.tickets[moved.id].first_service) == ("b", "a")
    assert e.counters["1"].status == "idle"
    assert called(e, "3") == "1001", "issued before 2001, so it goes first in its new service"
    assert not e.command("3", command("transfer", "nowhere"), T0).applied


def test_transfer_to_a_counter_only_that_counter_calls_it_in_its_place() -> None:
    e = engine()                                  # counters 1: a; 2: b, a; 3: b
    moved = ticket("1001", "a", at=T0)
    e.add_ticket(moved, T0)
    e.add_ticket(ticket("1002", "a", at=T0 + timedelta(seconds=5)), T0)
    e.add_ticket(ticket("2001", "b", at=T0 + timedelta(seconds=9)), T0)
    assert called(e, "1") == "1001"
    assert e.command("1", command("transfer", "counter:3"), T0).applied
    record = e.tickets[moved.id]
    assert (record.status, record.service, record.for_counter) == (WAITING, "a", "3")
    assert (e.waiting["a"], e.held["3"], e.waiting_for("3")) == (1, 1, 2)
    assert called(e, "2") == "1002", "counter 2 serves a, but 1001 is held for counter 3"
    assert called(e, "1") is None
    assert called(e, "3") == "1001", "issued before 2001: first at counter 3"
    assert called(e, "3") == "2001"


def test_transfer_to_a_counter_is_refused_to_itself_or_an_unknown_one() -> None:
    e = engine()
    e.add_ticket(ticket("1001", "a", at=T0), T0)
    assert called(e, "1") == "1001"
    assert e.command("1", command("transfer", "counter:1"), T0).reason == \
        "the ticket is already at this counter"
    assert e.command("1", command("transfer", "counter:9"), T0).reason == "unknown counter '9'"
    assert e.counters["1"].status == "serving"


def test_pause_and_resume() -> None:
    e = engine()
    e.add_ticket(ticket("1001"), T0)
    e.add_ticket(ticket("1002", at=T0 + timedelta(seconds=1)), T0)
    called(e, "1")
    e.command("1", command("pause"), T0)
    assert e.counters["1"].status == "paused"
    assert e.tickets[e.counters["1"].last_finished].number == "1001"
    assert e.command("1", command("resume"), T0).applied
    assert not e.command("1", command("resume"), T0).applied
    e.command("1", command("pause"), T0)
    assert called(e, "1") == "1002", "next resumes a paused counter"


def test_duplicates_change_nothing() -> None:
    e = engine()
    t = ticket("1001")
    assert e.add_ticket(t, T0).applied
    assert e.add_ticket(t, T0).duplicate
    assert e.waiting["a"] == 1
    press = command("next")
    assert e.command("1", press, T0).calls
    before = e.snapshot()
    assert e.command("1", press, T0).duplicate
    assert e.snapshot() == before


def test_unknown_counter_service_and_action_are_refused() -> None:
    e = engine()
    assert not e.command("9", command("next"), T0).applied
    assert not e.add_ticket(ticket("9001", "zz"), T0).applied


def test_rating_belongs_to_the_last_finished_ticket_once_within_the_window() -> None:
    e = engine(rating_window_s=120)
    first = ticket("1001")
    e.add_ticket(first, T0)
    assert not e.rate("1", Rating(new_id(), 1), T0).applied, "nothing finished yet"
    called(e, "1")
    done_at = T0 + timedelta(minutes=10)
    e.command("1", command("done"), done_at)
    assert not e.rate("1", Rating(new_id(), 1), done_at + timedelta(seconds=121)).applied
    assert e.rate("1", Rating(new_id(), 2), done_at + timedelta(seconds=30)).applied
    assert e.tickets[first.id].rating == 2
    assert e.rate("1", Rating(new_id(), 1), done_at + timedelta(seconds=31)).duplicate
    assert e.tickets[first.id].rating == 2


def test_end_of_day_expires_open_tickets_and_clears_the_board() -> None:
    e = engine()
    tickets = [ticket(f"100{i}", at=T0 + timedelta(seconds=i)) for i in range(4)]
    early = ticket("1009", day="2026-11-29", at=T0 + timedelta(hours=1))   # kiosk a day ahead
    for t in [*tickets, early]:
        e.add_ticket(t, T0)
    called(e, "1")
    e.command("1", command("skip"), T0)
    called(e, "1")
    called(e, "1")
    outcome = e.start_day("2026-11-29", T0 + timedelta(hours=21))
    statuses = {r.number: r.status for r in outcome.tickets}
    assert statuses == {"1000": EXPIRED, "1002": EXPIRED, "1003": EXPIRED, "1009": WAITING}
    assert [r.number for r in outcome.carry] == ["1009"]
    assert list(e.recent_calls) == [] and e.waiting == {"a": 1, "b": 0}
    assert all(c.status == "idle" for c in e.counters.values())
    assert not e.start_day(DAY, T0).applied, "days never go back"
    late = ticket("1010", day=DAY)
    assert e.add_ticket(late, T0).tickets[0].status == EXPIRED


def test_skipped_never_carried_into_the_next_day() -> None:
    e = engine()
    e.add_ticket(ticket("1001"), T0)
    called(e, "1")
    e.command("1", command("skip"), T0)
    assert e.tickets[next(iter(e.tickets))].status == SKIPPED
    assert e.start_day("2026-11-29", T0).tickets[0].status == EXPIRED


def test_memory_is_the_days_not_the_months() -> None:
    # The caller runs for months: each new day must let go of the last one's tickets and
    # command ids, so memory after the fourth busy day equals memory after the second.
    import gc
    import tracemalloc

    e = engine()
    after_day = []
    tracemalloc.start()
    try:
        for d in range(4):
            day = (T0 + timedelta(days=d)).date().isoformat()
            if d:
                e.start_day(day, T0 + timedelta(days=d))
            for i in range(2000):
                at = T0 + timedelta(days=d, seconds=i)
                e.add_ticket(ticket(f"{1001 + i}", "ab"[i % 2], at=at, day=day, seq=1001 + i), at)
                if i % 2:
                    for counter in ("1", "3"):
                        e.command(counter, command("next"), at)
                        e.command(counter, command("done"), at)
            gc.collect()
            after_day.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert e.waiting == {"a": 0, "b": 0}, "the day's tickets were all served"
    assert len(e.ticket_ids) == 2000 and len(e.tickets) <= CLOSED_KEPT + 2 * len(COUNTERS) + RECENT_CALLS
    assert after_day[3] <= after_day[1] + 64 * 1024, after_day


def test_a_long_day_keeps_the_latest_closed_tickets_whole_and_the_rest_by_id() -> None:
    e = engine(rating_window_s=3600)
    tickets = [ticket(f"{1001 + i}", at=T0 + timedelta(seconds=i), seq=1001 + i)
               for i in range(CLOSED_KEPT + 50)]
    for t in tickets[:2]:
        e.add_ticket(t, T0)
    assert called(e, "1") == "1001"
    e.command("1", command("done"), T0 + timedelta(minutes=6))      # counter 1 finished 1001 ...
    for t in tickets[2:]:                                             # ... then idles while 2 works
        e.add_ticket(t, T0)
    for _ in tickets[1:]:
        called(e, "2")
    e.command("2", command("done"), T0 + timedelta(minutes=7))
    assert len(e.ticket_ids) == len(tickets)
    assert len(e.tickets) <= CLOSED_KEPT + 2 * len(COUNTERS) + RECENT_CALLS
    assert tickets[2].id in e.forgotten
    # A copy of a forgotten ticket is still a copy.
    outcome = e.add_ticket(tickets[2], T0)
    assert outcome.duplicate and len(e.ticket_ids) == len(tickets)
    # What counters and the board still show stays whole: counter 1's rating reaches 1001.
    assert e.rate("1", Rating(id=new_id(), score=1), T0 + timedelta(minutes=30)).applied
    assert e.tickets[tickets[0].id].rating == 1
    assert all(call.ticket in e.tickets for call in e.recent_calls)


def test_a_stale_press_changes_nothing_and_says_why() -> None:
    """Issue 19 item 1: the press time (on the caller's clock where the pad could tell) decides."""
    from motcua.protocol import CounterCommand

    e = engine(max_press_age_s=15)
    for n in range(1001, 1004):
        e.add_ticket(ticket(str(n), "a"), T0)
    arrived = T0 + timedelta(minutes=10)

    def next_pressed(pad_clock_off_s: float, *, caller_at=None, after_ms=None, before_s: float):
        pressed = arrived - timedelta(seconds=before_s) + timedelta(seconds=pad_clock_off_s)
        return CounterCommand(id=new_id(), action="next", pressed_at=pressed.isoformat(),
                              caller_at=caller_at, after_ms=after_ms)

    stale = e.command("1", next_pressed(0, before_s=600), arrived)
    assert (stale.applied, stale.code, stale.calls) == (False, "stale", [])
    assert "600 s" in stale.reason
    assert e.counters["1"].status == "idle" and e.waiting["a"] == 3
    # A pad clock 10 minutes slow: its own pressed_at would make a fresh press stale, but it
    # heard the caller's heartbeat 2 s before the press, and that is what counts.
    heard = (arrived - timedelta(seconds=3)).isoformat()
    fresh = e.command("1", next_pressed(-600, caller_at=heard, after_ms=2000, before_s=1), arrived)
    assert fresh.applied and e.tickets[fresh.calls[0].ticket].number == "1001"
    # ... and a fast pad clock cannot make an old press (heard 10 minutes ago) look new.
    old = (arrived - timedelta(minutes=10)).isoformat()
    late = e.command("1", next_pressed(+600, caller_at=old, after_ms=500, before_s=0), arrived)
    assert late.code == "stale"
    assert e.command("1", command("next"), arrived).applied       # no press time: not aged


def test_two_days_never_share_a_queue() -> None:
    """Issue 19 item 8: a later day's ticket is held out of the queue until that day starts;
    a duplicate number of the same day and service is refused."""
    e = engine()
    e.add_ticket(ticket("1001", "a"), T0)
    later = (T0 + timedelta(days=1)).date().isoformat()
    held = e.add_ticket(ticket("1001", "a", day=later), T0)
    assert (held.applied, held.code, held.board) == (True, "held", False)
    assert e.waiting["a"] == 1 and len(e.later) == 1
    twin = e.add_ticket(ticket("1001", "a"), T0)                   # while the first is waiting
    assert (twin.applied, twin.code) == (False, "duplicate_number")
    assert called(e, "1") == "1001" and called(e, "1") is None     # the held one is never called
    assert e.add_ticket(ticket("1001", "b"), T0).applied              # another service's 1001
    started = e.start_day(later, T0 + timedelta(days=1))
    assert e.later == set() and e.waiting["a"] == 1
    assert [r.day for r in started.carry] == [later]
    assert called(e, "1") == "1001"
    expired = e.add_ticket(ticket("1002", "a"), T0 + timedelta(days=1))   # yesterday's, late
    assert (expired.code, e.tickets[list(e.tickets)[-1]].status) == ("expired", EXPIRED)


def test_a_number_comes_again_once_its_first_ticket_is_closed() -> None:
    """A kiosk's range wraps on a busy day: the second 1001 is queued once the first is done,
    refused while the first is waiting, served or skipped (two citizens would answer)."""
    e = engine()
    assert e.add_ticket(ticket("1001", "a"), T0).applied
    assert e.add_ticket(ticket("1001", "a"), T0).code == "duplicate_number"       # still waiting
    assert called(e, "1") == "1001"
    assert e.add_ticket(ticket("1001", "a"), T0).code == "duplicate_number"       # being served
    assert e.command("1", command("done"), T0).applied
    wrapped = e.add_ticket(ticket("1001", "a"), T0)
    assert wrapped.applied and e.waiting["a"] == 1
    assert called(e, "1") == "1001"
