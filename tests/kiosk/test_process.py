"""The kiosk as its own process: keys on stdin, kill -9 between commit and print, SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from kiosk_rig import kiosk_config
from rig import KioskProcess, Listener

from motcua.protocol import Ticket, Topics

TOPICS = Topics("liem-chung")
CUT = b"\x1bd\x05\x1dV\x00"          # feed and full cut: one per ticket


def test_kill_9_between_commit_and_print_never_reuses_a_number(tmp_path: Path, broker, printer,
                                                               soak: bool) -> None:
    """kill -9 after the number is on disk and before printing (--soak: 100 times, as issue 9 asks)."""
    config = kiosk_config(tmp_path, broker.url, printer.spec, "hold_off_ms = 0")
    listener = Listener(broker.url, TOPICS.ticket_from("k1"))
    rounds = 100 if soak else 20
    for index in range(rounds):
        kiosk = KioskProcess(config, tmp_path / f"kiosk-{index}.log", hold="allocated")
        kiosk.keys("1" if index % 2 == 0 else "4")
        assert kiosk.wait_log("holding ticket"), (tmp_path / f"kiosk-{index}.log").read_text()
        kiosk.process.send_signal(signal.SIGKILL)
        kiosk.process.wait(10)
    kiosk = KioskProcess(config, tmp_path / "kiosk-last.log")
    assert kiosk.wait_log("ready")
    kiosk.keys("1")
    assert listener.wait_for(lambda lst: len(lst.payloads(TOPICS.ticket_from("k1"))) >= 1)
    kiosk.keys("4")
    assert listener.wait_for(lambda lst: len(lst.payloads(TOPICS.ticket_from("k1"))) >= 2)
    kiosk.process.terminate()
    assert kiosk.process.wait(10) == 0
    held_dat_dai, held_chung_thuc = (rounds + 1) // 2, rounds // 2
    log = kiosk.log.read_text(encoding="utf-8")
    void = "was allocated but its printing never began (interrupted): void"
    assert f"ticket {1000 + held_dat_dai} {void}" in log or f"ticket C{held_chung_thuc:03d} {void}" in log
    expected = [str(1001 + held_dat_dai), f"C{held_chung_thuc + 1:03d}"]
    assert [Ticket.decode(p).number for p in listener.payloads(TOPICS.ticket_from("k1"))] == expected
    with sqlite3.connect(tmp_path / "state" / "kiosk-k1.db") as db:
        rows = db.execute("SELECT number, state FROM tickets ORDER BY n").fetchall()
    numbers = [number for number, _ in rows]
    assert len(numbers) == len(set(numbers)) == rounds + 2, "no number was issued twice"
    assert [state for _, state in rows] == ["void"] * rounds + ["printed", "printed"]
    assert printer.data().count(CUT) == 2          # the held tickets never reached the printer
    listener.close()
