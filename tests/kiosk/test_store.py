"""The SQLite store: committed numbers, voids, the outbox, the saved day."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from motcua.kiosk.numbering import NumberRange, RangeExhausted
from motcua.kiosk.store import TicketStore

DAY = date(2025, 6, 10)
RANGE = NumberRange("chung-thuc", 1, 3, "C", "stop", width=3)


@pytest.fixture
def store(tmp_path: Path):
    s = TicketStore(tmp_path / "kiosk.db")
    yield s
    s.close()


def take(store: TicketStore, ticket_id: str, day: date = DAY, numbers: NumberRange = RANGE):
    return store.allocate(ticket_id, numbers, day, priority=False, at="2025-06-10T08:00:00+07:00")


def test_wal_and_full_sync(store: TicketStore) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL


def test_an_allocation_is_on_disk_before_it_is_returned(store: TicketStore, tmp_path: Path) -> None:
    ticket = take(store, "t1")
    other = sqlite3.connect(tmp_path / "kiosk.db")      # another reader sees it committed
    assert other.execute("SELECT number, state FROM tickets").fetchall() == [("C001", "allocated")]
    assert ticket.number == "C001" and ticket.seq == 1


def test_numbers_follow_on_void_ones_are_not_reused_and_stop_at_the_end(store: TicketStore) -> None:
    first = take(store, "t1")
    store.mark_void(first.id, "paper_out")
    assert take(store, "t2").number == "C002"
    assert take(store, "t3").number == "C003"
    with pytest.raises(RangeExhausted):
        take(store, "t4")
    assert take(store, "t5", date(2025, 6, 11)).number == "C001"   # a new day starts again


def test_wrap_comes_back_to_the_first(store: TicketStore) -> None:
    wrap = NumberRange("dat-dai", 1001, 1002, on_exhausted="wrap", width=4)
    assert [take(store, f"t{i}", numbers=wrap).number for i in range(3)] == ["1001", "1002", "1001"]


def test_interrupted_allocations_become_void_at_start(tmp_path: Path) -> None:
    store = TicketStore(tmp_path / "kiosk.db")
    printed = take(store, "t1")
    store.mark_printed(printed.id, b"{}")
    take(store, "t2")
    store.close()
    again = TicketStore(tmp_path / "kiosk.db")
    assert again.void_interrupted() == ["C002"]
    assert again.state_of("t2") == "void" and again.state_of("t1") == "printed"
    assert take(again, "t3").number == "C003"
    again.close()


def test_printed_goes_into_the_outbox_and_leaves_on_delivery(store: TicketStore) -> None:
    rows = [store.mark_printed(take(store, f"t{i}").id, f"p{i}".encode()) for i in range(3)]
    assert [r.payload for r in store.outbox()] == [b"p0", b"p1", b"p2"]
    store.delivered(rows[1].n)
    assert [r.ticket_id for r in store.outbox()] == ["t0", "t2"]


def test_the_saved_day_never_goes_back(store: TicketStore) -> None:
    assert store.last_day() is None
    store.save_day(date(2025, 6, 11))
    store.save_day(date(2025, 6, 9))
    assert store.last_day() == date(2025, 6, 11)
    take(store, "t1", date(2025, 6, 12))
    assert store.last_day() == date(2025, 6, 12)


def test_an_intent_survives_a_restart_and_only_unstarted_numbers_are_void(tmp_path: Path) -> None:
    store = TicketStore(tmp_path / "kiosk.db")
    take(store, "unstarted")
    store.begin_print(take(store, "started").id, b'{"number":"C002"}')
    store.begin_print(take(store, "failed").id, b"{}")
    store.mark_void("failed", "offline")
    store.close()
    again = TicketStore(tmp_path / "kiosk.db")
    assert again.void_interrupted() == ["C001"]
    [intent] = again.intents()
    assert (intent.ticket_id, intent.number, intent.payload) == ("started", "C002", b'{"number":"C002"}')
    again.mark_printed("started", b"doubt")
    assert again.intents() == [] and again.state_of("started") == "printed"
    assert [row.payload for row in again.outbox()] == [b"doubt"]
    again.close()


def test_a_full_database_raises_storage_error_and_changes_nothing(store: TicketStore) -> None:
    from motcua.kiosk.store import StorageError

    take(store, "t1")
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")      # SQLite's own "database or disk is full"
    with pytest.raises(StorageError, match="database or disk is full"):
        store.mark_printed("t1", b"x" * 20000)
    assert store.state_of("t1") == "allocated" and store.outbox() == []
    store.db.execute("PRAGMA max_page_count = 1000000")
    store.probe()
    store.mark_printed("t1", b"x" * 20000)
    assert store.state_of("t1") == "printed"


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00" + b"\xff" * 200, b"not a database" * 100])
def test_an_empty_or_damaged_file_is_set_aside_and_a_new_one_started(tmp_path: Path, content: bytes,
                                                                     caplog) -> None:
    path = tmp_path / "kiosk.db"
    path.write_bytes(content)
    store = TicketStore(path)
    assert store.new and store.set_aside is not None and store.set_aside.read_bytes() == content
    assert "was set aside as kiosk.db.damaged-" in caplog.text
    assert take(store, "t1").number == "C001"
    store.close()
    assert not TicketStore(path).new                   # the new file is kept from now on


def test_missing_numbers_are_recorded_as_lost_and_numbering_goes_on(store: TicketStore) -> None:
    wide = NumberRange("dat-dai", 1001, 1999, width=4)
    take(store, "t1", numbers=wide)
    assert store.issued(DAY) == ({"dat-dai": 1001}, {"dat-dai": 1})
    assert store.add_lost(wide, DAY, 1004, 3, at="2025-06-10T09:00:00+07:00") == ["1002", "1003", "1004"]
    assert store.issued(DAY) == ({"dat-dai": 1004}, {"dat-dai": 4})
    assert take(store, "t2", numbers=wide).number == "1005"
