"""The contract: round trips, bare-word commands, and junk that must only raise ProtocolError."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from motcua.errors import ProtocolError
from motcua.protocol import (
    Board,
    BoardCall,
    BoardCounter,
    Called,
    CounterCommand,
    CounterState,
    Heartbeat,
    Issued,
    LastTicket,
    Rating,
    Received,
    Status,
    Ticket,
    Topics,
    encode,
    message_id,
)

TICKET = Ticket(id="a" * 32, service="dat-dai", number="1012", seq=1012, day="2026-11-28",
                issued_at="2026-11-28T08:15:02+07:00", kiosk="k1", priority=True,
                name="Nguyễn Văn An")
BOARD = Board(seq=7, updated_at="2026-11-28T08:16:00+07:00", day="2026-11-28",
              calls=[BoardCall(counter="3", number="1012", service="dat-dai",
                               at="2026-11-28T08:16:00+07:00", name="Nguyễn V. A.")],
              counters=[BoardCounter(counter="3", status="serving", number="1012")],
              waiting={"dat-dai": 4}, wait_estimate_s={"dat-dai": 600})
SAMPLES = [
    TICKET,
    CounterCommand(id="b" * 32, action="transfer", target="tu-phap"),
    Rating(id="c" * 32, score=1),
    Rating(id="c" * 32, score=3, ticket="a" * 32, reason="Thái độ"),
    CounterState(counter="3", status="serving", number="1012", service="dat-dai",
                 name="Nguyễn V. A.", waiting=4, seq=3),
    CounterState(counter="3", status="serving", number="1013", service="dat-dai", waiting=3,
                 seq=4, ticket="e" * 32,
                 last=LastTicket(ticket="a" * 32, number="1012", service="dat-dai",
                                 name="Nguyễn V. A.", rated=True)),
    BOARD,
    Called(id="d" * 32, counter="3", number="1012", service="dat-dai",
           sentence="Mời công dân có số thứ tự một nghìn không trăm mười hai đến quầy số ba",
           at="2026-11-28T08:16:00+07:00"),
    Status(role="kiosk", device="k1", state="online", at="2026-11-28T08:16:00+07:00",
           health={"printer": "ok"}),
    Issued(kiosk="k1", day="2026-11-28", last={"dat-dai": 1012, "chung-thuc": 3},
           count={"dat-dai": 12, "chung-thuc": 3}),
    CounterCommand(id="e" * 32, action="next", pressed_at="2026-11-28T08:16:00.250+07:00",
                   caller_at="2026-11-28T08:15:59.900+07:00", after_ms=400),
    Heartbeat(at="2026-11-28T08:16:00.000+07:00", seq=12, day="2026-11-28", accepting=False,
              reason="event log cannot be written: database or disk is full"),
    Received(ids=["a" * 32, "e" * 32], refused={"e" * 32: "stale"}),
    Status(role="kiosk", device="k1", state="online", at="2026-11-28T08:16:00+07:00",
           instance="3a29164e12d5", started="2026-11-28T07:00:00.125000+07:00",
           duplicate="a second kiosk 'k1' connected with this identity and was told to stop"),
]
DECODERS = [type(sample).decode for sample in SAMPLES]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message: object) -> None:
    wire = encode(message)
    assert json.loads(wire)["v"] == 1
    assert type(message).decode(wire) == message


def test_vietnamese_travels_as_utf8_not_escapes() -> None:
    assert "Nguyễn Văn An".encode() in encode(TICKET)


@pytest.mark.parametrize("word", [b"next", b" NEXT\n", b"Recall", b"skip", b"done", b"pause"])
def test_bare_word_commands_from_simple_buttons(word: bytes) -> None:
    command = CounterCommand.decode(word)
    assert command.action == word.strip().decode().lower()
    assert len(command.id) == 32


def test_bare_word_commands_get_distinct_ids() -> None:
    assert CounterCommand.decode(b"next").id != CounterCommand.decode(b"next").id


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\xff\xfe", "not UTF-8 JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"v": 2, "id": "x", "action": "next"}', "unsupported version"),
    (b'{"v": 1, "action": "next"}', "'id' is missing"),
    (b'{"v": 1, "id": "x", "action": "fly"}', "unknown action"),
    (b'{"v": 1, "id": "x", "action": "transfer"}', "transfer needs a target"),
    (b'{"v": 1, "id": "x\\u0000", "action": "next"}', "control characters"),
    (b'{"v": 1, "id": 5, "action": "next"}', "wrong type"),
    (b"transfer", "not UTF-8 JSON"),
])
def test_bad_commands_are_protocol_errors(payload: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        CounterCommand.decode(payload)


def test_a_ticket_in_doubt_says_so_and_an_older_kiosks_ticket_is_not_in_doubt() -> None:
    doubtful = Ticket(**{**TICKET.__dict__, "doubt": True})
    assert Ticket.decode(encode(doubtful)).doubt is True
    body = json.loads(encode(TICKET))
    del body["doubt"]
    assert Ticket.decode(json.dumps(body).encode()).doubt is False
    body["doubt"] = "yes"
    with pytest.raises(ProtocolError):
        Ticket.decode(json.dumps(body).encode())


def test_issued_counts_are_counts() -> None:
    body = {"v": 1, "kiosk": "k1", "day": "2026-11-28", "last": {"dat-dai": 1012}, "count": {"dat-dai": -1}}
    with pytest.raises(ProtocolError, match=r"issued: count\['dat-dai'\] is not a count"):
        Issued.decode(json.dumps(body).encode())
    assert Topics("x").kiosk_issued("k1") == "motcua/x/kiosk/k1/issued"


def test_ticket_needs_an_offset_on_its_time() -> None:
    body = json.loads(encode(TICKET))
    body["issued_at"] = "2026-11-28T08:15:02"
    with pytest.raises(ProtocolError, match="no UTC offset"):
        Ticket.decode(json.dumps(body).encode())


@pytest.mark.parametrize("day", ["a", "2026-1-5", "20261128", "2026-02-30", "2026-11-28T", "~"])
@pytest.mark.parametrize("message", [TICKET, BOARD], ids=["ticket", "board"])
def test_a_service_day_is_exactly_yyyy_mm_dd(message: object, day: str) -> None:
    # Days compare as text in the caller ("a" sorts after every real day), so the form is the contract.
    body = json.loads(encode(message))
    body["day"] = day
    with pytest.raises(ProtocolError, match="not a day"):
        type(message).decode(json.dumps(body).encode())


def test_board_counts_must_be_counts() -> None:
    body = json.loads(encode(BOARD))
    body["waiting"] = {"dat-dai": -1}
    with pytest.raises(ProtocolError):
        Board.decode(json.dumps(body).encode())
    body["waiting"] = {"dat-dai": True}
    with pytest.raises(ProtocolError):
        Board.decode(json.dumps(body).encode())


@pytest.mark.parametrize(("change", "reason"), [
    ({"ticket": 7}, "wrong type"),
    ({"reason": ""}, "empty"),
    ({"reason": "x" * 101}, "too long"),
    ({"ticket": "a\nb"}, "control characters"),
])
def test_a_ratings_ticket_and_reason_are_checked(change: dict, reason: str) -> None:
    body = {"v": 1, "id": "c" * 32, "score": 1, **change}
    with pytest.raises(ProtocolError, match=reason):
        Rating.decode(json.dumps(body).encode())


@pytest.mark.parametrize("last", [[], "x", {"ticket": "a" * 32, "number": "1"},
                                  {"ticket": "a" * 32, "number": "1", "service": "s", "rated": 1}])
def test_a_counter_states_last_ticket_is_checked(last: object) -> None:
    body = json.loads(encode(SAMPLES[4]))
    body["last"] = last
    with pytest.raises(ProtocolError):
        CounterState.decode(json.dumps(body).encode())


def test_oversized_payload_is_refused() -> None:
    with pytest.raises(ProtocolError, match="over"):
        Ticket.decode(b"{" + b" " * 70_000 + b"}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                       max_size=4),
    max_leaves=12,
)


def _mutations(sample: object) -> st.SearchStrategy[bytes]:
    body = json.loads(encode(sample))
    keys = sorted(body)
    return st.builds(
        lambda key, value: json.dumps({**body, key: value}).encode(),
        st.sampled_from(keys), json_values)


@given(st.binary(max_size=300))
def test_random_bytes_only_raise_protocol_error(payload: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(ProtocolError):
            decode(payload)


@given(st.data())
def test_mutated_fields_only_raise_protocol_error(data: st.DataObject) -> None:
    for sample in SAMPLES:
        payload = data.draw(_mutations(sample))
        with contextlib.suppress(ProtocolError):
            type(sample).decode(payload)


def test_topics() -> None:
    topics = Topics("liem-chung")
    assert topics.ticket == "motcua/liem-chung/ticket"
    assert topics.counter_cmd("3") == "motcua/liem-chung/counter/3/cmd"
    assert topics.counter_of("motcua/liem-chung/counter/3/rating") == "3"
    with pytest.raises(ProtocolError):
        topics.counter_of("motcua/other/counter/3/cmd")
    with pytest.raises(ProtocolError):
        topics.counter_of("motcua/liem-chung/counter/3")


def test_a_press_time_is_on_the_callers_clock_when_the_pad_heard_its_heartbeat() -> None:
    """The pad's own clock may be minutes off: the caller's heartbeat plus the pad's monotonic
    interval since hearing it is what the caller ages a press by; the pad's clock only without."""
    from datetime import datetime

    anchored = CounterCommand(id="f" * 32, action="next", pressed_at="2026-11-28T07:00:00+07:00",
                              caller_at="2026-11-28T08:16:00+07:00", after_ms=1500)
    assert anchored.press_time() == datetime.fromisoformat("2026-11-28T08:16:01.500+07:00")
    alone = CounterCommand(id="f" * 32, action="next", pressed_at="2026-11-28T07:00:00+07:00")
    assert alone.press_time() == datetime.fromisoformat("2026-11-28T07:00:00+07:00")
    assert CounterCommand.decode(b"next").press_time() is None
    with pytest.raises(ProtocolError, match="after_ms"):
        CounterCommand.decode(json.dumps({"v": 1, "id": "x", "action": "next", "after_ms": -1}).encode())
    with pytest.raises(ProtocolError, match="pressed_at"):
        CounterCommand.decode(json.dumps({"v": 1, "id": "x", "action": "next",
                                          "pressed_at": "08:15"}).encode())


