"""Issue 19, item 2: kill -9 of the kiosk at every step of the print path.

The kiosk runs as its own process (keys on stdin) against a real Mosquitto and a network
printer on loopback. It is killed (SIGKILL) at one step of printing ticket 1001, then
started again and given one more press. What must hold at every step:

- no number is issued twice: every number the caller hears comes with one ticket id, and
  the next ticket is 1002;
- no ticket that may be on paper is lost: when ticket bytes reached the printer, 1001
  reaches the caller (marked ``doubt`` unless the kiosk had recorded it as printed), and
  the id on the paper (its QR code, decoded from the printer's bytes) is the id sent;
- what never reached the printer is never sent unmarked: killed before the intent to
  print was recorded, 1001 is void; after the intent (bytes may or may not follow) it is
  sent marked in doubt.
"""

from __future__ import annotations

import importlib.util
import re
import socket
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from motcua.kiosk.printer import PRINTER_STATUS
from rig import FakePrinter, KioskProcess, Listener, eventually, write_site_config

from motcua.protocol import Ticket, Topics

pytestmark = pytest.mark.broker

TOPICS = Topics("liem-chung")
K1_TICKETS = TOPICS.ticket_from("k1")     # kiosk k1 prints on its own topic
CUT = b"\x1bd\x05\x1dV\x00"          # feed and full cut: one per ticket
STALL_AFTER = 1500                   # mid-bytes: the printer stops reading after this many


def _decoder():
    path = Path(__file__).resolve().parents[1] / "kiosk_print" / "escpos_decoder.py"
    spec = importlib.util.spec_from_file_location("escpos_decoder_for_faults", path)
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module             # dataclasses look their module up
        assert spec.loader is not None
        spec.loader.exec_module(module)
    return module


class StallingPrinter(FakePrinter):
    """The FakePrinter, except that the first connection carrying ticket data stops reading
    after STALL_AFTER bytes (the printer jammed mid-ticket); ``on_stall`` then runs on its
    thread, while the ticket is half-way into the printer."""

    def __init__(self) -> None:
        self.stalled = threading.Event()
        self.on_stall: Callable[[], None] | None = None
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        if self.stalled.is_set():
            super()._handle(conn)
            return
        job = bytearray()
        with self.received:
            self.jobs.append(job)
        with conn:
            while len(job) < STALL_AFTER:
                chunk = conn.recv(min(256, STALL_AFTER - len(job)))
                if not chunk:
                    return
                with self.received:
                    job.extend(chunk)
                    self.received.notify_all()
                for reply in self._status_replies(chunk):
                    conn.sendall(reply)
            if re.sub(rb"\x10\x04[\x01-\x04]", b"", bytes(job)):     # ticket bytes, not only status
                self.stalled.set()
                if self.on_stall is not None:
                    self.on_stall()
                while conn.recv(0) is not None and not self._stopped.wait(0.05):   # hold, never read
                    pass


class FilePrinter:
    """A printer as a device file (a USB printer's /dev/usb/lp0): it stays open between
    tickets, so the kiosk logs nothing from a press to its number's commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    @property
    def spec(self) -> str:
        return f"file:{self.path}"

    def data(self) -> bytes:
        return self.path.read_bytes()

    def close(self) -> None:
        pass


def config_for(tmp_path: Path, broker_url: str, printer_spec: str) -> Path:
    path = write_site_config(tmp_path, broker_url=broker_url, printer=printer_spec)
    text = re.sub(r'(?m)^(paper = "80mm")$', r"\1\nhold_off_ms = 0", path.read_text(encoding="utf-8"),
                  count=1)
    path.write_text(text, encoding="utf-8")
    return path


def kiosk_db(tmp_path: Path) -> tuple[list[tuple[str, str, str | None]], int]:
    """The kiosk's tickets (number, state, void reason) and how many intents to print it holds."""
    with sqlite3.connect(tmp_path / "state" / "kiosk-k1.db") as db:
        rows = db.execute("SELECT number, state, void_reason FROM tickets ORDER BY n").fetchall()
        return rows, db.execute("SELECT count(*) FROM printing").fetchone()[0]


def ticket_bytes(data: bytes) -> bytes:
    """What a printer received besides real-time status requests."""
    return re.sub(rb"\x10\x04[\x01-\x04]", b"", data)


# step -> (is 1001 sent to the caller, marked in doubt, do its bytes reach the printer in full)
STEPS = {
    "before the intent": (False, False, False),
    "after the intent, before any byte": (True, True, False),
    "mid-bytes": (True, True, False),
    "after the bytes, before marked printed": (True, True, True),
    "after marked printed": (True, False, True),
}


