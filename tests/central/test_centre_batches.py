"""The centre's batches against a real PostgreSQL: a failed write stops every write queued
behind it, what PostgreSQL would refuse is dropped at the intake, the batches in flight are
bounded without blocking the owner, and a log left by its hub keeps its position."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from motcua.central import centre as centre_module
from motcua.central.centre import Centre
from motcua.central.store import CentralStore, CentralStoreError

from motcua.mqtt import Inbound
from motcua.protocol import (
    HistoryEvent,
    HistoryHead,
    HistoryKind,
    HistoryTopics,
    Presence,
    Status,
    encode,
)

_mid = iter(range(1, 1_000_000))


class RecordingLink:
    """Only what the centre's owner calls; the wire is tested in test_central_bridge."""

    def __init__(self) -> None:
        self.acked: list[Inbound] = []

    def ack_all(self, messages: list[Inbound]) -> None:
        self.acked.extend(messages)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        pass


def row(site: str, seq: int, log: str = "L1", **changes: Any) -> HistoryEvent:
    fields: dict[str, Any] = dict(site=site, seq=seq, prev=seq - 1, id=f"{log}{seq:030x}",
                                  kind=HistoryKind.TICKET, at="2026-11-30T08:00:00+07:00",
                                  body={"service": "dat-dai", "number": str(seq)}, log=log)
    fields.update(changes)
    return HistoryEvent(**fields)


def message(event: HistoryEvent) -> Inbound:
    return Inbound(HistoryTopics(event.site).event, encode(event), mid=next(_mid), qos=1,
                   retain=False)


def history(store: CentralStore) -> list[tuple[str, str, int]]:
    return [tuple(r) for r in store.db.execute(
        "SELECT site, log, seq FROM history ORDER BY site, log, seq").fetchall()]


def eventually(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.01)


@pytest.fixture
def store(pg_dsn: str) -> Iterator[CentralStore]:
    store = CentralStore(pg_dsn)
    store.migrate()
    yield store
    store.close()


