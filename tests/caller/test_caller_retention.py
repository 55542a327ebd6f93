"""Names older than [privacy] erase_names_after_days leave every table; the counts stay."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from motcua.caller.engine import Engine, Event
from motcua.caller.retention import erase_names
from motcua.caller.store import EventStore

from motcua.protocol import Ticket

TZ = timezone(timedelta(hours=7))


def ticket(day: str, number: str, name: str) -> Ticket:
    return Ticket(id=f"{day}-{number}", service="dat-dai", number=number, seq=int(number), day=day,
                  issued_at=f"{day}T08:00:00+07:00", kiosk="k1", name=name)


def test_old_names_are_erased_everywhere_and_counts_stay(tmp_path: Path) -> None:
    db = tmp_path / "caller.db"
    store = EventStore(db)
    engine = Engine({"1": ("dat-dai",)})
    for day, names in (("2026-10-01", ["Nguyễn Văn An", "Trần Thị Bình"]),
                       ("2026-11-28", ["Lê Văn Cường"])):
        at = datetime.fromisoformat(f"{day}T07:00:00+07:00")
        outcome = engine.start_day(day, at)
        store.append(Event("day", f"day:{day}", at, day=day, carry=outcome.carry))
        for i, name in enumerate(names):
            event = Event("ticket", f"{day}-{i}", at, ticket=ticket(day, str(1001 + i), name))
            store.append(event)
            store.save_tickets(engine.apply(event).tickets)
        store.commit()

    erased = erase_names(store.db, "2026-10-29")       # 30 days before 2026-11-28
    assert erased >= 4                                 # two ticket rows, two event bodies
    with sqlite3.connect(db) as check:
        names = check.execute("SELECT day, name FROM tickets ORDER BY day, number").fetchall()
        bodies = " ".join(b for (b,) in check.execute("SELECT body FROM events"))
    assert names == [("2026-10-01", None), ("2026-10-01", None), ("2026-11-28", "Lê Văn Cường")]
    assert "Nguyễn Văn An" not in bodies and "Trần Thị Bình" not in bodies
    assert "Lê Văn Cường" in bodies
    files = b"".join(path.read_bytes() for path in tmp_path.glob("caller.db*"))
    for gone in ("Nguyễn Văn An", "Trần Thị Bình"):
        assert gone.encode() not in files, "not even in free pages or the WAL"
    assert "Lê Văn Cường".encode() in files
    # Replaying the log still works: the erased tickets keep their numbers and times.
    replayed = Engine({"1": ("dat-dai",)})
    for event in EventStore(db).replay():
        replayed.apply(event)
    assert any(t.number == "1001" for t in replayed.tickets.values())
