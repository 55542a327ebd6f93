"""The caller daemon against a real Mosquitto: tickets and presses in, board and calls out."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from caller_helpers import ticket
from motcua.caller.daemon import Caller
from motcua.caller.engine import Engine
from motcua.caller.store import EventStore, StoreError
from motcua.caller.voice import spoken_sentence
from rig import Listener, eventually

from motcua.config import load_config
from motcua.protocol import (
    Board,
    Called,
    CounterCommand,
    CounterState,
    Rating,
    Received,
    Status,
    Topics,
    encode,
    new_id,
)
from motcua.service_day import ClockReading, service_day

TOPICS = Topics("liem-chung")
EXAMPLE = load_config(Path(__file__).parents[2] / "examples" / "liem-chung.toml")


def today() -> str:
    return service_day(datetime.now().astimezone(), EXAMPLE.site.tz, EXAMPLE.site.day_starts_at).isoformat()


def new_ticket(number: str, service: str = "dat-dai", **kw):
    # Issued now: the caller refuses a ticket far from its clock (caller/intake.py).
    return ticket(number, service, day=today(), **{"at": datetime.now().astimezone(), **kw})


def press(action: str, target: str | None = None) -> bytes:
    return encode(CounterCommand(id=new_id(), action=action, target=target))


@pytest.fixture
def caller(site_config: Path, tmp_path: Path) -> Iterator[Caller]:
    """The caller in this process (its owner loop on a thread), with no audio."""
    running = Caller(load_config(site_config), db=tmp_path / "caller.db", audio="none")
    stop = threading.Event()
    thread = threading.Thread(target=running.serve, args=(stop,), daemon=True)
    thread.start()
    assert running.link.connected.wait(10)
    yield running
    stop.set()
    running.inbox.put(None)   # wake the owner loop now rather than at its next tick
    thread.join(10)
    assert not thread.is_alive()


def latest(listener: Listener, topic: str, kind):
    payloads = listener.payloads(topic)
    return kind.decode(payloads[-1]) if payloads else None


def test_ticket_and_next_publish_board_counter_state_and_call(broker, caller: Caller) -> None:
    listener = Listener(broker.url, TOPICS.board, TOPICS.called, TOPICS.counter_state("1"),
                        TOPICS.counter_state("4"))
    try:
        assert listener.wait_for(lambda li: li.payloads(TOPICS.board)), "board at start"
        first = new_ticket("1001", name="Nguyễn Văn An")
        listener.publish(TOPICS.ticket, encode(first))
        assert listener.wait_for(
            lambda li: latest(li, TOPICS.board, Board).waiting.get("dat-dai") == 1)
        assert listener.wait_for(
            lambda li: latest(li, TOPICS.counter_state("4"), CounterState).waiting == 1)

        listener.publish(TOPICS.counter_cmd("1"), press("next"))
        assert listener.wait_for(lambda li: li.payloads(TOPICS.called))
        called = Called.decode(listener.payloads(TOPICS.called)[0])
        assert (called.counter, called.number, called.recall) == ("1", "1001", False)
        assert called.sentence == spoken_sentence(EXAMPLE.caller.voice, number="1001",
                                                  counter_name="Quầy số 1", name="Nguyễn Văn An")
        assert listener.wait_for(
            lambda li: latest(li, TOPICS.counter_state("1"), CounterState).status == "serving")
        state = latest(listener, TOPICS.counter_state("1"), CounterState)
        assert (state.number, state.name, state.waiting) == ("1001", "Nguyễn V. A.", 0)
        board = latest(listener, TOPICS.board, Board)
        assert board.calls[0].number == "1001" and board.calls[0].name == "Nguyễn V. A."
        seqs = [Board.decode(p).seq for p in listener.payloads(TOPICS.board)]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    finally:
        listener.close()


def test_duplicates_and_malformed_messages_change_nothing(broker, caller: Caller) -> None:
    listener = Listener(broker.url, TOPICS.called, TOPICS.board, TOPICS.status_all, TOPICS.received)
    try:
        listener.wait_for(lambda li: li.payloads(TOPICS.board))
        first = new_ticket("1001")
        for _ in range(3):
            listener.publish(TOPICS.ticket, encode(first))
        # (An oversized payload never gets this far: the hub's broker closes its sender,
        # tests/install/test_broker_hardening.py.)
        for payload in (b"\xff\xfe", b"[]", b'{"v":1,"id":"x"}', b'{"v":2}'):
            listener.publish(TOPICS.ticket, payload)
            listener.publish(TOPICS.counter_cmd("1"), payload)
            listener.publish(TOPICS.counter_rating("1"), payload)
        listener.publish(f"{TOPICS.root}/counter/1/extra/cmd", b"next")
        duplicate = press("next")
        listener.publish(TOPICS.counter_cmd("1"), duplicate)
        listener.publish(TOPICS.counter_cmd("1"), duplicate)
        assert listener.wait_for(lambda li: li.payloads(TOPICS.called))

        def dropped(li: Listener) -> int:
            statuses = [Status.decode(p) for p in li.payloads(TOPICS.status("caller", "hub"))]
            return statuses[-1].health.get("dropped", 0) if statuses else 0

        assert listener.wait_for(lambda li: dropped(li) == 12, timeout=10), caller.counts
        # One more press proves the caller is alive and processed the above in order.
        listener.publish(TOPICS.counter_cmd("1"), press("recall"))
        assert listener.wait_for(lambda li: len(li.payloads(TOPICS.called)) == 2)
        assert [Called.decode(p).recall for p in listener.payloads(TOPICS.called)] == [False, True]
        assert caller.counts["duplicates"] == 3
        # A malformed message with an id is confirmed as refused, so its sender stops resending.
        assert listener.wait_for(lambda li: any(Received.decode(p).refused.get("x") == "refused"
                                                for p in li.payloads(TOPICS.received)))
        logged = sqlite3.connect(caller.store.path).execute("SELECT count(*) FROM events WHERE kind "
                                                            "= 'ticket'").fetchone()[0]
        assert logged == 1
    finally:
        listener.close()


# -- kill -9 and restart ---------------------------------------------------------------

def start_caller_process(config: Path, db: Path, log: Path, audio: str = "none") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "motcua.cli", "caller", "--config", str(config), "--audio", audio,
         "--db", str(db)], stdout=log.open("ab"), stderr=subprocess.STDOUT, env=dict(os.environ))


def caller_online(listener: Listener) -> bool:
    payloads = listener.payloads(TOPICS.status("caller", "hub"))
    return bool(payloads) and Status.decode(payloads[-1]).state == "online"


def test_sigterm_stops_cleanly_after_speaking(broker, site_config: Path, tmp_path: Path) -> None:
    log, sounds = tmp_path / "caller.log", tmp_path / "sounds"
    listener = Listener(broker.url, TOPICS.status_all, TOPICS.called)
    process = start_caller_process(site_config, tmp_path / "caller.db", log, f"wav:{sounds}")
    try:
        assert listener.wait_for(caller_online, timeout=20), log.read_text()
        listener.publish(TOPICS.ticket, encode(new_ticket("1001")))
        listener.publish(TOPICS.counter_cmd("1"), press("next"))
        assert listener.wait_for(lambda li: li.payloads(TOPICS.called), timeout=10)
        assert eventually(lambda: any(sounds.glob("*.wav")), timeout=90), log.read_text()
        process.terminate()
        assert process.wait(30) == 0, log.read_text()[-3000:]
        assert listener.wait_for(lambda li: not caller_online(li), timeout=10), "says offline"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        listener.close()


def test_kill_9_mid_stream_loses_and_doubles_nothing_acknowledged(
        broker, site_config: Path, tmp_path: Path, soak: bool) -> None:
    """kill -9 at random moments of a burst (--soak: 20 kills in 5,000 tickets, as issue 9 asks)."""
    db, log = tmp_path / "caller.db", tmp_path / "caller.log"
    listener = Listener(broker.url, TOPICS.status_all)
    process = start_caller_process(site_config, db, log)
    try:
        assert listener.wait_for(caller_online, timeout=20), log.read_text()
        size, kills = (5000, 20) if soak else (400, 6)
        # Numbers in each service's range, as a kiosk prints them (caller/intake.py checks).
        tickets = [new_ticket(str((1001 if i % 2 else 2001) + (i // 2) % 999),
                              "dat-dai" if i % 2 else "tu-phap") for i in range(size)]
        presses: list[tuple[str, bytes]] = []
        kill_points = set(random.Random(size).sample(range(20, size - 20), kills))
        for i, t in enumerate(tickets):
            listener.publish(TOPICS.ticket, encode(t))
            if i % 3 == 0:
                counter = str(1 + i % 4)
                payload = press("next")
                presses.append((counter, payload))
                listener.publish(TOPICS.counter_cmd(counter), payload)
            if i in kill_points:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(10)
                assert listener.wait_for(lambda li: not caller_online(li), timeout=20)  # the Will
                process = start_caller_process(site_config, db, log)
                # Back online and working through the backlog when the next kill comes.
                assert listener.wait_for(caller_online, timeout=30), log.read_text()[-2000:]
        # Everything published was PUBACKed by the broker; the caller must end with all of it.
        ticket_ids = {t.id for t in tickets}
        command_ids = {json.loads(p)["id"] for _, p in presses}
        events = sqlite3.connect(db, timeout=10)

        def logged() -> tuple[set[str], set[str]]:
            rows = events.execute("SELECT kind, msg_id FROM events").fetchall()
            return ({m for k, m in rows if k == "ticket"}, {m for k, m in rows if k == "command"})

        assert eventually(lambda: logged() == (ticket_ids, command_ids), timeout=90), \
            [len(s) for s in logged()]
        counts = events.execute(
            "SELECT kind, count(*), count(DISTINCT msg_id) FROM events GROUP BY kind").fetchall()
        assert all(total == distinct for _, total, distinct in counts)
        assert dict((k, n) for k, n, _ in counts)["ticket"] == len(tickets)
    finally:
        # Stopped hard: a clean stop with calls still being spoken is tested on its own below.
        process.kill()
        process.wait(10)
        listener.close()
    # The state the log rebuilds: every ticket once, in exactly one place.
    config = load_config(site_config)
    engine = Engine({c.id: c.services for c in config.counters})
    for event in EventStore(db).replay():
        engine.apply(event)
    assert engine.ticket_ids == ticket_ids
    serving = [c.current for c in engine.counters.values() if c.current]
    assert len(serving) == len(set(serving))
    rows = sqlite3.connect(db).execute("SELECT count(*), count(called_at) FROM tickets").fetchone()
    assert rows[0] == len(tickets)


def test_a_rating_is_kept_with_the_ticket_the_counter_finished(broker, caller: Caller) -> None:
    listener = Listener(broker.url, TOPICS.board)
    try:
        listener.wait_for(lambda li: li.payloads(TOPICS.board))
        served = new_ticket("1001")
        listener.publish(TOPICS.ticket, encode(served))
        listener.publish(TOPICS.counter_cmd("1"), press("next"))
        listener.publish(TOPICS.counter_cmd("1"), press("done"))
        listener.publish(TOPICS.counter_rating("1"), encode(Rating(id=new_id(), score=1)))
        listener.publish(TOPICS.counter_rating("1"), encode(Rating(id=new_id(), score=3)))
        history = sqlite3.connect(caller.store.path, timeout=10)

        def rating() -> tuple | None:
            return history.execute("SELECT status, rating FROM tickets WHERE id = ?",
                                   (served.id,)).fetchone()

        assert eventually(lambda: rating() == ("done", 1), timeout=20), rating()
        listener.publish(TOPICS.counter_cmd("1"), press("next"))   # after the second rating
        assert eventually(lambda: caller.counts["events"] >= 6, timeout=20)
        assert rating() == ("done", 1), "one rating per ticket: the second is refused"
    finally:
        listener.close()


class JumpingClock:
    """The hub's clocks for the caller: the wall clock can jump; each reading is counted."""

    def __init__(self) -> None:
        self.wall, self.mono, self.synced = time.time(), 100.0, False
        self.readings = 0
        self.read_again = threading.Event()
        self.nudge = lambda: None      # wakes the owner loop instead of waiting for its tick

    def __call__(self) -> ClockReading:
        self.readings += 1
        self.read_again.set()
        return ClockReading(self.wall, self.mono, self.synced)

    def set(self, wall: float, synced: bool = False) -> None:
        """Move the wall clock, then wait until the owner loop has read it twice (a full turn)."""
        self.wall, self.synced = wall, synced
        for _ in range(2):
            self.read_again.clear()
            self.nudge()
            assert self.read_again.wait(10), "the caller stopped reading its clock"


