"""The kiosk's device logic, directly through its seams: buttons, LED and buzzer on gpiozero's
MockFactory, the real ticket printer code over python-escpos's in-memory Dummy, the real
SQLite store, and a link that records what the kiosk hands it (no broker: what crosses the
wire is in test_kiosk_daemon.py and test_outbox.py). The test is the owner thread: it puts
presses on the inbox through the pins and hands each event to ``Kiosk.handle``."""

from __future__ import annotations

import importlib.util
import json
import logging
import queue
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from kiosk_rig import kiosk_config
from motcua.kiosk.daemon import Kiosk, pick_kiosk
from motcua.kiosk.inputs import GpioButtons, Indicator
from motcua.kiosk.presses import Scan
from motcua.kiosk.store import TicketStore
from seams import CUT, MemoryPrinter, RecordingLink, beeps

from motcua.clock import read_clock
from motcua.config import load_config
from motcua.mqtt import Inbound, LinkDown, LinkUp, Published
from motcua.protocol import Board, Ticket, Topics, encode
from motcua.service_day import ClockReading

TOPICS = Topics("liem-chung")
TICKETS = TOPICS.ticket_from("k1")
DAT_DAI, TU_PHAP, LDTBXH, CHUNG_THUC, PRIORITY = 17, 27, 22, 23, 24
LED, BUZZER = 12, 16
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _decoder():
    path = Path(__file__).resolve().parents[1] / "kiosk_print" / "escpos_decoder.py"
    spec = importlib.util.spec_from_file_location("escpos_decoder_for_kiosk", path)
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module             # dataclasses look their module up
        assert spec.loader is not None
        spec.loader.exec_module(module)
    return module


class Device:
    """One kiosk on mock pins, an in-memory printer and a recording link."""

    def __init__(self, directory: Path, mock_factory, kiosk_keys: str,
                 clock: Callable[[], ClockReading]) -> None:
        path = kiosk_config(directory, "mqtt://127.0.0.1:1", "network:127.0.0.1:9100",
                            f"{kiosk_keys}\nled_pin = {LED}\nbuzzer_pin = {BUZZER}")
        self.config = load_config(path)
        self.settings = pick_kiosk(self.config, None)
        self.pins = mock_factory
        self.inbox: queue.Queue = queue.Queue()
        self.store = TicketStore(directory / "kiosk-k1.db")
        self.printer = MemoryPrinter(self.settings.paper)
        self.link = RecordingLink(TOPICS.status("kiosk", "k1"))
        self.indicator = Indicator(self.settings.led_pin, self.settings.buzzer_pin, pin_factory=mock_factory)
        self.buttons = GpioButtons(self.settings, self.inbox, pin_factory=mock_factory)
        self.kiosk = Kiosk(self.config, self.settings, printer=self.printer, store=self.store,
                           link=self.link, indicator=self.indicator, clock=clock)
        self.kiosk.start()

    def connect(self) -> None:
        """The link comes up; a new database learns that the broker holds no record of numbers."""
        self.link.connected.set()
        self.kiosk.handle(LinkUp(session_present=False))
        if self.kiosk.marker is not None:
            self.kiosk.handle(Published(self.kiosk.marker))
        assert not self.kiosk.learning

    def press(self, *pins: int) -> None:
        """Each pin pressed and released, all before the kiosk handles the first."""
        for pin in pins:
            self.pins.pin(pin).drive_low()
            self.pins.pin(pin).drive_high()
        events = [self.inbox.get(timeout=5) for _ in pins]
        for event in events:
            self.kiosk.handle(event)

    def tickets(self) -> list[Ticket]:
        return [Ticket.decode(p) for p in self.link.payloads(TICKETS)]

    def paper(self) -> list[tuple[str, str]]:
        """(number, QR id) of each ticket the printer holds, decoded from its bytes."""
        decoder = _decoder()
        found = []
        for job in self.printer.tickets():
            decoded = decoder.decode(job)
            numbers = [t.text for t in decoded.of(decoder.Text) if t.width > 1]
            [qr] = decoded.of(decoder.Qr)
            found.append((numbers[0], qr.data.decode()))
        return found

    def rows(self, sql: str) -> list[tuple]:
        return self.store.db.execute(sql).fetchall()

    def beeps(self) -> list[str]:
        return beeps(self.pins.pin(BUZZER))

    def close(self) -> None:
        self.buttons.close()
        self.indicator.close()
        self.store.close()