@contextmanager
def history_locked(dsn: str) -> Iterator[None]:
    """Another session holds the history table: the centre's writes wait (a slow database)."""
    with psycopg.connect(dsn) as other:
        other.execute("LOCK TABLE history IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            other.rollback()


def test_a_failed_write_stops_the_writes_queued_behind_it(store: CentralStore, pg_dsn: str) -> None:
    # PostgreSQL itself refuses row 2 (a constraint of this test's database only).
    store.db.execute("ALTER TABLE history ADD CONSTRAINT refuses_two CHECK (seq <> 2)")
    first = [message(row("xa", seq)) for seq in (1, 2, 3)]
    second = [message(row("xa", seq)) for seq in (4, 5)]
    link = RecordingLink()
    centre = Centre(store, link)
    centre.write(first)
    centre.write(second)                  # queued behind the first before it fails
    with pytest.raises(CentralStoreError):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:     # the frame's ticks: the daemon ends here
            centre.tick(time.monotonic())
            time.sleep(0.005)
    centre.writer.shutdown(wait=True)
    assert link.acked == []
    assert history(store) == []
    assert store.positions() == {}

    # systemd starts it again; the broker sends both batches again, now accepted.
    store.db.execute("ALTER TABLE history DROP CONSTRAINT refuses_two")
    link = RecordingLink()
    again = Centre(store, link)
    again.write([message(row("xa", seq)) for seq in (1, 2, 3)])
    again.write([message(row("xa", seq)) for seq in (4, 5)])
    again.stop()
    assert history(store) == [("xa", "L1", seq) for seq in range(1, 6)]
    assert store.positions() == {("xa", "L1"): 5}
    assert len(link.acked) == 5


def test_what_postgresql_would_refuse_is_a_dropped_message(store: CentralStore) -> None:
    big = 2**63
    bad = [
        message(row("xb", 1, body={"note": "a\u0000b"})),
        message(row("xc", 1, body={"a\u0000": 1})),
        Inbound(HistoryTopics("xd").event,          # a lone surrogate, escaped as JSON allows
                encode(row("xd", 1, body={"list": [1, {"x": "HALF"}]})).replace(b"HALF",
                                                                                b"\\ud800"),
                mid=next(_mid), qos=1, retain=False),
        message(row("xe", 1, body={"n": float("nan")})),
        message(row("xf", big, prev=big - 1)),
        Inbound(HistoryTopics("xg").head, encode(HistoryHead(site="xg", last=big, log="L1")),
                mid=next(_mid), qos=1, retain=False),
        Inbound("motcua/xa/status/caller/main",
                encode(Status(role="caller", device="main", state=Presence.ONLINE,
                              at="2026-11-30T08:00:00+07:00", health={"x": float("inf")})),
                mid=next(_mid), qos=1, retain=False),
        Inbound("motcua/xa/status/kiosk/k1",
                encode(Status(role="kiosk", device="k1", state=Presence.ONLINE, at="yesterday")),
                mid=next(_mid), qos=1, retain=False),
    ]
    good = [message(row("xa", seq, body={"number": f"{seq}", "name": "Nguyễn Văn A"}))
            for seq in (1, 2, 3)]
    link = RecordingLink()
    centre = Centre(store, link)
    for item in [good[0], *bad, good[1], good[2]]:
        centre.handle(item)
    centre.tick(time.monotonic())
    centre.tick(time.monotonic())           # a turn with nothing new: the batch is written
    centre.stop()
    assert centre.dropped == len(bad)
    assert len(link.acked) == len(bad) + len(good)       # dropped ones are acknowledged too
    assert history(store) == [("xa", "L1", 1), ("xa", "L1", 2), ("xa", "L1", 3)]


def test_two_batches_in_flight_hold_the_next_without_blocking_the_owner(
        store: CentralStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    link = RecordingLink()
    centre = Centre(store, link)
    waits: list[float] = []
    with history_locked(pg_dsn):
        for seq in (1, 2, 3):                 # three batches; the database is stuck
            centre.handle(message(row("xa", seq)))
            ticking = threading.Thread(target=lambda: [
                waits.append(centre.tick(time.monotonic())) for _ in range(2)], daemon=True)
            ticking.start()
            ticking.join(timeout=10)
            assert not ticking.is_alive(), "the owner blocked on a commit"
        assert len(centre.pending) == 2
        assert len(centre.batch) == 1             # the third keeps gathering
        assert waits[-1] == centre_module.COMMIT_CHECK_S   # polled again soon, not at once
        assert link.acked == []
        # A clean stop waits for the commits, but not for ever.
        monkeypatch.setattr(centre_module, "STOP_WAIT_S", 0.3)
        stopping = threading.Thread(target=centre.stop, daemon=True)
        stopping.start()
        stopping.join(timeout=10)
        assert not stopping.is_alive(), "the stop waited for ever"
        assert link.acked == []
    centre.writer.shutdown(wait=True)
    # The write under way commits once the lock goes, the one queued was given up; neither
    # acknowledged: the broker sends both again to the next run, which drops the copy.
    assert history(store) == [("xa", "L1", 1)]
    assert link.acked == []


def test_the_bounded_batches_all_commit_once_the_database_answers(
        store: CentralStore, pg_dsn: str) -> None:
    link = RecordingLink()
    centre = Centre(store, link)
    def gather() -> None:
        for seq in range(1, 6):
            centre.handle(message(row("xa", seq)))
            centre.tick(time.monotonic())
            centre.tick(time.monotonic())

    with history_locked(pg_dsn):
        ticking = threading.Thread(target=gather, daemon=True)
        ticking.start()
        ticking.join(timeout=10)
        assert not ticking.is_alive(), "the owner blocked on a commit"
        assert len(centre.pending) == 2
    eventually(lambda: centre.tick(time.monotonic()) is not None and len(link.acked) == 5)
    centre.stop()
    assert history(store) == [("xa", "L1", seq) for seq in range(1, 6)]
    assert store.positions() == {("xa", "L1"): 5}


def test_a_log_left_by_its_hub_keeps_the_position_of_its_flushed_rows(
        store: CentralStore) -> None:
    link = RecordingLink()
    centre = Centre(store, link)
    centre.write([message(row("xa", seq, log="A")) for seq in (1, 2, 4, 5)])   # 3 is missing
    centre.finish(wait=True)
    assert store.positions() == {("xa", "A"): 2}
    centre.write([message(row("xa", 1, log="B"))])      # the hub's log was replaced
    centre.stop()
    assert history(store) == [("xa", "A", 1), ("xa", "A", 2), ("xa", "A", 4), ("xa", "A", 5),
                              ("xa", "B", 1)]
    assert store.positions() == {("xa", "A"): 5, ("xa", "B"): 1}
    # After a restart, the old log's rows are copies, not rows to write again.
    again = Centre(store, RecordingLink())
    assert again.sequencer.logs[("xa", "A")].upto == 5
    again.stop()
