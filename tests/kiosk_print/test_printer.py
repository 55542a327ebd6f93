"""Printers for real: python-escpos to the FakePrinter socket, a silent printer, a pty, files, PNGs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from escpos_decoder import Qr, Raster, Text, decode
from motcua.kiosk.printer import (
    FileConnection,
    NetworkConnection,
    PngPrinter,
    PrinterError,
    SerialConnection,
    UsbConnection,
    open_printer,
    state_from_status,
)
from motcua.kiosk.ticket import PAPER_DOTS, QR_MODULE, escpos_bytes
from PIL import Image

from motcua.errors import ConfigError

CUT = b"\x1dV"


def tickets_in(jobs: list[bytearray]) -> list:
    """The decoded tickets, one per connection that carried one."""
    return [decode(bytes(job)) for job in jobs if CUT in job]


@pytest.mark.parametrize(("printer", "cause", "paper", "state"), [
    (None, None, None, "unknown"), (0x00, None, None, "unknown"), (0x12, None, None, "ok"),
    (0x12, 0x12, 0x12, "ok"), (0x1A, 0x12, 0x12, "offline"), (0x1A, 0x16, 0x12, "cover_open"),
    (0x1A, 0x32, 0x12, "paper_out"), (0x12, 0x12, 0x72, "paper_out"), (0x12, 0x12, 0x7E, "paper_out"),
    (0x12, 0x12, 0x1E, "ok"),                        # near end: still prints
    (0x1A, 0x52, 0x12, "error"), (0x12, None, 0x7E, "paper_out"), (0x12, 0xFF, 0x12, "ok"),
])
def test_state_from_real_time_status(printer, cause, paper, state) -> None:
    assert state_from_status(printer, cause, paper) == state


def test_a_ticket_reaches_the_network_printer_and_decodes(printer, make_view) -> None:
    device = open_printer(printer.spec, "80mm")
    view = make_view(priority=True, waiting_ahead=2, wait_estimate_min=6, name="VŨ MINH TUẤN")
    assert device.status() == "ok"
    device.print_ticket(view)
    device.print_ticket(make_view(number="1002", ticket_id="2" * 32))
    device.close()
    data = printer.data()
    assert escpos_bytes(view) in data
    first, second = tickets_in(printer.jobs)
    assert [t.text for t in first.of(Text)] == ["1001", "06/05/2025 08:05"]
    assert first.of(Text)[0].width == 8 and len(first.of(Raster)) == 8
    assert [q.data for q in first.of(Qr)] == [view.ticket_id.encode()]
    assert [q.data for q in second.of(Qr)] == [b"2" * 32] and second.of(Text)[0].text == "1002"
    assert first.cuts == second.cuts == 1
    assert first.status_requests[:3] == [1, 2, 4]          # asked before printing, and after


def test_the_printers_paper_width_wins(printer, make_view) -> None:
    open_printer(printer.spec, "58mm").print_ticket(make_view(paper="80mm"))
    [ticket] = tickets_in(printer.jobs)
    assert ticket.of(Text)[0].width == 6 and all(r.image.width <= 384 for r in ticket.of(Raster))


def test_paper_out_refuses_then_recovers(printer, make_view) -> None:
    device = open_printer(printer.spec, "80mm")
    printer.paper_out = True
    assert device.status() == "paper_out"
    with pytest.raises(PrinterError) as failure:
        device.print_ticket(make_view())
    assert failure.value.state == "paper_out"
    assert CUT not in printer.data()                       # no ticket bytes went out
    printer.paper_out = False
    assert device.status() == "ok"
    device.print_ticket(make_view())
    assert printer.data().count(CUT) == 1


def test_a_connection_lost_mid_ticket_fails_then_the_next_print_reconnects(printer, make_view) -> None:
    device = open_printer(printer.spec, "80mm")
    printer.close_after = 2000
    with pytest.raises(PrinterError) as failure:
        device.print_ticket(make_view())
    assert failure.value.state == "offline"
    device.print_ticket(make_view(number="1002"))
    # The cut connection took the bytes but never confirmed them; the next ticket went on a new one.
    assert len(printer.jobs) == 2
    assert decode(bytes(printer.jobs[-1])).of(Text)[0].text == "1002"


def test_an_absent_printer_is_offline_and_comes_back(make_view) -> None:
    with socket.socket() as placeholder:          # a port nobody listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
        device = open_printer(f"network:127.0.0.1:{port}", "80mm")
        assert device.status() == "offline"
        with pytest.raises(PrinterError) as failure:
            device.print_ticket(make_view())
        assert failure.value.state == "offline"
        placeholder.listen(1)                     # the printer is switched on
        assert device.status() == "unknown"       # it accepts but does not answer yet


def test_a_printer_without_status_still_prints(silent_printer, make_view) -> None:
    device = open_printer(silent_printer.spec, "80mm")
    assert device.status() == "unknown"
    device.print_ticket(make_view())
    assert device.status() == "unknown"
    # One connection per job (no stale socket outlives a power cycle); status asked once, not every job.
    assert silent_printer.wait_for(lambda p: escpos_bytes(make_view()) in p.data and p.connections == 3)
    assert bytes(silent_printer.data).count(b"\x10\x04") == 1


def test_serial_printer_on_a_pty(pty_printer, make_view) -> None:
    device = open_printer(f"serial:{pty_printer.path}:115200", "58mm")
    assert device.status() == "ok"
    device.print_ticket(make_view(paper="58mm"))
    pty_printer.paper_out = True
    assert device.status() == "paper_out"
    with pytest.raises(PrinterError):
        device.print_ticket(make_view(paper="58mm", number="1002"))
    device.close()
    ticket = decode(bytes(pty_printer.data))
    assert ticket.of(Text)[0].text == "1001" and ticket.cuts == 1


def test_a_printer_given_explicitly_may_be_a_pty_outside_dev_at_any_baud(
        pty_printer, tmp_path: Path, make_view) -> None:
    # A socat bench links its pty under /tmp; a device may run at a rate the config's list lacks.
    # The config check stays strict (tests/test_config.py); opening what a person named does not.
    link = tmp_path / "ttyV0"
    link.symlink_to(pty_printer.path)
    device = open_printer(f"serial:{link}:14400", "58mm")
    assert isinstance(device.connection, SerialConnection) and device.connection.baud == 14400
    assert device.status() == "ok"
    device.print_ticket(make_view(paper="58mm"))
    device.close()
    assert decode(bytes(pty_printer.data)).of(Text)[0].text == "1001"


def test_file_printer_writes_the_bytes(tmp_path: Path, make_view) -> None:
    path = tmp_path / "lp0"
    path.touch()
    device = open_printer(f"file:{path}", "80mm")
    assert device.status() == "unknown"           # a file cannot answer
    device.print_ticket(make_view())
    device.print_ticket(make_view(number="1002"))
    device.close()
    assert path.read_bytes() == escpos_bytes(make_view()) + escpos_bytes(make_view(number="1002"))


def test_file_printer_that_is_unplugged_is_offline(tmp_path: Path, make_view) -> None:
    device = open_printer(f"file:{tmp_path / 'gone' / 'lp0'}", "80mm")
    assert device.status() == "offline"
    with pytest.raises(PrinterError) as failure:
        device.print_ticket(make_view())
    assert failure.value.state == "offline"


def dark_rows(image: Image.Image) -> list[int]:
    """Per row, the count of black pixels."""
    grey = image.convert("L")
    return [grey.crop((0, y, grey.width, y + 1)).histogram()[0] for y in range(grey.height)]


@pytest.mark.parametrize("paper", ["58mm", "80mm"])
def test_png_printer_draws_the_paper(tmp_path: Path, make_view, paper) -> None:
    import qrcode

    device = open_printer(f"png:{tmp_path / 'tickets'}", paper)
    assert isinstance(device, PngPrinter) and device.status() == "ok"
    view = make_view(paper=paper, priority=True, name="HOÀNG VĂN THÁI")
    path = device.print_ticket(view)
    image = Image.open(path)
    assert image.width == PAPER_DOTS[paper]
    rows = dark_rows(image)
    # The number: the tallest run of inked rows, as tall as font A magnified.
    runs, start = [], None
    for y, count in enumerate([*rows, 0]):
        if count and start is None:
            start = y
        elif not count and start is not None:
            runs.append(y - start)
            start = None
    scale = 8 if paper == "80mm" else 6
    assert max(runs) >= 24 * scale * 0.6
    # The priority mark: a band of rows mostly black.
    assert any(count > 150 for count in rows)
    # The QR code, module for module, centred somewhere on the paper.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, box_size=QR_MODULE[paper],
                         border=0)
    code.add_data(view.ticket_id)
    code.make(fit=True)
    expected = code.make_image().get_image().convert("L").tobytes()
    side = len(code.get_matrix()) * QR_MODULE[paper]
    left = (image.width - side) // 2
    grey = image.convert("L")
    assert any(grey.crop((left, top, left + side, top + side)).tobytes() == expected
               for top in range(image.height - side)), "the QR code of the ticket id is on the paper"


def test_png_without_name_is_shorter(tmp_path: Path, make_view) -> None:
    device = open_printer(f"png:{tmp_path}", "80mm")
    with_name = Image.open(device.print_ticket(make_view(name="LÝ THỊ MAI")))
    without = Image.open(device.print_ticket(make_view(ticket_id="9" * 32)))
    assert with_name.height > without.height
    assert len(list(tmp_path.glob("*.png"))) == 2


def test_png_into_an_unwritable_place_fails_as_a_printer(tmp_path: Path, make_view) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    device = open_printer(f"png:{blocker}", "80mm")
    assert device.status() == "offline"
    with pytest.raises(PrinterError):
        device.print_ticket(make_view())


@pytest.mark.parametrize(("spec", "kind", "fields"), [
    ("network:10.0.0.5", NetworkConnection, {"host": "10.0.0.5", "port": 9100}),
    ("network:printer.local:9101", NetworkConnection, {"host": "printer.local", "port": 9101}),
    ("serial:/dev/ttyUSB0", SerialConnection, {"path": "/dev/ttyUSB0", "baud": 9600}),
    ("serial:/dev/serial0:115200", SerialConnection, {"path": "/dev/serial0", "baud": 115200}),
    ("usb:04b8:0e15", UsbConnection, {"vendor": 0x04B8, "product": 0x0E15}),
    ("usb:0x0416:0x5011", UsbConnection, {"vendor": 0x0416, "product": 0x5011}),
    ("file:/dev/usb/lp0", FileConnection, {"path": "/dev/usb/lp0"}),
])
def test_printer_specs(spec, kind, fields) -> None:
    connection = open_printer(spec, "80mm").connection
    assert isinstance(connection, kind) and not connection.is_open
    assert {key: getattr(connection, key) for key in fields} == fields


@pytest.mark.parametrize(("spec", "paper", "words"), [
    ("lp0", "80mm", "KIND:WHERE"), ("bluetooth:x", "80mm", "unknown printer kind"),
    ("network:host:nine", "80mm", "not a number"), ("usb:04b8", "80mm", "two hexadecimal ids"),
    ("serial:/dev/ttyUSB0:0", "80mm", "not a baud rate"),
    ("file:/dev/usb/lp0", "76mm", "paper must be"),
])
def test_bad_printer_specs_say_why(spec, paper, words) -> None:
    with pytest.raises(ConfigError) as failure:
        open_printer(spec, paper)
    assert words in str(failure.value)
