"""Issue 19 on the caller (real Mosquitto, the caller's owner loop in a thread): a day start
with an unsynchronised clock, a full disk, a number issued twice."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from caller_helpers import ticket as made
from motcua.caller.daemon import Caller
from rig import Listener, eventually

from motcua.config import load_config
from motcua.protocol import Board, Called, CounterCommand, Heartbeat, Received, Topics, encode, new_id
from motcua.service_day import ClockReading, service_day

TOPICS = Topics("liem-chung")
K1 = TOPICS.ticket_from("k1")       # kiosk k1's own ticket topic


def ticket(number: str, service: str, *, day: str, ago_s: float = 0.0):
    """A ticket kiosk k1 could print ``ago_s`` seconds ago (the caller refuses any other:
    caller/intake.py)."""
    return made(number, service, day=day, at=datetime.now().astimezone() - timedelta(seconds=ago_s))


class Clock:
    """The hub's clock as the day keeper reads it: wall time shifted by ``offset_s``."""

    def __init__(self, offset_s: float = 0.0, *, synced: bool = True) -> None:
        self.offset_s = offset_s
        self.synced = synced

    def __call__(self) -> ClockReading:
        return ClockReading(time.time() + self.offset_s, time.monotonic(), self.synced)


@contextmanager
def running(site_config: Path, db: Path, **options) -> Iterator[Caller]:
    caller = Caller(load_config(site_config), db=db, audio="none", **options)
    stop = threading.Event()
    thread = threading.Thread(target=caller.serve, args=(stop,), daemon=True)
    thread.start()
    assert caller.link.connected.wait(10)
    try:
        yield caller
        assert thread.is_alive(), "the caller's owner loop ended"
    finally:
        stop.set()
        caller.inbox.put(None)
        thread.join(15)
    assert not thread.is_alive()


def latest(listener: Listener, topic: str, kind):
    payloads = listener.payloads(topic)
    return kind.decode(payloads[-1]) if payloads else None


def confirmed(listener: Listener) -> set[str]:
    """Every id the caller has confirmed on ``received``."""
    return {i for p in listener.payloads(TOPICS.received) for i in Received.decode(p).ids}


def press(action: str = "next") -> bytes:
    return encode(CounterCommand(id=new_id(), action=action,
                                 pressed_at=datetime.now().astimezone().isoformat()))


def today(site_config: Path) -> date:
    config = load_config(site_config)
    return service_day(datetime.now().astimezone(), config.site.tz, config.site.day_starts_at)


def test_a_caller_not_running_across_day_start_never_calls_yesterdays_ticket(
        broker, site_config: Path, tmp_path: Path, caplog) -> None:
    """Item 8: the caller ran yesterday and stopped with tickets waiting; it starts today with
    a clock the kernel calls unsynchronised, so its day keeper stays on yesterday. The kiosk's
    first ticket of today (its clock and the hub's agree on the day) starts today's queue:
    yesterday's tickets expire, the Next calls today's 1001. A ticket of yesterday arriving
    after that is expired with a log line and its sender told."""
    caplog.set_level(logging.INFO)
    db = tmp_path / "caller.db"
    day = today(site_config)
    yesterday = (day - timedelta(days=1)).isoformat()
    kiosk = Listener(broker.url, TOPICS.board)
    with running(site_config, db, clock=Clock(-86400)) as caller:
        for number in ("1001", "1002", "1003"):
            kiosk.publish(K1, encode(ticket(number, "dat-dai", day=yesterday, ago_s=86400)))
        assert eventually(lambda: caller.engine.waiting["dat-dai"] == 3)
        assert caller.engine.day == yesterday
    kiosk.close()

    listener = Listener(broker.url, TOPICS.board, TOPICS.called, TOPICS.received)
    try:
        with running(site_config, db, clock=Clock(0, synced=False)) as caller:
            assert caller.engine.day == yesterday                  # the keeper alone would stay
            fresh = ticket("1001", "dat-dai", day=day.isoformat())
            listener.publish(K1, encode(fresh))
            assert listener.wait_for(lambda li: (b := latest(li, TOPICS.board, Board)) is not None
                                     and b.day == day.isoformat() and b.waiting.get("dat-dai") == 1)
            listener.publish(TOPICS.counter_cmd("1"), press())
            assert listener.wait_for(lambda li: li.payloads(TOPICS.called))
            called = Called.decode(listener.payloads(TOPICS.called)[0])
            assert called.number == "1001" and caller.engine.tickets[
                caller.engine.counters["1"].current].id == fresh.id

            late = ticket("1004", "dat-dai", day=yesterday, ago_s=20)   # a kiosk 20 s behind the hub
            listener.publish(K1, encode(late))
            assert listener.wait_for(lambda li: any(
                Received.decode(p).refused.get(late.id) == "expired" for p in li.payloads(TOPICS.received)))
            assert len(listener.payloads(TOPICS.called)) == 1
    finally:
        listener.close()
    assert f"service day {day.isoformat()} begins" in caplog.text
    assert "ticket 1004 expired" in caplog.text


