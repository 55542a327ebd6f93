"""The pad's pure rules: actions, the Pause/Resume toggle, messages, the state keeper, LED modes, the line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from motcua.counter.pad import (
    StateKeeper,
    describe,
    key_map,
    message_for,
    pad_led,
    parse_action,
    resolve,
    state_line,
)
from motcua.counter.settings import DEFAULT_LEVELS

from motcua.protocol import Action, CounterCommand, CounterState, Rate, Rating, decode_object, encode

NAMES = {"dat-dai": "Đất đai"}


@pytest.mark.parametrize("text, expected", [
    ("next", "next"), ("pause", "pause"), ("rate:1", "rate:1"), ("rate:03", "rate:3"),
    ("transfer:dat-dai", "transfer:dat-dai"),
])
def test_actions_written_in_the_config(text, expected):
    assert str(parse_action(text, levels=3, services={"dat-dai"})) == expected


@pytest.mark.parametrize("text", ["", "NEXT", "next:1", "rate", "rate:0", "rate:4", "rate:x",
                                  "transfer", "transfer:khac", "call"])
def test_bad_actions_say_what_is_allowed(text):
    with pytest.raises(ValueError):
        parse_action(text, levels=3, services={"dat-dai"})


@pytest.mark.parametrize("text", ["transfer", "transfer:", "transfer:khac"])
def test_a_bad_transfer_says_how_to_write_one(text):
    with pytest.raises(ValueError) as refused:
        parse_action(text, levels=3, services={"dat-dai"})
    assert str(refused.value) == (f"{text!r}: write transfer:SERVICE with a service some counter "
                                  "serves, or transfer:counter:ID")


def test_one_button_pauses_and_resumes():
    assert resolve("pause", "serving") == "pause"
    assert resolve("pause", "idle") == "pause"
    assert resolve("pause", None) == "pause"
    assert resolve("pause", "paused") == "resume"
    assert resolve("resume", "serving") == "resume"
    assert resolve("next", "paused") == "next"


def test_messages_carry_fresh_ids_and_decode_on_the_other_side():
    first, second = message_for("next"), message_for("next")
    assert first.id != second.id
    assert CounterCommand.decode(encode(first)) == first
    transfer = message_for("transfer", transfer_to="tu-phap")
    assert (transfer.action, transfer.target) == ("transfer", "tu-phap")
    assert message_for("transfer:dat-dai", transfer_to="tu-phap").target == "dat-dai"
    rating = message_for("rate:2")
    assert isinstance(rating, Rating) and Rating.decode(encode(rating)).score == 2
    assert message_for("pause", status="paused").action == "resume"
    with pytest.raises(ValueError):
        message_for("transfer")
    assert decode_object(encode(first))["v"] == 1


def state(status: str, seq: int, **fields) -> CounterState:
    return CounterState(counter="1", status=status, seq=seq, **fields)


def test_state_keeper_keeps_the_newest_and_trusts_retained_snapshots():
    keeper = StateKeeper()
    assert keeper.status is None
    assert keeper.offer(state("serving", 5), retained=False)
    assert not keeper.offer(state("idle", 4), retained=False)           # stale
    assert keeper.status == "serving"
    assert not keeper.offer(state("serving", 5), retained=False)        # same: no change
    assert keeper.offer(state("idle", 1), retained=True)                # the caller started afresh
    assert keeper.status == "idle"


@given(st.lists(st.tuples(st.sampled_from(["idle", "serving", "paused"]), st.integers(0, 50)), max_size=30))
def test_live_states_never_go_back_in_seq(offers):
    keeper = StateKeeper()
    highest = -1
    for status, seq in offers:
        keeper.offer(state(status, seq), retained=False)
        highest = max(highest, seq)
        assert keeper.state.seq == highest


@pytest.mark.parametrize("status, pending, flash, mode", [
    (None, 0, False, "off"), ("idle", 0, False, "off"), ("serving", 0, False, "on"),
    ("paused", 0, False, "slow_blink"), ("serving", 2, False, "fast_blink"), ("idle", 1, True, "fast_blink"),
    ("idle", 0, True, "on"), ("serving", 0, True, "off"), ("paused", 0, True, "on"),
])
def test_pad_led(status, pending, flash, mode):
    assert pad_led(status, pending=pending, flash=flash) == mode


def test_state_line_in_vietnamese():
    assert state_line("Quầy số 1", None, NAMES) == "Quầy số 1: chưa có trạng thái từ máy gọi số"
    assert state_line("Quầy số 1", state("idle", 1, waiting=4), NAMES) == "Quầy số 1: sẵn sàng · đang chờ: 4"
    assert state_line("Quầy số 1", state("paused", 1), NAMES) == "Quầy số 1: tạm nghỉ · đang chờ: 0"
    serving = state("serving", 2, number="1012", service="dat-dai", name="Trần T. B.", waiting=2)
    assert (state_line("Quầy số 1", serving, NAMES)
            == "Quầy số 1: đang phục vụ số 1012 (Đất đai) – Trần T. B. · đang chờ: 2")
    unknown = state("serving", 3, number="C001", service="moi")
    assert state_line("Quầy 4", unknown, NAMES) == "Quầy 4: đang phục vụ số C001 (moi) · đang chờ: 0"


def test_descriptions_and_keys():
    assert describe("next", DEFAULT_LEVELS) == "Gọi số tiếp theo"
    assert describe("rate:3", DEFAULT_LEVELS) == "Đánh giá: Không hài lòng"
    assert describe("transfer:dat-dai", DEFAULT_LEVELS) == "Chuyển → dat-dai"
    assert describe("transfer:counter:4", DEFAULT_LEVELS) == "Chuyển → quầy 4"
    assert key_map({"next": "q", "done": "r"}, ("7", "8")) == {"q": Action.NEXT, "r": Action.DONE,
                                                               "7": Rate(1), "8": Rate(2)}


def test_a_pad_that_cannot_see_the_caller_says_so_and_shows_refusals():
    from motcua.counter.pad import LOST, refused_line

    state = CounterState(counter="1", status="serving", number="1001", waiting=59, seq=4)
    line = state_line("Quầy số 1", state, {}, lost=True)
    assert line == f"Quầy số 1: {LOST} (lần cuối: đang phục vụ số 1001 · đang chờ: 59)"
    assert state_line("Quầy số 1", None, {}, lost=True) == "Quầy số 1: mất kết nối với máy gọi số"
    assert state_line("Quầy số 1", state, {}, refusing=True).startswith(
        "Quầy số 1: máy gọi số tạm ngừng nhận lệnh (lần cuối: đang phục vụ số 1001")
    assert refused_line("Gọi số tiếp theo", "stale") == \
        "✗ Gọi số tiếp theo: bị từ chối (quá cũ, máy gọi số nhận được quá muộn)"