def test_received_lists_ids_and_known_refusals_only() -> None:
    with pytest.raises(ProtocolError, match="refusal"):
        Received.decode(json.dumps({"v": 1, "ids": ["a"], "refused": {"a": "because"}}).encode())
    with pytest.raises(ProtocolError, match="ids"):
        Received.decode(json.dumps({"v": 1, "ids": [1]}).encode())
    assert message_id(encode(TICKET)) == TICKET.id
    assert message_id(b"next") is None and message_id(b"\xff") is None


def test_delivery_topics() -> None:
    topics = Topics("liem-chung")
    assert topics.heartbeat == "motcua/liem-chung/heartbeat"
    assert topics.received == "motcua/liem-chung/received"
def test_a_status_without_run_fields_still_decodes_and_a_bad_start_time_is_refused() -> None:
    old = Status.decode(b'{"v":1,"role":"kiosk","device":"k1","state":"online"}')
    assert old.instance is None and old.started is None and old.duplicate is None
    with pytest.raises(ProtocolError):
        Status.decode(b'{"v":1,"role":"kiosk","device":"k1","state":"online","started":"yesterday"}')


def test_each_kiosk_has_its_own_ticket_topic() -> None:
    topics = Topics("liem-chung")
    assert topics.ticket_from("k1") == "motcua/liem-chung/ticket/k1"
    assert topics.kiosk_of("motcua/liem-chung/ticket/k1") == "k1"
    assert topics.kiosk_of(topics.ticket) is None
    assert topics.kiosk_of("motcua/liem-chung/ticket/k1/x") is None
    assert topics.kiosk_of("motcua/other/ticket/k1") is None