def test_hub_clock_jumps_neither_end_the_day_nor_expire_the_queue(
        broker, site_config: Path, tmp_path: Path) -> None:
    """Issue 9, item 7 on the hub: +1 day, back to 1970 and back again mid-day; then NTP."""
    clock = JumpingClock()
    config, db = load_config(site_config), tmp_path / "caller.db"
    listener = Listener(broker.url, TOPICS.board)
    running = Caller(config, db=db, audio="none", clock=clock)
    clock.nudge = lambda: running.inbox.put(None)
    stop = threading.Event()
    thread = threading.Thread(target=running.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        assert running.link.connected.wait(10)
        for number in ("1001", "1002"):
            listener.publish(TOPICS.ticket, encode(new_ticket(number)))
        assert listener.wait_for(lambda li: latest(li, TOPICS.board, Board).waiting.get("dat-dai") == 2)
        real = clock.wall
        for wall in (real + 86400, 0.0, real - 86400, real + 3 * 86400, real):
            clock.set(wall)                               # not synchronised: no new day
            assert running.engine.day == today()
        listener.publish(TOPICS.counter_cmd("1"), press("next"))
        assert listener.wait_for(lambda li: latest(li, TOPICS.board, Board).waiting.get("dat-dai") == 1)
        board = latest(listener, TOPICS.board, Board)
        assert board.day == today() and board.calls[0].number == "1001"

        clock.set(real + 86400, synced=True)              # NTP says it is tomorrow: a new day
        assert listener.wait_for(lambda li: latest(li, TOPICS.board, Board).day != today())
        board = latest(listener, TOPICS.board, Board)
        assert board.waiting.get("dat-dai", 0) == 0 and board.calls == []
    finally:
        stop.set()
        running.inbox.put(None)
        thread.join(10)
        listener.close()
    assert not thread.is_alive()
    # A restart with the clock back in 1970 keeps the day the log reached.
    restarted = Caller(config, db=db, audio="none", clock=lambda: ClockReading(0.0, 5.0, False))
    try:
        restarted.roll_day()
        assert restarted.engine.day > today()
    finally:
        restarted.store.close()


def test_calls_and_acks_wait_for_the_event_log_on_disk(broker, site_config: Path, tmp_path: Path) -> None:
    """The board goes out at once; the call (and the broker's ack) only after the fsync."""
    running = Caller(load_config(site_config), db=tmp_path / "caller.db", audio="none")
    disk = threading.Event()                      # the disk answers when the test says so
    real_sync = running.store.sync
    running.store.sync = lambda: (disk.wait(30), real_sync())
    stop = threading.Event()
    thread = threading.Thread(target=running.serve, args=(stop,), daemon=True)
    thread.start()
    listener = Listener(broker.url, TOPICS.board, TOPICS.called)
    try:
        assert running.link.connected.wait(10)
        listener.publish(TOPICS.ticket, encode(new_ticket("1001")))
        listener.publish(TOPICS.counter_cmd("1"), press("next"))
        assert listener.wait_for(lambda li: (b := latest(li, TOPICS.board, Board)) is not None
                                 and b.calls and b.calls[0].number == "1001")
        assert not listener.wait_for(lambda li: li.payloads(TOPICS.called), timeout=0.5)
        assert running.pipeline.pending, "committed, waiting for the disk, not acknowledged"
        disk.set()
        assert listener.wait_for(lambda li: li.payloads(TOPICS.called))
        assert eventually(lambda: not running.pipeline.pending)
    finally:
        disk.set()
        stop.set()
        running.inbox.put(None)
        thread.join(10)
        listener.close()
    assert not thread.is_alive()


def test_a_failed_fsync_ends_the_caller_before_any_ack_or_call(broker, site_config: Path,
                                                                tmp_path: Path) -> None:
    running = Caller(load_config(site_config), db=tmp_path / "caller.db", audio="none")

    def broken_disk() -> None:
        raise OSError(5, "Input/output error")

    running.store.sync = broken_disk
    raised: list[BaseException] = []

    def serve() -> None:
        try:
            running.serve(threading.Event())
        except StoreError as exc:
            raised.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    listener = Listener(broker.url, TOPICS.called)
    try:
        assert running.link.connected.wait(10)
        listener.publish(TOPICS.ticket, encode(new_ticket("1001")))
        listener.publish(TOPICS.counter_cmd("1"), press("next"))
        thread.join(10)
        assert not thread.is_alive() and raised and "fsync failed" in str(raised[0])
        assert running.pipeline.pending, "committed but never acknowledged"
        assert not listener.payloads(TOPICS.called)
    finally:
        listener.close()
