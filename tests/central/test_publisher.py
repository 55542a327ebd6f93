"""The hub's publisher reads the caller's real event log (caller/store.py) and answers ranges."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from centralrig import command_event, ticket_event
from motcua.caller.engine import Event, TicketRecord
from motcua.caller.store import EventStore
from motcua.central.publisher import HistoryLog, Publisher, PublisherState

from motcua.protocol import (
    HistoryAck,
    HistoryEvent,
    HistoryKind,
    HistoryRequest,
    HistoryTopics,
    Ticket,
    encode,
)

AT = datetime(2026, 11, 30, 8, 0, tzinfo=timezone(timedelta(hours=7)))


def filled_log(path: Path) -> EventStore:
    store = EventStore(path)
    first = ticket_event(1, AT, name="Trần Thị Bình")
    store.append(first)
    store.append(command_event("next", AT + timedelta(seconds=5), counter="2"))
    store.append(first)                                 # a copy: the log keeps one
    # The next day carries the ticket over, name and all, as the caller logs it.
    record = TicketRecord(id=first.ticket.id, service="dat-dai", number="1001", seq=1001,
                          day="2026-11-30", issued_at=AT, kiosk="k1", name="Trần Thị Bình")
    store.append(Event("day", "2026-12-01", AT + timedelta(days=1), day="2026-12-01",
                       carry=(record,)))
    store.commit()
    return store


def test_log_rows_become_history_events_without_names(tmp_path: Path):
    store = filled_log(tmp_path / "caller.db")
    history = HistoryLog(tmp_path / "caller.db", "xa-a")
    events = history.after(0, 100)
    assert [(e.seq, e.prev, e.kind) for e in events] == [
        (1, 0, HistoryKind.TICKET), (2, 1, HistoryKind.COMMAND), (3, 2, HistoryKind.DAY)]
    ticket = Ticket.decode(encode(events[0].body))      # the body is the message as logged
    assert ticket.number == "1001" and ticket.name is None
    assert events[1].counter == "2" and events[1].body["action"] == "next"
    assert "Bình" not in encode(events[2]).decode()
    assert all(HistoryEvent.decode(encode(e)) == e for e in events)
    assert history.last() == 3
    store.close()
    history.close()


def test_a_range_starts_with_the_row_before_it_as_prev(tmp_path: Path):
    store = filled_log(tmp_path / "caller.db")
    store.db.execute("DELETE FROM events WHERE seq = 2")   # a log that skipped a number
    store.db.commit()
    history = HistoryLog(tmp_path / "caller.db", "xa-a")
    assert [(e.seq, e.prev) for e in history.between(2, 3)] == [(3, 1)]
    store.close()
    history.close()


class FakeLink:
    """Only what the owner calls: the wire is tested with real brokers in test_central_bridge."""

    class Info:
        def __init__(self, mid: int) -> None:
            self.mid = mid

    def __init__(self) -> None:
        import threading

        self.connected = threading.Event()
        self.connected.set()
        self.sent: list[tuple[str, bytes, bool]] = []
        self.health: dict = {}

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False):
        self.sent.append((topic, payload, retain))
        return self.Info(len(self.sent))

    def set_health(self, **health) -> None:
        self.health.update(health)


def test_requests_are_answered_oldest_first_and_bad_ones_dropped(tmp_path: Path):
    store = filled_log(tmp_path / "caller.db")
    history = HistoryLog(tmp_path / "caller.db", "xa-a")
    link = FakeLink()
    publisher = Publisher(history, PublisherState(tmp_path / "history.db"), link)
    topics = HistoryTopics("xa-a")
    publisher._inbound(topics.request, b"garbage")
    assert publisher.health()["dropped"] == 1          # on the publisher's status
    publisher._inbound(topics.request, encode(HistoryRequest(id="r" * 32, first=2, last=3)))
    assert [HistoryEvent.decode(p).seq for t, p, _ in link.sent if t == topics.event] == [2, 3]
    publisher._inbound(topics.ack, b'{"v":1,"upto":3}')
    assert publisher.confirmed == 3 and PublisherState(tmp_path / "history.db").get("confirmed") == 3
    store.close()
    history.close()


def test_what_the_local_broker_acknowledged_is_not_sent_again_after_a_restart(tmp_path: Path):
    store = filled_log(tmp_path / "caller.db")
    history = HistoryLog(tmp_path / "caller.db", "xa-a")
    link = FakeLink()
    state = PublisherState(tmp_path / "history.db")
    publisher = Publisher(history, state, link)
    publisher.up = True
    publisher.pump()
    events = [HistoryEvent.decode(p).seq for t, p, _ in link.sent if t.endswith("/event")]
    assert events == [1, 2, 3]
    for mid in (2, 1):                              # PUBACKs out of order: sent moves in order
        publisher._published(mid)
    assert publisher.sent == 2
    publisher.pump()
    state.close()
    again = Publisher(history, PublisherState(tmp_path / "history.db"), FakeLink())
    assert again.sent == 2
    again.up = True
    again.pump()
    assert [HistoryEvent.decode(p).seq for t, p, _ in again.link.sent if t.endswith("/event")] == [3]
    store.close()
    history.close()


def sent_events(link) -> list[HistoryEvent]:
    return [HistoryEvent.decode(p) for t, p, _ in link.sent if t.endswith("/event")]


def test_a_replaced_log_is_sent_from_its_first_row_under_a_new_identity(tmp_path: Path):
    """The caller's database set aside (caller/store.py's set_aside) while the publisher
    runs: the new log's rows 1, 2, ... go out under the new log's identity; requests for the
    old log are not answered from the new one; the old log's confirmation is not taken."""
    from motcua.caller.store import set_aside

    path = tmp_path / "caller.db"
    store = filled_log(path)
    history = HistoryLog(path, "xa-a")
    old = history.identity
    assert old and HistoryLog(path, "xa-a").identity == old     # the same log, the same identity
    link = FakeLink()
    state = PublisherState(tmp_path / "history.db")
    publisher = Publisher(history, state, link)
    publisher.up = True
    publisher.pump()
    for mid in (1, 2, 3):
        publisher._published(mid)
    publisher.pump()
    assert publisher.sent == 3 and {e.log for e in sent_events(link)} == {old}
    store.close()
    set_aside(path)
    fresh = EventStore(path)
    publisher.pump()                            # an empty new log: nothing to send yet
    assert len(sent_events(link)) == 3
    fresh.append(ticket_event(7, AT + timedelta(days=2)))
    fresh.append(command_event("next", AT + timedelta(days=2, seconds=5)))
    fresh.commit()
    publisher.pump()
    new = history.identity
    assert new and new != old
    assert [(e.seq, e.prev, e.log) for e in sent_events(link)[3:]] == [(1, 0, new), (2, 1, new)]
    assert state.log() == new and publisher.sent == 0
    topics = HistoryTopics("xa-a")
    publisher._inbound(topics.ack, encode(HistoryAck(upto=3, log=old)))
    assert publisher.confirmed == 0
    publisher._inbound(topics.request, encode(HistoryRequest(id="r" * 32, first=1, last=3, log=old)))
    assert len(sent_events(link)) == 5
    publisher._inbound(topics.request, encode(HistoryRequest(id="s" * 32, first=1, last=3, log=new)))
    assert [(e.seq, e.log) for e in sent_events(link)[5:]] == [(1, new), (2, new)]
    # A restart beside the new log keeps its positions.
    for mid in range(4, 8):
        publisher._published(mid)
    publisher.pump()
    state.close()
    again = Publisher(history, PublisherState(tmp_path / "history.db"), FakeLink())
    assert again.log == new and again.sent == 2
    fresh.close()
    history.close()


def test_a_history_db_from_before_log_identities_keeps_its_position(tmp_path: Path):
    store = filled_log(tmp_path / "caller.db")
    history = HistoryLog(tmp_path / "caller.db", "xa-a")
    import sqlite3

    with sqlite3.connect(tmp_path / "history.db") as db:   # as the earlier publisher left it
        db.execute("CREATE TABLE position (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)")
        db.execute("INSERT INTO position VALUES ('sent', 2), ('confirmed', 2)")
    publisher = Publisher(history, PublisherState(tmp_path / "history.db"), FakeLink())
    assert publisher.log == history.identity and publisher.sent == 2
    publisher.up = True
    publisher.pump()
    assert [(e.seq, e.log) for e in sent_events(publisher.link)] == [(3, history.identity)]
    store.close()
    history.close()