def test_enum_members_go_on_the_wire_as_the_contract_words():
    from motcua.protocol import Action, CounterStatus, Refusal

    assert encode(CounterCommand(id="x", action=Action.NEXT)) == (
        b'{"v":1,"id":"x","action":"next","target":null,"pressed_at":null,"caller_at":null,"after_ms":null}')
    assert encode(Received(ids=["a"], refused={"a": Refusal.DUPLICATE_NUMBER})) == (
        b'{"v":1,"ids":["a"],"refused":{"a":"duplicate_number"}}')
    state = CounterState.decode(b'{"v":1,"counter":"1","status":"paused"}')
    assert state.status is CounterStatus.PAUSED
    assert b'"status":"paused"' in encode(state)
    decoded = Received.decode(b'{"v":1,"ids":["a"],"refused":{"a":"stale"}}')
    assert decoded.refused["a"] is Refusal.STALE
    assert CounterCommand.decode(b"skip").action is Action.SKIP


@pytest.mark.parametrize("text, expected", [
    ("next", "Action.NEXT"), ("transfer", "Action.TRANSFER"), ("rate:2", "Rate(level=2)"),
    ("transfer:dat-dai", "Transfer(target='dat-dai')"),
    ("transfer:counter:3", "Transfer(target='counter:3')"),
])
def test_a_button_action_is_read_once_into_its_kind(text, expected):
    from motcua.protocol import parse_pad_action

    action = parse_pad_action(text)
    assert repr(action).startswith(f"<{expected}") or repr(action) == expected
    assert str(action) == text


@pytest.mark.parametrize("text", ["", "NEXT", "next:1", "rate", "rate:x", "call", "transfer:"])
def test_a_bad_button_action_is_refused(text):
    from motcua.protocol import parse_pad_action

    with pytest.raises(ValueError):
        parse_pad_action(text)