@pytest.fixture
def make_device(tmp_path: Path, mock_factory):
    """make_device(kiosk_keys=..., clock=...) -> a connected Device."""
    made: list[Device] = []

    def make(kiosk_keys: str = "hold_off_ms = 0", clock: Callable[[], ClockReading] = read_clock) -> Device:
        device = Device(tmp_path, mock_factory, kiosk_keys, clock)
        made.append(device)
        device.connect()
        return device

    yield make
    for device in made:
        device.close()


def test_each_press_prints_a_ticket_and_hands_it_to_the_link(make_device) -> None:
    device = make_device()
    device.press(DAT_DAI)
    device.press(CHUNG_THUC)
    got = device.tickets()
    assert [(t.service, t.number, t.seq, t.kiosk, t.priority, t.name, t.doubt) for t in got] == [
        ("dat-dai", "1001", 1001, "k1", False, None, False),
        ("chung-thuc", "C001", 1, "k1", False, None, False)]
    assert device.paper() == [("1001", got[0].id), ("C001", got[1].id)]   # the id on paper is the one sent
    assert device.rows("SELECT number, state FROM tickets ORDER BY n") == [("1001", "printed"),
                                                                           ("C001", "printed")]
    assert device.rows("SELECT count(*) FROM outbox") == [(2,)]               # until the caller confirms
    assert device.indicator.state == "ready" and device.pins.pin(LED).state
    health = device.kiosk.health()
    assert (health["printer"], health["open"], health["paper"], health["outbox"]) == ("ok", True, "80mm", 2)


def test_presses_while_printing_do_not_stack(make_device) -> None:
    device = make_device("hold_off_ms = 0")
    device.press(DAT_DAI, DAT_DAI, DAT_DAI, TU_PHAP)    # all before the first ticket is out
    device.press(LDTBXH)
    assert [t.number for t in device.tickets()] == ["1001", "3001"]
    assert [number for number, _ in device.paper()] == ["1001", "3001"]
    assert device.rows("SELECT count(*) FROM tickets") == [(2,)]


def test_priority_then_service_and_hold_off_against_mashing(make_device) -> None:
    device = make_device("hold_off_ms = 5000")
    device.press(PRIORITY, TU_PHAP)
    device.press(TU_PHAP, TU_PHAP, TU_PHAP, TU_PHAP, TU_PHAP, LDTBXH)   # mashing after its ticket came out
    assert [(t.number, t.priority) for t in device.tickets()] == [("2001", True), ("3001", False)]
    assert device.rows("SELECT count(*) FROM tickets") == [(2,)]
    assert len(device.printer.tickets()) == 2


def board_message(board: Board) -> Inbound:
    return Inbound(topic=TOPICS.board, payload=encode(board), mid=1, qos=1, retain=True)


def test_waiting_ahead_and_estimate_come_from_the_retained_board(make_device) -> None:
    device = make_device()
    day = datetime.now(TZ)
    device.kiosk.handle(board_message(Board(seq=3, updated_at=day.isoformat(timespec="seconds"),
                                            day=str(device.kiosk.day), waiting={"dat-dai": 4},
                                            wait_estimate_s={"dat-dai": 610})))
    device.kiosk.handle(Inbound(topic=TOPICS.board, payload=b"not json", mid=2, qos=1, retain=False))
    assert device.kiosk.dropped == 1
    device.press(DAT_DAI)
    device.press(TU_PHAP)
    assert [(v.waiting_ahead, v.wait_estimate_min) for v in device.printer.views] == [(4, 11), (None, None)]
    assert [number for number, _ in device.paper()] == ["1001", "2001"]


