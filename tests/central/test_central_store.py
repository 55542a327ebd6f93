"""The centre's PostgreSQL (a real server): migrations, idempotent writes, positions."""

from __future__ import annotations

import psycopg
import pytest
from motcua.central.store import CentralStore, migrations

from motcua.protocol import HistoryEvent, HistoryKind, Status


def event(seq: int, site: str = "xa-a") -> HistoryEvent:
    return HistoryEvent(site=site, seq=seq, prev=seq - 1, id=f"{seq:032x}",
                        kind=HistoryKind.TICKET, at="2026-11-30T08:00:00+07:00",
                        body={"id": f"{seq:032x}", "service": "dat-dai", "number": str(seq)})


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
    assert store.write([event(1), event(2)], {"xa-a": (2, 2)}) == 2
    assert store.write([event(1), event(2), event(3)], {"xa-a": (3, 3)}) == 1
    with psycopg.connect(pg_dsn) as db:
        rows = db.execute("SELECT site, seq, kind, body->>'number' FROM history ORDER BY seq").fetchall()
    assert rows == [("xa-a", 1, "ticket", "1"), ("xa-a", 2, "ticket", "2"), ("xa-a", 3, "ticket", "3")]
    assert store.positions() == {"xa-a": 3}
    # Positions never go back, even if an older batch is written again.
    store.write([], {"xa-a": (1, 1)})
    assert store.positions() == {"xa-a": 3}
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
    store.write([event(1)], {"xa-a": (1, 1)})
    with psycopg.connect(pg_dsn) as db:
        assert db.execute("SELECT count(*) FROM history").fetchone()[0] == 1
    store.close()
