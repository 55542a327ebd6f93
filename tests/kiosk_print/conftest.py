"""Ticket fixtures: ticket views, a printer that never answers status, a serial printer on a pty."""

from __future__ import annotations

import os
import socket
import threading
import tty
from dataclasses import replace
from datetime import datetime

import pytest
from motcua.kiosk.ticket import TicketView

BASE = TicketView(
    office="UBND xã Liêm Chung", unit="Bộ phận Tiếp nhận và Trả kết quả", service_name="Đất đai",
    number="1001", priority=False, waiting_ahead=None, wait_estimate_min=None, name=None,
    issued_at=datetime(2025, 5, 6, 8, 5), ticket_id="4f0c2a9be1d84b7e9a3c5d6e7f801234",
    footer="Xin cảm ơn!", paper="80mm")


@pytest.fixture
def make_view():
    """make_view(**changes) -> a TicketView for the example office."""
    return lambda **changes: replace(BASE, **changes)


class SilentPrinter:
    """A network printer that takes bytes and never answers a status request (or a socat forward)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.data = bytearray()
        self.done = threading.Condition()
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def spec(self) -> str:
        return f"network:127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self.done:
                self.connections += 1
                self.done.notify_all()
            with conn:
                while chunk := conn.recv(65536):
                    with self.done:
                        self.data += chunk
                        self.done.notify_all()

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        """Wait until predicate(self) is true."""
        with self.done:
            return self.done.wait_for(lambda: predicate(self), timeout)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def silent_printer():
    printer = SilentPrinter()
    yield printer
    printer.close()


class PtyPrinter:
    """A serial printer on a pseudo-terminal: records bytes, answers DLE EOT like the FakePrinter."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self.slave = slave
        self.data = bytearray()
        self.paper_out = False
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        pending = b""
        while not self.stopped.is_set():
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            with self.lock:
                self.data += chunk
            pending += chunk
            while (at := pending.find(b"\x10\x04")) >= 0 and len(pending) >= at + 3:
                request = pending[at + 2]
                pending = pending[at + 3:]
                reply = 0x7E if request == 4 and self.paper_out else 0x12
                os.write(self.master, bytes([reply]))
            pending = pending[-2:]

    def close(self) -> None:
        self.stopped.set()
        os.close(self.slave)
        os.close(self.master)


@pytest.fixture
def pty_printer():
    printer = PtyPrinter()
    yield printer
    printer.close()