def test_a_priority_ticket_counts_only_who_is_really_ahead(make_device) -> None:
    """Issue 15: one normal ticket waiting, a priority ticket is called first: "0" ahead,
    and the estimate scaled to the tickets really ahead (none: "dưới 1 phút")."""
    device = make_device()
    day = datetime.now(TZ)
    device.kiosk.handle(board_message(Board(
        seq=3, updated_at=day.isoformat(timespec="seconds"), day=str(device.kiosk.day),
        waiting={"tu-phap": 1, "dat-dai": 3}, wait_estimate_s={"tu-phap": 300, "dat-dai": 900},
        ahead_normal={"tu-phap": 1, "dat-dai": 3}, ahead_priority={"tu-phap": 0, "dat-dai": 1})))
    device.press(PRIORITY, TU_PHAP)
    device.press(PRIORITY, DAT_DAI)
    assert [(v.priority, v.waiting_ahead, v.wait_estimate_min) for v in device.printer.views] == [
        (True, 0, 0), (True, 1, 5)]


def test_closed_hours_print_nothing_and_say_so(make_device) -> None:
    now = datetime.now(TZ)
    device = make_device(f'days_off = ["{now.date()}", "{now.date().replace(day=1)}"]\nhold_off_ms = 0')
    assert device.kiosk.health()["open"] is False and device.indicator.state == "closed"
    device.pins.pin(BUZZER).clear_states()
    device.press(DAT_DAI)
    assert device.beeps() == ["refused"]
    assert device.indicator.state == "closed"
    assert device.rows("SELECT count(*) FROM tickets") == [(0,)] and device.printer.memory.jobs == []
    assert device.tickets() == []


def test_paper_out_refuses_then_recovers(make_device) -> None:
    device = make_device()
    device.printer.memory.paper_out = True
    device.press(DAT_DAI)
    device.kiosk.tick()
    assert device.kiosk.health()["printer"] == "paper_out"
    assert device.beeps() == ["refused"] and device.indicator.state == "fault"
    assert device.rows("SELECT count(*) FROM tickets") == [(0,)]
    device.printer.memory.paper_out = False
    device.press(DAT_DAI)
    assert [t.number for t in device.tickets()] == ["1001"]     # nothing was used up
    assert device.kiosk.health()["printer"] == "ok" and device.indicator.state == "ready"


def test_a_failed_print_is_void_and_never_sent(make_device) -> None:
    device = make_device()

    def goes_offline() -> None:          # between the check before the number and the ticket
        device.printer.memory.offline = True

    device.printer.before_ticket = goes_offline
    device.pins.pin(BUZZER).clear_states()
    device.press(DAT_DAI)
    assert device.rows("SELECT state, void_reason FROM tickets") == [("void", "offline")]
    assert device.beeps() == ["print_failed"]
    assert device.printer.tickets() == [] and device.tickets() == []
    device.printer.before_ticket = None
    device.printer.memory.offline = False
    device.press(TU_PHAP)
    assert [t.number for t in device.tickets()] == ["2001"]
    assert device.rows("SELECT number, state, void_reason FROM tickets ORDER BY n") == [
        ("1001", "void", "offline"), ("2001", "printed", None)]


