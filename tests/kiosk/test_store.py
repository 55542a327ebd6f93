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