def test_tickets_of_a_later_day_are_held_while_the_hubs_clock_disagrees(
        broker, site_config: Path, tmp_path: Path, caplog) -> None:
    """Item 8, the other way: the hub's clock still reads yesterday (no network time, no RTC):
    today's tickets are held out of yesterday's queue, never called into it, and logged."""
    caplog.set_level(logging.INFO)
    day = today(site_config)
    yesterday = (day - timedelta(days=1)).isoformat()
    listener = Listener(broker.url, TOPICS.board, TOPICS.called)
    try:
        with running(site_config, tmp_path / "caller.db", clock=Clock(-86400, synced=False)) as caller:
            listener.publish(K1, encode(ticket("1007", "dat-dai", day=yesterday, ago_s=86400)))
            listener.publish(K1, encode(ticket("1001", "dat-dai", day=day.isoformat())))
            assert eventually(lambda: len(caller.engine.later) == 1)
            for _ in range(2):
                listener.publish(TOPICS.counter_cmd("1"), press())
            assert listener.wait_for(lambda li: len(li.payloads(TOPICS.called)) == 1)
            assert eventually(lambda: caller.counts["events"] == 4)
            assert [Called.decode(p).number for p in listener.payloads(TOPICS.called)] == ["1007"]
            assert latest(listener, TOPICS.board, Board).waiting.get("dat-dai") == 0
            assert caller.engine.day == yesterday
    finally:
        listener.close()
    assert f"tickets printed for {day.isoformat()}, this hub's clock reads {yesterday}" in caplog.text


