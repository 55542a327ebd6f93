"""The printed ticket's QR code: the ticket's page when [web] url is set, the bare id otherwise
(read back from the bytes the printer received)."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TESTS / "kiosk"), str(TESTS / "kiosk_print")]

from escpos_decoder import Qr, decode  # noqa: E402
from kiosk_rig import RunningKiosk, kiosk_config  # noqa: E402
from rig import Listener  # noqa: E402

from motcua.config import load_config  # noqa: E402
from motcua.protocol import Ticket, Topics  # noqa: E402

DAT_DAI_PIN = 17


def printed_qr(tmp_path: Path, broker, printer, mock_factory, extra: str) -> tuple[bytes, Ticket]:
    path = kiosk_config(tmp_path, broker.url, printer.spec, "hold_off_ms = 0")
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    listener = Listener(broker.url, Topics("liem-chung").ticket_from("k1"))
    kiosk = RunningKiosk(load_config(path), mock_factory)
    try:
        kiosk.press(DAT_DAI_PIN)
        assert printer.wait_for(lambda data: decode(data).of(Qr), 15)
        assert listener.wait_for(lambda li: li.payloads(Topics("liem-chung").ticket_from("k1")), 15)
    finally:
        kiosk.stop()
        listener.close()
    [qr] = decode(printer.data()).of(Qr)
    return qr.data, Ticket.decode(listener.payloads(Topics("liem-chung").ticket_from("k1"))[0])


def test_with_web_url_the_qr_is_the_tickets_page(tmp_path, broker, printer, mock_factory) -> None:
    data, ticket = printed_qr(tmp_path, broker, printer, mock_factory,
                              '\n[web]\nurl = "http://motcua-hub.local:8080/"\n')
    assert data.decode() == f"http://motcua-hub.local:8080/t/{ticket.id}"


def test_without_web_the_qr_keeps_the_ticket_id(tmp_path, broker, printer, mock_factory) -> None:
    data, ticket = printed_qr(tmp_path, broker, printer, mock_factory, "")
    assert data.decode() == ticket.id