def test_a_scanned_name_is_the_only_personal_data_that_leaves(make_device, tmp_path: Path, caplog) -> None:
    card_id, born, address = "035095001234", "07031995", "Thôn Đồng Lạc, Liêm Chung, Hà Nam"
    scan = f"{card_id}|168456789|Trần Thị Bình|{born}|Nữ|{address}|15082021\r\n"
    caplog.set_level(logging.DEBUG)
    device = make_device()
    buzzer = device.pins.pin(BUZZER)
    buzzer.clear_states()
    device.kiosk.handle(Scan(scan, time.monotonic()))
    assert device.beeps() == ["scan_ok"]
    buzzer.clear_states()
    device.kiosk.handle(Scan("garbage|" + card_id, time.monotonic()))
    assert device.beeps() == ["scan_refused"]
    device.press(DAT_DAI)
    device.press(TU_PHAP)
    assert [t.name for t in device.tickets()] == ["Trần Thị Bình", None]
    assert [v.name for v in device.printer.views] == ["Trần Thị Bình", None]
    device.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("kiosk-k1.db*"))
    published = b"".join(s.payload for s in device.link.sent) + json.dumps(
        device.kiosk.health(), ensure_ascii=False).encode()
    view_text = json.dumps([v.__dict__ for v in device.printer.views], default=str, ensure_ascii=False)
    for secret in (card_id, "168456789", born, address, "15082021"):
        for where, text in (("db", stored.decode("utf-8", "replace")),
                            ("mqtt", published.decode("utf-8")), ("log", caplog.text), ("ticket", view_text)):
            assert secret not in text, f"{secret} leaked into the {where}"
    assert "Trần Thị Bình" not in caplog.text


def test_the_day_does_not_reset_on_an_unsynchronised_jump(make_device) -> None:
    base = datetime(2025, 6, 10, 10, tzinfo=TZ).timestamp()
    clock = {"wall": base}

    def read() -> ClockReading:
        return ClockReading(clock["wall"], time.monotonic(), False)

    device = make_device(clock=read)
    device.press(DAT_DAI)
    clock["wall"] += 86400                      # +1 day jump, not synchronised
    device.press(TU_PHAP)
    device.press(DAT_DAI)
    got = device.tickets()
    assert {t.day for t in got} == {"2025-06-10"}
    assert [t.number for t in got] == ["1001", "2001", "1002"]


def test_the_led_says_no_hub_while_the_link_is_down(make_device) -> None:
    """Issue 15: the kiosk was silent with the hub away; tickets still print meanwhile."""
    device = make_device()
    assert device.indicator.state == "ready"
    device.link.connected.clear()
    device.kiosk.handle(LinkDown("the broker went away"))
    assert device.indicator.state == "no_hub"
    device.press(DAT_DAI)                                   # printed, waits in the outbox
    assert device.printer.memory.jobs[-1].count(CUT) == 1
    assert device.indicator.state == "no_hub"              # after "printing"
    assert device.tickets() == [] and device.rows("SELECT count(*) FROM outbox") == [(1,)]
    device.link.connected.set()
    device.kiosk.handle(LinkUp(session_present=False))
    assert device.indicator.state == "ready"
    assert [t.number for t in device.tickets()] == ["1001"]


def test_a_printer_fault_says_why_in_the_log_and_on_the_status(make_device, caplog) -> None:
    """Issue 15: "cover open", not a state name, in the log and on status/kiosk/<id>."""
    caplog.set_level(logging.INFO)
    now = {"monotonic": time.monotonic()}

    def read() -> ClockReading:
        return ClockReading(time.time(), now["monotonic"], True)

    device = make_device(clock=read)
    device.printer.memory.cover_open = True
    now["monotonic"] += 31                      # the printer is polled every 30 s while it works
    device.kiosk.tick()
    health = device.kiosk.health()
    assert (health["printer"], health["printer_says"]) == ("cover_open", "cover open")
    assert any("printer network:127.0.0.1:9100: cover open" in r.getMessage() for r in caplog.records)
    assert device.indicator.state == "fault"
    device.printer.memory.cover_open = False
    now["monotonic"] += 2.5                     # ... and every 2 s while it is faulty
    device.kiosk.tick()
    assert device.kiosk.health()["printer_says"] == "ready" and device.kiosk.printer_state.state == "ok"
    assert device.indicator.state == "ready"