def test_a_number_the_queue_holds_for_the_day_is_refused_from_another_ticket(
        broker, site_config: Path, tmp_path: Path) -> None:
    """Item 5: a kiosk that lost its database issues 1001 again the same day: the caller keeps
    the first 1001 and tells the kiosk the second is a duplicate number."""
    day = today(site_config).isoformat()
    listener = Listener(broker.url, TOPICS.board, TOPICS.received)
    try:
        with running(site_config, tmp_path / "caller.db"):
            first, second = ticket("1001", "dat-dai", day=day), ticket("1001", "dat-dai", day=day)
            # Another service's ticket is taken (its numbers are its own range; that a number
            # is a duplicate only within its service: test_two_days_never_share_a_queue).
            other = ticket("2001", "tu-phap", day=day)
            for t in (first, second, other):
                listener.publish(K1, encode(t))
            assert listener.wait_for(lambda li: any(
                Received.decode(p).refused.get(second.id) == "duplicate_number"
                for p in li.payloads(TOPICS.received)))
            assert listener.wait_for(lambda li: (b := latest(li, TOPICS.board, Board)) is not None
                                     and b.waiting.get("dat-dai") == 1 and b.waiting.get("tu-phap") == 1)
    finally:
        listener.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a disk that really fills (root only)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of the file system."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_refuses_work_visibly_keeps_what_was_acked_and_recovers(
        broker, site_config: Path, small_disk: Path, caplog) -> None:
    """Item 5, the caller's part: the event log's disk fills. The caller does not crash (no
    restart loop), says in its heartbeat and status that it refuses work, never shows a state
    it has not saved, loses nothing it acknowledged, and takes the waiting messages once the
    disk has room again."""
    caplog.set_level(logging.INFO)
    day = today(site_config).isoformat()
    listener = Listener(broker.url, TOPICS.board, TOPICS.heartbeat, TOPICS.received, TOPICS.called,
                        TOPICS.status("caller", "hub"))
    try:
        with running(site_config, small_disk / "caller.db") as caller:
            before = [ticket(str(1001 + i), "dat-dai", day=day) for i in range(3)]
            for t in before:
                listener.publish(K1, encode(t))
            assert listener.wait_for(lambda li: latest(li, TOPICS.board, Board).waiting.get("dat-dai") == 3)
            assert listener.wait_for(lambda li: {t.id for t in before} <= confirmed(li))

            filler = fill(small_disk)
            during = [ticket(str(1004 + i), "dat-dai", day=day) for i in range(20)]
            for t in during:
                listener.publish(K1, encode(t))
            listener.publish(TOPICS.counter_cmd("1"), press())
            assert listener.wait_for(lambda li: (h := latest(li, TOPICS.heartbeat, Heartbeat)) is not None
                                     and not h.accepting, timeout=15), caplog.text[-3000:]
            assert "cannot be written" in latest(listener, TOPICS.heartbeat, Heartbeat).reason
            # No board ever showed a state the log does not hold: at most the 3 saved tickets,
            # plus those of the 20 that made it before the disk was full (saved, then shown).
            assert eventually(lambda: caller.refusing is not None)
            with sqlite3.connect(small_disk / "caller.db") as db:
                saved = db.execute("SELECT count(*) FROM events WHERE kind = 'ticket'").fetchone()[0]
            shown = max(Board.decode(p).waiting.get("dat-dai", 0) for p in listener.payloads(TOPICS.board))
            assert shown <= saved < 23

            os.unlink(filler)                                   # room again
            assert listener.wait_for(lambda li: (b := latest(li, TOPICS.board, Board)) is not None
                                     and b.calls and b.waiting.get("dat-dai") == 22, timeout=30), \
                caplog.text[-3000:]
            assert latest(listener, TOPICS.heartbeat, Heartbeat).accepting or listener.wait_for(
                lambda li: latest(li, TOPICS.heartbeat, Heartbeat).accepting)
            assert listener.wait_for(lambda li: {t.id for t in before + during} <= confirmed(li))
            # The call is announced after the fsync, the board just after the commit.
            assert listener.wait_for(lambda li: [Called.decode(p).number for p in
                                                 li.payloads(TOPICS.called)] == ["1001"])
    finally:
        listener.close()
    assert caplog.text.count("cannot be written (") == 1         # said once, not a loop
    assert "can be written again" in caplog.text


def logged_events(site_config: Path, db: Path, count: int) -> list[str]:
    """An event log with ``count`` tickets, as a caller killed mid-day leaves it (its WAL
    not checkpointed): the files are copied while the log is still open."""
    from motcua.caller.engine import Event
    from motcua.caller.store import EventStore

    work = db.parent / "live"
    work.mkdir()
    store = EventStore(work / db.name, sync_apart=True)
    day = today(site_config).isoformat()
    now = datetime.now().astimezone()
    store.append(Event("day", f"day:{day}", now, day=day, carry=()))
    store.commit()
    ids = []
    for i in range(count):
        t = ticket(str(1001 + i), "dat-dai", day=day)
        store.append(Event("ticket", t.id, now, ticket=t))
        store.commit()                       # one commit (a few WAL frames) per ticket
        ids.append(t.id)
    store.sync()
    for suffix in ("", "-wal"):
        Path(f"{db}{suffix}").write_bytes(Path(f"{work / db.name}{suffix}").read_bytes())
    store.close()
    return ids


