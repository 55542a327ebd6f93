"""The event log: duplicates refused by id, state rebuilt by replay, ticket history kept."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from caller_helpers import DAY, T0, command, replay, ticket
from motcua.caller.engine import Engine, Event
from motcua.caller.store import EventStore

from motcua.protocol import Rating, new_id

COUNTERS = {"1": ("a",), "2": ("a", "b")}


class Office:
    """The daemon's order of work without MQTT: log, apply, save history, commit."""

    def __init__(self, path: Path) -> None:
        self.store = EventStore(path)
        self.engine = replay(list(self.store.replay()), COUNTERS)
        self.clock = T0

    def tick(self):
        self.clock += timedelta(seconds=30)
        return self.clock

    def feed(self, event: Event) -> bool:
        if not self.store.append(event):
            return False
        outcome = self.engine.apply(event)
        self.store.save_tickets(outcome.tickets)
        self.store.commit()
        return True

    def ticket(self, number: str, service: str = "a", **kw) -> Event:
        t = ticket(number, service, at=self.clock, **kw)
        event = Event("ticket", t.id, self.tick(), ticket=t)
        self.feed(event)
        return event

    def press(self, counter: str, action: str, target: str | None = None) -> Event:
        c = command(action, target)
        event = Event("command", c.id, self.tick(), counter=counter, command=c)
        self.feed(event)
        return event

    def new_day(self, day: str) -> None:
        at = self.tick()
        outcome = self.engine.start_day(day, at)
        self.store.append(Event("day", f"day:{day}", at, day=day, carry=outcome.carry))
        self.store.save_tickets(outcome.tickets)
        self.store.commit()


def test_a_duplicate_is_refused_by_the_log_even_on_a_later_day(tmp_path: Path) -> None:
    office = Office(tmp_path / "caller.db")
    office.new_day(DAY)
    first = office.ticket("1001", name="Nguyễn Văn An")
    press = office.press("1", "next")
    office.new_day("2026-11-29")
    before = office.engine.snapshot()
    assert not office.feed(first)
    assert not office.feed(press)
    assert office.engine.snapshot() == before
    assert office.store.count("ticket") == 1 and office.store.count("command") == 1


def test_replay_after_restart_rebuilds_the_same_state(tmp_path: Path) -> None:
    path = tmp_path / "caller.db"
    office = Office(path)
    office.new_day(DAY)
    for i in range(6):
        office.ticket(f"100{i}", priority=i == 4, name="Trần Thị Bình" if i == 2 else None)
    office.ticket("2001", "b")
    office.press("1", "next")
    office.press("1", "skip")
    office.press("2", "next")
    office.press("2", "transfer", "b")
    office.press("1", "next")
    office.press("1", "done")
    office.feed(Event("rating", new_id(), office.tick(), counter="1", rating=Rating(new_id(), 1)))
    office.press("2", "pause")
    office.ticket("1009", day="2026-11-29")            # a kiosk already in the next day
    office.new_day("2026-11-29")
    office.ticket("1001", day="2026-11-29")
    office.press("1", "next")
    office.store.close()

    restarted = Office(path)
    assert restarted.engine.snapshot() == office.engine.snapshot()
    assert [t.number for t in restarted.engine.tickets.values()] == ["1009", "1001"]
    # Only today's part of the log was read: the day marker carried 1009 over.
    assert len(list(restarted.store.replay())) == 3


def test_every_ticket_keeps_its_times_for_reports(tmp_path: Path) -> None:
    office = Office(tmp_path / "caller.db")
    office.new_day(DAY)
    office.ticket("1001")
    office.ticket("1002")
    office.press("1", "next")
    office.press("1", "recall")
    office.press("1", "next")
    office.feed(Event("rating", new_id(), office.tick(), counter="1", rating=Rating(new_id(), 2)))
    office.new_day("2026-11-29")
    rows = sqlite3.connect(tmp_path / "caller.db").execute(
        "SELECT number, status, counter, called_at, recalled_at, served_at, done_at, expired_at, "
        "rating FROM tickets ORDER BY number").fetchall()
    first, second = rows
    assert first[:3] == ("1001", "done", "1")
    assert all(first[3:7]) and first[7] is None
    assert first[8] == 2, "the rating belongs to the ticket counter 1 finished last"
    assert first[5] == first[4], "served from the recall the citizen answered"
    assert second[:3] == ("1002", "expired", "1") and second[6] is None and second[7]
    assert second[8] is None


def test_engine_alone_rebuilds_from_a_store_written_by_an_earlier_run(tmp_path: Path) -> None:
    office = Office(tmp_path / "caller.db")
    office.new_day(DAY)
    office.ticket("1001")
    office.press("2", "next")
    office.store.close()
    engine = Engine(COUNTERS)
    for event in EventStore(tmp_path / "caller.db").replay():
        engine.apply(event)
    assert engine.counters["2"].current is not None and engine.day == DAY


def test_sync_apart_commits_to_the_wal_and_sync_puts_it_on_disk(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "caller.db", sync_apart=True)
    assert store.db.execute("PRAGMA synchronous").fetchone() == (1,)     # NORMAL: no fsync in COMMIT
    for i in range(3):
        store.append(Event("ticket", f"t{i}", T0, ticket=ticket(f"100{i}")))
        store.commit()
        store.sync()                                  # opens the WAL once, then fsyncs it
    wal = tmp_path / "caller.db-wal"
    assert wal.stat().st_size > 0 and store._wal_fd is not None
    store.close()
    # Another process (a restart) reads what was committed.
    reopened = EventStore(tmp_path / "caller.db")
    assert [e.id for e in reopened.replay()] == ["t0", "t1", "t2"]
    reopened.close()


def test_sync_right_after_a_restart_needs_no_write_first(tmp_path: Path) -> None:
    EventStore(tmp_path / "caller.db").close()            # made, closed: the WAL file is gone
    store = EventStore(tmp_path / "caller.db", sync_apart=True)   # (SQLite makes it on open)
    store.sync()
    store.close()


def test_sync_apart_leaves_checkpoints_to_checkpoint(tmp_path: Path) -> None:
    """The owner's commits never checkpoint (that fsyncs twice); ``checkpoint`` does it."""
    store = EventStore(tmp_path / "caller.db", sync_apart=True)
    database, wal = tmp_path / "caller.db", tmp_path / "caller.db-wal"
    size_before = database.stat().st_size
    for i in range(1200):       # over SQLite's 1,000-page auto-checkpoint: a page a commit at least
        store.append(Event("ticket", f"t{i}", T0, ticket=ticket(str(1000 + i))))
        store.commit()
    assert database.stat().st_size == size_before, "a commit checkpointed"
    assert wal.stat().st_size > 1000 * 4096
    frames, copied = store.checkpoint()
    assert frames >= 1200 and copied == frames
    assert database.stat().st_size > size_before
    store.append(Event("ticket", "after", T0, ticket=ticket("9999")))
    store.commit()              # all was copied: this commit rewinds the WAL and cuts it back
    assert wal.stat().st_size <= 4 * 1024 * 1024
    store.close()
    reopened = EventStore(tmp_path / "caller.db")
    assert len(list(reopened.replay())) == 1201
    reopened.close()
