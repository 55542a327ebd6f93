"""The centre's PostgreSQL (a real server): migrations, idempotent writes, positions."""

from __future__ import annotations

import psycopg
import pytest
from motcua.central.store import CentralStore, migrations

from motcua.protocol import HistoryEvent, HistoryKind, Status


def event(seq: int, site: str = "xa-a", log: str = "", id: str | None = None) -> HistoryEvent:
    id = id or f"{seq:032x}"
    return HistoryEvent(site=site, seq=seq, prev=seq - 1, id=id,
                        kind=HistoryKind.TICKET, at="2026-11-30T08:00:00+07:00",
                        body={"id": id, "service": "dat-dai", "number": str(seq)}, log=log)


def test_migrations_are_numbered_and_applied_once(pg_dsn: str):
    shipped = [version for version, _, _ in migrations()]
    assert shipped[0] == 1
    store = CentralStore(pg_dsn)
    assert store.migrate() == shipped
    assert store.migrate() == []
    assert store.version() == shipped[-1]
    store.close()


def test_a_copy_changes_nothing(pg_dsn: str):
    store = CentralStore(pg_dsn)
    store.migrate()
    assert store.write([event(1), event(2)], {("xa-a", ""): (2, 2)}) == 2
    assert store.write([event(1), event(2), event(3)], {("xa-a", ""): (3, 3)}) == 1
    with psycopg.connect(pg_dsn) as db:
        rows = db.execute("SELECT site, seq, kind, body->>'number' FROM history ORDER BY seq").fetchall()
    assert rows == [("xa-a", 1, "ticket", "1"), ("xa-a", 2, "ticket", "2"), ("xa-a", 3, "ticket", "3")]
    assert store.positions() == {("xa-a", ""): 3}
    # Positions never go back, even if an older batch is written again.
    store.write([], {("xa-a", ""): (1, 1)})
    assert store.positions() == {("xa-a", ""): 3}
    store.close()


def test_device_status_keeps_the_latest(pg_dsn: str):
    store = CentralStore(pg_dsn)
    store.migrate()
    store.write([], {}, [("xa-a", Status("kiosk", "k1", "online", "2026-11-30T08:00:00+07:00",
                                         {"printer": "ok"}))])
    store.write([], {}, [("xa-a", Status("kiosk", "k1", "online", "2026-11-30T08:05:00+07:00",
                                         {"printer": "paper_out"}))])
    with psycopg.connect(pg_dsn) as db:
        rows = db.execute("SELECT device, health->>'printer' FROM device_status").fetchall()
    assert rows == [("k1", "paper_out")]
    store.close()


def test_an_unreachable_database_is_a_clear_error():
    from motcua.central.store import CentralStoreError

    with pytest.raises(CentralStoreError, match=r"127\.0\.0\.1:1/") as raised:
        CentralStore("postgresql://someone:secret@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "secret" not in str(raised.value)


def test_writes_are_committed_after_a_bare_read(pg_dsn: str):
    """A read outside a transaction block must not leave one open (the writes would then be
    savepoints inside it, never committed: the centre process did this once)."""
    store = CentralStore(pg_dsn)
    store.migrate()
    store.version()
    store.write([event(1)], {("xa-a", ""): (1, 1)})
    with psycopg.connect(pg_dsn) as db:
        assert db.execute("SELECT count(*) FROM history").fetchone()[0] == 1
    store.close()


def test_a_new_log_of_a_site_numbers_again_and_its_copies_are_dropped(pg_dsn: str):
    """A hub whose caller.db was replaced sends rows 1, 2, ... again under a new log identity:
    they are new rows; copies within each log still change nothing."""
    store = CentralStore(pg_dsn)
    store.migrate()
    old = [event(1, log="a" * 16), event(2, log="a" * 16)]
    assert store.write(old, {("xa-a", "a" * 16): (2, 2)}, current={"xa-a": "a" * 16}) == 2
    # A day marker has the same id in both logs (day:<date>): each log keeps its own.
    new = [event(1, log="b" * 16, id="day:2026-11-30"), event(2, log="b" * 16)]
    assert store.write(new, {("xa-a", "b" * 16): (2, 2)}, current={"xa-a": "b" * 16}) == 2
    assert store.write([*old, *new], {}) == 0
    with psycopg.connect(pg_dsn) as db:
        rows = db.execute("SELECT log, seq FROM history ORDER BY arrival").fetchall()
        site = db.execute("SELECT log, upto FROM sites").fetchall()
    assert rows == [("a" * 16, 1), ("a" * 16, 2), ("b" * 16, 1), ("b" * 16, 2)]
    assert site == [("b" * 16, 2)]
    assert store.positions() == {("xa-a", "a" * 16): 2, ("xa-a", "b" * 16): 2}
    assert store.current() == {"xa-a": "b" * 16}
    store.close()


def test_an_upgraded_hubs_rows_take_the_identity_of_its_log(pg_dsn: str):
    store = CentralStore(pg_dsn)
    store.migrate()
    store.write([event(1), event(2)], {("xa-a", ""): (2, 2)}, current={"xa-a": ""})
    store.write([event(3, log="c" * 16)], {("xa-a", "c" * 16): (3, 3)},
                current={"xa-a": "c" * 16}, adopted=[("xa-a", "c" * 16)])
    with psycopg.connect(pg_dsn) as db:
        rows = db.execute("SELECT log, seq FROM history ORDER BY seq").fetchall()
    assert rows == [("c" * 16, 1), ("c" * 16, 2), ("c" * 16, 3)]
    assert store.positions() == {("xa-a", "c" * 16): 3}
    store.close()
