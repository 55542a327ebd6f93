"""What the board and counter screens get: masked names, counts, estimates, recent calls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from caller_helpers import DAY, T0, command, ticket
from motcua.caller.board import board_message, counter_state, mask_name, wait_estimates
from motcua.caller.engine import Engine

from motcua.protocol import Board, CounterState, encode


@pytest.mark.parametrize(("name", "masked"), [
    ("Nguyễn Văn An", "Nguyễn V. A."),
    ("  Trần   thị  bình ", "Trần T. B."),
    ("Đặng Đức Ánh Linh", "Đặng Đ. Á. L."),
    ("Tuấn", "Tuấn"),
    ("Nguye\u0302\u0303n Văn Ê", "Nguyễn V. Ê."),     # decomposed input comes out composed
    ("", None),
    (None, None),
])
def test_names_are_masked(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked


def served_office() -> Engine:
    e = Engine({"1": ("a",), "2": ("a", "b")})
    e.start_day(DAY, T0)
    for i in range(5):
        e.add_ticket(ticket(f"100{i}", at=T0 + timedelta(seconds=i),
                            name="Lê Văn Cường" if i == 1 else None), T0)
    e.add_ticket(ticket("2001", "b", at=T0), T0)
    at = T0 + timedelta(minutes=1)
    e.command("1", command("next"), at)                           # 1000
    e.command("2", command("next"), at)                           # 2001 (same time, later service)
    e.command("1", command("next"), at + timedelta(seconds=240))  # 1000 done after 4 min; 1001
    return e


def test_board_shows_calls_newest_first_with_masked_names_and_counts() -> None:
    e = served_office()
    message = board_message(e, seq=7, now=T0 + timedelta(minutes=6), day=DAY)
    decoded = Board.decode(encode(message))
    assert decoded == message
    assert [c.number for c in decoded.calls] == ["1001", "2001", "1000"]
    assert decoded.calls[0].name == "Lê V. C."
    assert [(c.counter, c.status, c.number) for c in decoded.counters] == [
        ("1", "serving", "1001"), ("2", "serving", "2001")]
    assert decoded.waiting == {"a": 3, "b": 0}
    assert "Cường" not in encode(message).decode()


def test_wait_estimate_from_recent_service_times() -> None:
    e = served_office()
    # one finished ticket of "a" took 240 s; 3 waiting; 2 counters serve "a"; "b" has nobody
    # waiting (and borrows the office's 240 s until one of its own is finished)
    assert wait_estimates(e) == {"a": 360, "b": 0}
    e.command("2", command("pause"), T0 + timedelta(minutes=10))
    assert wait_estimates(e)["a"] == 720, "a paused counter does not serve"


def test_counter_state_counts_what_waits_for_that_counter() -> None:
    e = served_office()
    state = counter_state(e, "2", seq=3)
    assert CounterState.decode(encode(state)) == state
    assert (state.status, state.number, state.service, state.waiting) == ("serving", "2001", "b", 3)
    assert counter_state(e, "1", seq=3).name == "Lê V. C."
