"""Issue 19, item 5 (the kiosk's part): a lost, emptied or damaged kiosk database.

The kiosk (its own process, real Mosquitto, FakePrinter) issues 1001-1003 and C001, then
its database is deleted, cut to 0 bytes, overwritten with garbage, or a frame of its
write-ahead log is damaged after a kill -9 (SQLite then drops every commit from that
frame on, without an error). Started again, it must never issue a number of that day
twice: it reads back its retained ``kiosk/k1/issued`` record from the broker, records the
numbers its database lacks as lost, and goes on after them. A damaged file is set aside
with a clear log line, never deleted.
"""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest
from rig import FakePrinter, Listener
from test_kiosk_print_kills import TOPICS, KioskProcess, config_for

from motcua.protocol import Issued, Ticket


def issued(listener: Listener) -> list[Ticket]:
    seen: dict[str, Ticket] = {}
    for payload in listener.payloads(TOPICS.ticket_from("k1")):
        ticket = Ticket.decode(payload)
        seen.setdefault(ticket.id, ticket)
    return list(seen.values())


def press_and_wait(kiosk: KioskProcess, listener: Listener, key: str) -> None:
    count = len(issued(listener))
    kiosk.keys(key)
    assert listener.wait_for(lambda lst: len(issued(lst)) > count, 15), kiosk.text()


def damage_wal(path: Path) -> None:
    """Flip bytes in the WAL's second frame: SQLite ignores it and every later commit."""
    wal = Path(f"{path}-wal")
    data = bytearray(wal.read_bytes())
    page = int.from_bytes(data[8:12], "big")
    frame = 32 + (page + 24)                    # the second frame's header
    assert len(data) > frame + 24 + page, "the WAL holds more than one frame"
    for offset in range(frame + 24, frame + 24 + 16):
        data[offset] ^= 0xFF
    wal.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["deleted", "0 bytes", "garbage", "damaged WAL frame"])
def test_a_lost_database_never_issues_a_number_of_the_day_again(tmp_path: Path, broker, damage: str) -> None:
    printer = FakePrinter()
    listener = Listener(broker.url, TOPICS.ticket_from("k1"), TOPICS.kiosk_issued("k1"))
    try:
        config = config_for(tmp_path, broker.url, printer.spec)
        db = tmp_path / "state" / "kiosk-k1.db"
        kiosk = KioskProcess(config, tmp_path / "first.log")
        assert kiosk.wait_log("ready"), kiosk.text()
        for key in "1114":
            press_and_wait(kiosk, listener, key)
        assert listener.wait_for(lambda lst: any(Issued.decode(p).count == {"dat-dai": 3, "chung-thuc": 1}
                                                 for p in lst.payloads(TOPICS.kiosk_issued("k1"))))
        if damage == "damaged WAL frame":
            kiosk.process.send_signal(signal.SIGKILL)
            kiosk.process.wait(10)
            damage_wal(db)
        else:
            kiosk.process.terminate()
            assert kiosk.process.wait(10) == 0
            if damage == "deleted":
                db.unlink()
            elif damage == "0 bytes":
                db.write_bytes(b"")
            else:
                data = bytearray(db.read_bytes())
                data[0:100] = b"\xde\xad" * 50           # the header: not a database any more
                db.write_bytes(bytes(data))

        again = KioskProcess(config, tmp_path / "again.log")
        assert again.wait_log("ready"), again.text()
        press_and_wait(again, listener, "1")
        press_and_wait(again, listener, "4")
        again.process.terminate()
        assert again.process.wait(10) == 0
        log = again.text()

        numbers = [t.number for t in issued(listener)]
        assert len(numbers) == len(set(numbers)), f"a number was issued twice: {numbers}"
        assert numbers == ["1001", "1002", "1003", "C001", "1004", "C002"]
        if damage in ("0 bytes", "garbage"):
            reason = "it is empty (0 bytes)" if damage == "0 bytes" else "it is damaged"
            assert f"the ticket database {db} was set aside as kiosk-k1.db.damaged-" in log
            assert reason in log
            assert len(list(db.parent.glob("kiosk-k1.db.damaged-*"))) >= 1
        if damage in ("deleted", "0 bytes", "garbage"):
            assert "the ticket database is new: no ticket until the broker's record" in log
            assert "3 numbers of dat-dai issued today are missing from the ticket database" in log
        else:
            assert "numbers of dat-dai issued today are missing from the ticket database" in log \
                or "numbers of chung-thuc issued today are missing" in log
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT number FROM tickets").fetchall()
        assert len([n for (n,) in rows if n == "1004"]) == 1
    finally:
        listener.close()
        printer.close()
