"""Issue 19, item 5 (the kiosk's part): a full disk, for real.

The kiosk's state directory is a small tmpfs; a filler file takes its last byte, so SQLite
gets ENOSPC ("database or disk is full") exactly as on a full SD card. The kiosk runs as
its own process against a real Mosquitto and the FakePrinter. It must not crash: presses
are refused with the reason on its status topic, and it takes tickets again by itself
once the filler is deleted. A ticket printed just before the disk filled up is recorded
and sent once space returns, or, if the kiosk is killed meanwhile, sent marked in doubt.

Mounting a tmpfs needs root (CAP_SYS_ADMIN); without it the tests are skipped, saying so.
"""

from __future__ import annotations

import errno
import os
import subprocess
import threading
from pathlib import Path

import pytest
from rig import FakePrinter, Listener, eventually
from test_kiosk_print_kills import CUT, TOPICS, KioskProcess, config_for

from motcua.protocol import Status, Ticket

pytestmark = pytest.mark.broker


@pytest.fixture
def small_disk(tmp_path: Path):
    """tmp_path/state as a 1 MiB tmpfs; yields a Filler for it."""
    state = tmp_path / "state"
    state.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(state)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for a real full disk: {mounted.stderr.strip()}")
    try:
        yield Filler(state)
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


class Filler:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "filler"

    def fill(self) -> None:
        """Write until the file system refuses: the disk is full."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def free(self) -> None:
        self.path.unlink()


def health(listener: Listener) -> dict:
    payloads = listener.payloads(TOPICS.status("kiosk", "k1"))
    return Status.decode(payloads[-1]).health if payloads else {}


def numbers(listener: Listener) -> list[tuple[str, bool]]:
    seen: dict[str, Ticket] = {}
    for payload in listener.payloads(TOPICS.ticket_from("k1")):
        ticket = Ticket.decode(payload)
        seen.setdefault(ticket.id, ticket)
    return [(t.number, t.doubt) for t in seen.values()]


def test_a_full_disk_refuses_presses_with_a_reason_and_recovers_by_itself(tmp_path: Path, broker,
                                                                           small_disk: Filler) -> None:
    printer = FakePrinter()
    listener = Listener(broker.url, TOPICS.ticket_from("k1"), TOPICS.status("kiosk", "k1"))
    try:
        kiosk = KioskProcess(config_for(tmp_path, broker.url, printer.spec), tmp_path / "kiosk.log")
        assert kiosk.wait_log("ready"), kiosk.text()
        kiosk.keys("1")
        assert listener.wait_for(lambda lst: len(numbers(lst)) == 1, 15), kiosk.text()
        small_disk.fill()
        for _ in range(3):
            kiosk.keys("4")
        assert kiosk.wait_log("database or disk is full: no tickets until it can be written again"), \
            kiosk.text()
        assert listener.wait_for(lambda lst: "full" in health(lst).get("storage", ""), 15)
        assert kiosk.wait_log("no ticket for chung-thuc: the ticket database cannot be written"), kiosk.text()
        assert kiosk.process.poll() is None, "the kiosk did not crash"
        assert printer.data().count(CUT) == 1                 # nothing printed while it could not record
        small_disk.free()
        assert kiosk.wait_log("the ticket database can be written again"), kiosk.text()
        assert listener.wait_for(lambda lst: health(lst).get("storage") == "ok", 15)
        kiosk.keys("4")
        assert listener.wait_for(lambda lst: len(numbers(lst)) == 2, 15), kiosk.text()
        kiosk.process.terminate()
        assert kiosk.process.wait(10) == 0
        assert numbers(listener) == [("1001", False), ("C001", False)]
        assert "Traceback" not in kiosk.text()
    finally:
        listener.close()
        printer.close()


@pytest.mark.parametrize("restart", [False, True], ids=["space returns", "killed before space returns"])
def test_a_ticket_printed_as_the_disk_fills_is_never_voided(tmp_path: Path, broker, small_disk: Filler,
                                                            restart: bool) -> None:
    """The issue's case: ticket 2001 reached the printer in full, then recording it failed."""
    printer = FakePrinter()
    listener = Listener(broker.url, TOPICS.ticket_from("k1"))
    filled = threading.Event()

    def fill_after_the_ticket(job: bytes) -> None:
        # Every byte of the ticket is in and the kiosk waits for the status after it: the disk
        # fills before the printer answers, so recording the printed ticket fails.
        if CUT in job and not filled.is_set():
            small_disk.fill()
            filled.set()

    printer.on_status = fill_after_the_ticket
    try:
        config = config_for(tmp_path, broker.url, printer.spec)
        kiosk = KioskProcess(config, tmp_path / "kiosk.log")
        assert kiosk.wait_log("ready"), kiosk.text()
        kiosk.keys("2")
        assert filled.wait(20), kiosk.text()
        assert printer.data().count(CUT) == 1
        assert kiosk.wait_log("ticket 2001 was printed but cannot be recorded yet"), kiosk.text()
        assert kiosk.process.poll() is None
        if restart:
            kiosk.kill()
            small_disk.free()
            kiosk = KioskProcess(config, tmp_path / "again.log")
            assert kiosk.wait_log("ticket 2001 may have been printed"), kiosk.text()
        else:
            small_disk.free()
            assert kiosk.wait_log("ticket 2001 is recorded as printed now"), kiosk.text()
        assert listener.wait_for(lambda lst: len(numbers(lst)) == 1, 15), kiosk.text()
        kiosk.keys("2")
        assert listener.wait_for(lambda lst: len(numbers(lst)) == 2, 15), kiosk.text()
        kiosk.process.terminate()
        assert kiosk.process.wait(10) == 0
        assert numbers(listener) == [("2001", restart), ("2002", False)]
        assert eventually(lambda: printer.data().count(CUT) == 2)
        assert "void" not in (tmp_path / "kiosk.log").read_text(encoding="utf-8")
    finally:
        listener.close()
        printer.close()