def kill_at(step: str, first: KioskProcess, printer, tmp_path: Path) -> None:
    """Press "1" and kill -9 the kiosk at ``step`` of printing ticket 1001, then check that the
    kill landed there (the kiosk's database, the printer's bytes).

    Each step is reached through a real part: the kiosk's log pipe filled (its next line, the
    one after the number's commit, blocks); the printer not answering the status request that
    opens the ticket's connection (after the intent, before any byte) or the one after the
    ticket (every byte in, not recorded printed yet); the printer jammed mid-ticket.
    """
    killed = threading.Event()

    def kill() -> None:
        if not killed.is_set():
            killed.set()
            first.kill()

    if step == "before the intent":
        first.stall_log()
    elif step == "after the intent, before any byte":
        # The status check before a press's number opens its own connection; the ticket's
        # connection is the first one after the intent is committed.
        printer.on_status = lambda job: kill() if job == PRINTER_STATUS and kiosk_db(tmp_path)[1] else None
    elif step == "mid-bytes":
        printer.on_stall = kill
    elif step == "after the bytes, before marked printed":
        printer.on_status = lambda job: kill() if CUT in job else None
    first.keys("1")
    if step == "before the intent":
        assert eventually(lambda: kiosk_db(tmp_path)[0] != []), first.text()
        kill()
    elif step == "after marked printed":
        assert first.wait_log("ticket 1001 printed"), first.text()
        kill()
    assert eventually(killed.is_set, timeout=20), first.text()
    printer.on_status = None
    rows, intents = kiosk_db(tmp_path)
    paper = printer.data()
    full = paper.count(CUT) == 1
    some = bool(ticket_bytes(paper))
    # step -> (ticket 1001's state, intents to print, what the printer holds)
    expected = {
        "before the intent": ("allocated", 0, not some),
        "after the intent, before any byte": ("allocated", 1, not some),
        "mid-bytes": ("allocated", 1, some and not full),
        "after the bytes, before marked printed": ("allocated", 1, full),
        "after marked printed": ("printed", 0, full),
    }[step]
    assert (rows, intents, True) == ([("1001", expected[0], None)], expected[1], expected[2]), \
        f"killed elsewhere than {step}: {rows}, {intents} intents, {len(paper)} bytes at the printer"


@pytest.mark.parametrize("step", list(STEPS))
def test_kill_9_at_each_step_of_the_print_path(tmp_path: Path, broker, step: str) -> None:
    sent, doubt, on_paper = STEPS[step]
    printer = (StallingPrinter() if step == "mid-bytes" else
               FilePrinter(tmp_path / "lp0") if step == "before the intent" else FakePrinter())
    first = again = None
    try:
        config = config_for(tmp_path, broker.url, printer.spec)
        listener = Listener(broker.url, K1_TICKETS)
        first = KioskProcess(config, tmp_path / "first.log")
        assert first.settled(), first.text()
        kill_at(step, first, printer, tmp_path)

        again = KioskProcess(config, tmp_path / "again.log")
        assert again.wait_log("ready"), again.text()
        again.keys("1")
        assert listener.wait_for(lambda lst: any(Ticket.decode(p).number == "1002"
                                                 for p in lst.payloads(K1_TICKETS)), 20), again.text()
        again.process.terminate()
        assert again.process.wait(10) == 0
        log = again.text()

        by_id = {t.id: t for t in (Ticket.decode(p) for p in listener.payloads(K1_TICKETS))}
        numbers = sorted(t.number for t in by_id.values())
        assert len(numbers) == len(set(numbers)), f"a number was issued twice: {numbers}"
        assert numbers == (["1001", "1002"] if sent else ["1002"])
        assert all(not t.doubt for t in by_id.values() if t.number == "1002")
        with sqlite3.connect(tmp_path / "state" / "kiosk-k1.db") as db:
            rows = db.execute("SELECT number, state, void_reason FROM tickets ORDER BY n").fetchall()
            assert db.execute("SELECT count(*) FROM printing").fetchone() == (0,)
        assert rows == [("1001", "printed" if sent else "void", None if sent else "interrupted"),
                        ("1002", "printed", None)]
        if sent:
            [ticket] = [t for t in by_id.values() if t.number == "1001"]
            assert ticket.doubt is doubt
            if doubt:
                assert "ticket 1001 may have been printed (the kiosk stopped while printing it)" in log
        else:
            assert "ticket 1001 was allocated but its printing never began (interrupted): void" in log

        # The paper, decoded independently: what the printer holds in full, and whose id.
        decoder = _decoder()
        jobs = printer.jobs if isinstance(printer, FakePrinter) else printer.data().split(CUT)[:-1]
        tickets_on_paper = [decoder.decode(bytes(job)) for job in jobs if CUT in job] \
            if isinstance(printer, FakePrinter) else [decoder.decode(job + CUT) for job in jobs]
        paper_ids = [q.data.decode() for d in tickets_on_paper for q in d.of(decoder.Qr)]
        ids = {t.number: t.id for t in by_id.values()}
        assert paper_ids == ([ids["1001"], ids["1002"]] if on_paper else [ids["1002"]])
        if step == "mid-bytes":
            partial = [job for job in printer.jobs if CUT not in job and len(job) >= STALL_AFTER]
            assert partial, "part of ticket 1001 reached the printer before the kill"
        listener.close()
    finally:
        for process in (first, again):
            if process is not None and process.process.poll() is None:
                process.kill()
        printer.close()
