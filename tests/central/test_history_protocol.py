"""The history messages of docs/protocol.md: round trips and what is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from motcua.errors import ProtocolError
from motcua.protocol import (
    HistoryAck,
    HistoryEvent,
    HistoryHead,
    HistoryKind,
    HistoryRequest,
    HistoryTopics,
    encode,
)

EVENT = HistoryEvent(site="xa-a", seq=12, prev=11, id="a" * 32, kind=HistoryKind.COMMAND,
                     at="2026-11-30T08:00:00+07:00", body={"id": "a" * 32, "action": "next"},
                     counter="3")


LOG = "0123456789abcdef"


@pytest.mark.parametrize("message", [EVENT, HistoryHead(site="xa-a", last=12),
                                     HistoryRequest(id="b" * 32, first=3, last=9),
                                     HistoryAck(upto=12),
                                     replace(EVENT, log=LOG), replace(EVENT, counter=None),
                                     HistoryHead(site="xa-a", last=12, log=LOG),
                                     HistoryRequest(id="b" * 32, first=3, last=9, log=LOG),
                                     HistoryAck(upto=12, log=LOG)])
def test_round_trip(message: object) -> None:
    assert type(message).decode(encode(message)) == message


@pytest.mark.parametrize("change, reason", [
    ({"prev": 12}, "prev"), ({"prev": -1}, "prev"), ({"kind": "called"}, "kind"),
    ({"at": "2026-11-30 08:00"}, "offset"), ({"body": "next"}, "type"), ({"seq": True}, "number"),
    ({"site": ""}, "empty"), ({"log": 7}, "log"), ({"log": "a\nb"}, "log"), ({"log": "x" * 65}, "log"),
])
def test_bad_events_are_protocol_errors(change: dict, reason: str) -> None:
    import json

    body = json.loads(encode(EVENT))
    body.update(change)
    with pytest.raises(ProtocolError, match=reason):
        HistoryEvent.decode(json.dumps(body).encode())


@pytest.mark.parametrize("payload", [b'{"v":1,"id":"x","first":0,"last":3}',
                                     b'{"v":1,"id":"x","first":5,"last":3}', b"next", b"[]"])
def test_bad_requests_are_protocol_errors(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        HistoryRequest.decode(payload)


def test_topics() -> None:
    topics = HistoryTopics("xa-a")
    assert (topics.event, topics.head, topics.request, topics.ack) == (
        "motcua/xa-a/history/event", "motcua/xa-a/history/head",
        "motcua/xa-a/history/request", "motcua/xa-a/history/ack")
    assert HistoryTopics.site_of("motcua/xa-a/status/kiosk/k1") == "xa-a"
    with pytest.raises(ProtocolError):
        HistoryTopics.site_of("other/xa-a/history/event")


def test_messages_without_a_log_are_of_the_legacy_log() -> None:
    """Hubs and centres from before log identities leave ``log`` out: it reads as ""."""
    payload = encode(EVENT).replace(b',"log":""', b"")
    assert b'"log"' not in payload and HistoryEvent.decode(payload).log == ""
    assert HistoryAck.decode(b'{"v":1,"upto":3}') == HistoryAck(upto=3, log="")
    assert HistoryRequest.decode(b'{"v":1,"id":"x","first":1,"last":3}').log == ""


def test_a_logs_identity_comes_from_its_first_row() -> None:
    from motcua.protocol import log_identity

    first = log_identity(1, "day", "day:2026-11-30", "2026-11-30T07:00:00.123456+07:00")
    assert first == log_identity(1, "day", "day:2026-11-30", "2026-11-30T07:00:00.123456+07:00")
    assert len(first) == 16 and int(first, 16) >= 0
    assert first != log_identity(1, "day", "day:2026-11-30", "2026-11-30T07:00:00.123457+07:00")
