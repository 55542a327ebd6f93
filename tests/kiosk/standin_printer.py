"""TEMPORARY stand-in for part B's kiosk/ticket.py and kiosk/printer.py, used only while they are absent."""

from __future__ import annotations

import socket
import sys
import types
from dataclasses import dataclass
from datetime import datetime

from motcua.errors import HardwareError


@dataclass(frozen=True)
class TicketView:
    office: str
    unit: str
    service_name: str
    number: str
    priority: bool
    waiting_ahead: int | None
    wait_estimate_min: int | None
    name: str | None
    issued_at: datetime
    ticket_id: str
    footer: str
    paper: str


class PrinterError(HardwareError):
    def __init__(self, message: str, state: str = "error") -> None:
        super().__init__(message)
        self.state = state


class TicketPrinter:
    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)

    def _ask(self, data: bytes, replies: int) -> bytes:
        try:
            with socket.create_connection(self.address, timeout=2) as sock:
                sock.sendall(data)
                got = b""
                while len(got) < replies:
                    chunk = sock.recv(16)
                    if not chunk:
                        break
                    got += chunk
                return got
        except OSError as exc:
            raise PrinterError(str(exc), "offline") from exc

    def status(self) -> str:
        try:
            reply = self._ask(b"\x10\x04\x01\x10\x04\x04", 2)
        except PrinterError:
            return "offline"
        return "paper_out" if len(reply) == 2 and reply[1] & 0x60 else "ok"

    def print_ticket(self, view: TicketView) -> None:
        body = f"{view.office}\n{view.service_name}\n{view.number}\n{view.name or ''}\n".encode()
        self._ask(b"\x1b@" + body + b"\x1dV\x00", 0)

    def close(self) -> None:
        pass


def open_printer(spec: str, paper: str) -> TicketPrinter:
    host, port = spec.removeprefix("network:").split(":")
    return TicketPrinter(host, int(port))


def install() -> None:
    ticket = types.ModuleType("motcua.kiosk.ticket")
    ticket.TicketView = TicketView
    printer = types.ModuleType("motcua.kiosk.printer")
    printer.PrinterError, printer.TicketPrinter = PrinterError, TicketPrinter
    printer.open_printer = open_printer
    sys.modules.setdefault("motcua.kiosk.ticket", ticket)
    sys.modules.setdefault("motcua.kiosk.printer", printer)