def test_a_damaged_wal_frame_is_reported_and_the_log_kept_aside(site_config: Path, tmp_path: Path,
                                                                caplog) -> None:
    """Item 5: a flipped byte in a WAL frame makes SQLite drop every later frame without a
    word. The caller says so, keeps a copy of the files, and goes on with what is whole."""
    caplog.set_level(logging.INFO)
    db = tmp_path / "caller.db"
    ids = logged_events(site_config, db, 20)
    wal = bytearray(Path(f"{db}-wal").read_bytes())
    page_size = int.from_bytes(wal[8:12], "big")
    frames = (len(wal) - 32) // (24 + page_size)
    middle = 32 + (frames // 2) * (24 + page_size) + 24 + 100      # a byte of a page in the middle
    wal[middle] ^= 0xFF
    Path(f"{db}-wal").write_bytes(bytes(wal))
    caller = Caller(load_config(site_config), db=db, audio="none")
    try:
        kept = set(caller.engine.tickets)
        assert kept < set(ids)                                      # what SQLite could read
        assert "damaged at frame" in caller.damage and "cannot be read" in caller.damage
        assert "event log damaged" in caplog.text
        copies = sorted(tmp_path.glob("caller.db.damaged-*"))
        assert [p.name.endswith("-wal") for p in copies] == [False, True]
        assert Path(f"{copies[1]}").read_bytes() == bytes(wal)      # the evidence, unchanged
    finally:
        caller.store.close()


def test_a_zeroed_page_is_set_aside_with_a_clear_message(site_config: Path, tmp_path: Path,
                                                         caplog) -> None:
    """Item 5: pages of zeros in the event log were a traceback at every start (a restart
    loop). The caller sets the file aside, says where, and starts an empty log."""
    from motcua.caller.store import EventStore

    caplog.set_level(logging.INFO)
    db = tmp_path / "caller.db"
    logged_events(site_config, db, 300)
    EventStore(db).close()                     # checkpointed into the database file
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 16 * page
    data[-4 * page:] = bytes(4 * page)         # the last pages: the day's newest events
    db.write_bytes(bytes(data))
    caller = Caller(load_config(site_config), db=db, audio="none")
    try:
        assert caller.engine.day is None and not caller.engine.tickets
        assert "cannot be read" in caller.damage and "set aside as caller.db.damaged-" in caller.damage
        assert "starting an empty event log" in caplog.text
        assert "Traceback" not in caplog.text
        assert len(list(tmp_path.glob("caller.db.damaged-*"))) == 1
    finally:
        caller.store.close()


@pytest.mark.parametrize("index, met", [("sqlite_autoindex_tickets_1", "at the first write"),
                                          ("sqlite_autoindex_events_1", "by the start's name erasing")])
def test_a_damaged_page_met_after_the_start_ends_the_caller_once_and_is_set_aside(
        broker, site_config: Path, tmp_path: Path, caplog, index: str, met: str) -> None:
    """Item 5: damage the replay does not read (an index) is met later. Waiting would not heal
    it, and a traceback at every start would be a restart loop: the caller leaves a mark and
    ends once; its next start checks the whole file, sets it aside and takes work again. A
    ticket it had not acknowledged comes back."""
    from motcua.caller.store import EventStore

    caplog.set_level(logging.INFO)
    db = tmp_path / "caller.db"
    logged_events(site_config, db, 300)
    EventStore(db).close()
    with sqlite3.connect(db) as check:
        root = check.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
    data = bytearray(db.read_bytes())
    data[(root - 1) * 4096:root * 4096] = bytes(4096)
    db.write_bytes(bytes(data))

    caller = Caller(load_config(site_config), db=db, audio="none")
    assert not caller.damage                         # the replay did not need that page
    failed: list[Exception] = []

    def serve() -> None:
        try:
            caller.serve(threading.Event())
        except Exception as exc:
            failed.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    listener = Listener(broker.url, TOPICS.board, TOPICS.received)
    fresh = ticket("1301", "dat-dai", day=today(site_config).isoformat())
    try:
        assert eventually(lambda: caller.link.connected.is_set() or not thread.is_alive())
        if thread.is_alive():                        # met at the first write
            listener.publish(K1, encode(fresh))
        thread.join(15)
        assert not thread.is_alive() and "is damaged" in str(failed[0]), met
        assert Path(f"{db}.check").exists()
        with running(site_config, db) as again:
            assert "set aside as caller.db.damaged-" in again.damage
            assert not Path(f"{db}.check").exists()
            if fresh.id not in again.engine.tickets:
                listener.publish(K1, encode(fresh))
            assert listener.wait_for(lambda li: fresh.id in confirmed(li), timeout=20)
            assert eventually(lambda: fresh.id in again.engine.tickets)
    finally:
        listener.close()
    assert "starting an empty event log" in caplog.text
