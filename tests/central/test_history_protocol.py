"""The history messages of docs/protocol.md: round trips and what is refused."""

from __future__ import annotations

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


@pytest.mark.parametrize("message", [EVENT, HistoryHead(site="xa-a", last=12),
                                     HistoryRequest(id="b" * 32, first=3, last=9),
                                     HistoryAck(upto=12)])
def test_round_trip(message: object) -> None:
    assert type(message).decode(encode(message)) == message


@pytest.mark.parametrize("change, reason", [
    ({"prev": 12}, "prev"), ({"prev": -1}, "prev"), ({"kind": "called"}, "kind"),
    ({"at": "2026-11-30 08:00"}, "offset"), ({"body": "next"}, "type"), ({"seq": True}, "number"),
    ({"site": ""}, "empty"),
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
