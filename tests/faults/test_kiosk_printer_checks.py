"""Issue 19, item 4: printer checks are retried, never switched off for good.

A ticket counts as printed only when the printer took its bytes and, where it answers
status, answered after them with no fault. The network printer here is the rig's
FakePrinter (a TCP socket that keeps every byte) made slow to answer, deaf, out of paper
at the end of a ticket, or still booting; python-escpos talks to it as to a real one.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from motcua.kiosk.printer import SILENT_RETRY_S, PrinterError, TicketPrinter, open_printer
from motcua.kiosk.ticket import TicketView
from rig import FakePrinter, Listener
from test_kiosk_print_kills import CUT, TOPICS, KioskProcess, config_for

from motcua.protocol import Status, Ticket

SLOW_S = 1.3          # the status answer the issue saw


class MoodyPrinter(FakePrinter):
    """The FakePrinter with moods: ``slow`` answers (the first on every connection, or only
    the next one), ``deaf``
    (accepts connections, never reads a byte), ``booting`` (reads, never answers status),
    and ``paper_out_at_cut`` (the paper runs out as a ticket is cut)."""

    def __init__(self) -> None:
        self.slow_all = False
        self._connection = threading.local()          # one handler thread per connection
        self.slow_next = False
        self.deaf = False
        self.booting = False
        self.paper_out_at_cut = False
        self._pause = threading.Event()
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        self._connection.slowed = False
        if self.deaf:
            with self.received:
                self.jobs.append(bytearray())
            with conn:
                self._stopped.wait()
            return
        super()._handle(conn)

    def _status_replies(self, chunk: bytes) -> list[bytes]:
        if CUT in chunk and self.paper_out_at_cut:
            self.paper_out = True
        if self.booting:
            return []
        replies = super()._status_replies(chunk)
        if replies and (self.slow_next or (self.slow_all and not self._connection.slowed)):
            self.slow_next = False
            self._connection.slowed = True
            self._pause.wait(SLOW_S)
        return replies


@pytest.fixture
def moody():
    printer = MoodyPrinter()
    yield printer
    printer.close()


def view(number: str = "1001") -> TicketView:
    from datetime import datetime

    return TicketView(office="UBND xã Liêm Chung", unit="Bộ phận Một cửa", service_name="Đất đai",
                      number=number, priority=False, waiting_ahead=None, wait_estimate_min=None,
                      name=None, issued_at=datetime(2026, 11, 30, 8, 0), ticket_id="a" * 32,
                      footer="Xin cảm ơn!", paper="80mm")


def test_slow_answers_keep_the_checks_on_and_paper_out_is_seen(moody: MoodyPrinter) -> None:
    moody.slow_all = True
    device = open_printer(moody.spec, "80mm")
    assert device.status() == "ok"
    device.print_ticket(view())
    moody.paper_out = True
    assert device.status() == "paper_out"
    with pytest.raises(PrinterError) as failure:
        device.print_ticket(view("1002"))
    assert (failure.value.state, failure.value.sent) == ("paper_out", False)
    assert moody.data().count(CUT) == 1                   # nothing of 1002 went out


def test_paper_out_after_the_ticket_leaves_it_in_doubt_not_printed(moody: MoodyPrinter) -> None:
    moody.slow_next = True
    device = open_printer(moody.spec, "80mm")
    assert device.status() == "ok"                        # one slow answer: still answering
    moody.paper_out_at_cut = True
    with pytest.raises(PrinterError) as failure:
        device.print_ticket(view())
    assert (failure.value.state, failure.value.sent) == ("paper_out", True)
    assert device.status() == "paper_out"


def test_a_printer_that_stops_reading_is_offline_and_gets_no_ticket(moody: MoodyPrinter) -> None:
    device = open_printer(moody.spec, "80mm")
    device.print_ticket(view())
    moody.deaf = True
    assert device.status() == "offline"
    with pytest.raises(PrinterError) as failure:
        device.print_ticket(view("1002"))
    assert (failure.value.state, failure.value.sent) == ("offline", False)
    moody.deaf = False
    assert device.status() == "ok"                        # asked again: it came back
    device.print_ticket(view("1003"))
    assert moody.data().count(CUT) == 2


def test_a_printer_booting_at_start_is_checked_from_its_first_answer(moody: MoodyPrinter) -> None:
    now = [1000.0]
    moody.booting = True
    device = open_printer(moody.spec, "80mm")
    assert isinstance(device, TicketPrinter)
    device.clock = lambda: now[0]
    assert device.status() == "unknown"
    asked = moody.data().count(b"\x10\x04")
    assert device.status() == "unknown" and moody.data().count(b"\x10\x04") == asked   # not waited on again
    moody.booting = False
    moody.paper_out = True
    now[0] += SILENT_RETRY_S
    assert device.status() == "paper_out"                 # asked again, and it answers now
    with pytest.raises(PrinterError):
        device.print_ticket(view())
    moody.booting = True                                  # it answered once: silence now is a fault
    assert device.status() == "offline"
    assert CUT not in moody.data()


def test_the_kiosk_after_a_slow_answer_refuses_on_paper_out(tmp_path: Path, broker, moody) -> None:
    """The issue's run: one 1.3 s answer, then paper out, four presses: no ticket is printed
    or sent, and the status says paper_out (the LED shows the fault)."""
    listener = Listener(broker.url, TOPICS.ticket_from("k1"), TOPICS.status("kiosk", "k1"))
    moody.slow_next = True
    kiosk = KioskProcess(config_for(tmp_path, broker.url, moody.spec), tmp_path / "kiosk.log")
    assert kiosk.wait_log("ready"), kiosk.text()
    assert kiosk.wait_log("answers status requests"), kiosk.text()
    moody.paper_out = True
    for _ in range(4):
        kiosk.keys("1")
    assert kiosk.wait_log("no ticket for dat-dai: the printer is paper_out"), kiosk.text()

    def health(lst: Listener) -> dict:
        payloads = lst.payloads(TOPICS.status("kiosk", "k1"))
        return Status.decode(payloads[-1]).health if payloads else {}

    assert listener.wait_for(lambda lst: health(lst).get("printer") == "paper_out")
    moody.paper_out = False
    assert listener.wait_for(lambda lst: health(lst).get("printer") == "ok", 15)
    kiosk.keys("1")
    assert listener.wait_for(lambda lst: len(lst.payloads(TOPICS.ticket_from("k1"))) >= 1, 15)
    kiosk.process.terminate()
    assert kiosk.process.wait(10) == 0
    assert [Ticket.decode(p).number for p in listener.payloads(TOPICS.ticket_from("k1"))] == ["1001"]
    assert moody.data().count(CUT) == 1
    assert "printing without checks until it fails" not in kiosk.text()
    listener.close()


def test_the_kiosk_sends_a_ticket_the_paper_ran_out_on_marked_in_doubt(tmp_path: Path, broker,
                                                                        moody) -> None:
    """Paper out reported right after a ticket's bytes: part of it may be in a citizen's hand,
    so it goes to the caller marked in doubt (never void), and no further ticket is given
    until the paper is back."""
    listener = Listener(broker.url, TOPICS.ticket_from("k1"))
    kiosk = KioskProcess(config_for(tmp_path, broker.url, moody.spec), tmp_path / "kiosk.log")
    assert kiosk.wait_log("ready"), kiosk.text()
    moody.paper_out_at_cut = True
    kiosk.keys("1")
    assert kiosk.wait_log("ticket 1001 may be on paper, in part or whole (paper_out"), kiosk.text()
    kiosk.keys("1")
    assert kiosk.wait_log("no ticket for dat-dai: the printer is paper_out"), kiosk.text()
    moody.paper_out_at_cut = moody.paper_out = False
    assert kiosk.wait_log(": ready again"), kiosk.text()
    kiosk.keys("1")
    assert listener.wait_for(lambda lst: len(lst.payloads(TOPICS.ticket_from("k1"))) >= 2, 15)
    kiosk.process.terminate()
    assert kiosk.process.wait(10) == 0
    tickets = (Ticket.decode(p) for p in listener.payloads(TOPICS.ticket_from("k1")))
    got = [(t.number, t.doubt) for t in tickets]
    assert got == [("1001", True), ("1002", False)]
    listener.close()
