"""Ticket printers: ESC/POS over python-escpos connections (USB, serial, network, file), or PNG files.

Everything about the ticket's bytes is in :mod:`.ticket`; here the bytes only go through
one seam, the connection's ``write`` (python-escpos ``_raw``). Around it:

- status before printing where the printer answers (DLE EOT 1, 2 and 4, real-time
  status), each query within a 1 s budget; no answer at all is "unknown" (a printer or
  adapter without status), a connection that fails is "offline";
- status again after the ticket when the printer answered before: a printer that went
  away mid-ticket (power, cable) is noticed even when the operating system accepted the
  bytes;
- python-escpos connections do not survive a printer power cycle or an unplug
  (python-escpos #437, #253): after any failure the connection is closed and opened
  afresh on the next call. Network printers get a new connection for every job, so a
  stale socket never swallows a ticket.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from motcua.errors import ConfigError, HardwareError, require

from .printer_spec import File, Network, Png, Serial, Usb, parse_printer_spec
from .printer_words import FAULT_STATES, PrinterState
from .ticket import PAPER_DOTS, TicketView, escpos_bytes, render_blocks, render_image, slip_blocks, slip_bytes

log = logging.getLogger(__name__)

STATUS_WAIT_S = 2.5             # each status answer may take this long (a busy printer took 1.3 s)
SILENT_RETRY_S = 30.0           # a printer that never answered is asked again after this long
WRITE_TIMEOUT_S = 10.0          # a ticket that cannot be handed over in this long has failed

PRINTER_STATUS, OFFLINE_CAUSE, PAPER_SENSOR = b"\x10\x04\x01", b"\x10\x04\x02", b"\x10\x04\x04"

T = TypeVar("T")


class PrinterError(HardwareError):
    """A ticket did not print; ``state`` says why: "offline", "paper_out", "cover_open" or "error".

    ``sent``: bytes of the ticket may have reached the printer (the write began), so the
    citizen may hold it: such a ticket is in doubt, never void.
    """

    def __init__(self, message: str, state: PrinterState = PrinterState.ERROR, *,
                 sent: bool = False) -> None:
        super().__init__(message)
        self.state = state
        self.sent = sent


def state_from_status(printer: int | None, cause: int | None = None,
                      paper: int | None = None) -> PrinterState:
    """The printer's state from its real-time status bytes (DLE EOT 1, 2, 4); None = no answer.

    Every status byte has bits 1 and 4 set and bits 0 and 7 clear; anything else is noise.
    """
    def valid(byte: int | None) -> int | None:
        return byte if byte is not None and byte & 0x93 == 0x12 else None

    printer, cause, paper = valid(printer), valid(cause), valid(paper)
    if printer is None:
        return PrinterState.UNKNOWN
    if cause is not None and cause & 0x04:
        return PrinterState.COVER_OPEN
    if (paper is not None and paper & 0x60) or (cause is not None and cause & 0x20):
        return PrinterState.PAPER_OUT
    if cause is not None and cause & 0x40:
        return PrinterState.ERROR
    if printer & 0x08:
        return PrinterState.OFFLINE
    return PrinterState.OK


# -- connections: thin adapters over python-escpos ------------------------------------

class Connection:
    """One printer connection through a python-escpos printer object.

    Subclasses build the object and know how to read with a timeout. Every failure comes
    out as PrinterError(PrinterState.OFFLINE); the caller closes and opens again.
    """

    answers = True              # the printer can answer real-time status on this connection
    per_job = False             # open a fresh connection for every job

    def __init__(self, describe: str) -> None:
        self.describe = describe
        self.printers = require("escpos.printer", "kiosk", "python3-escpos")
        self.errors = require("escpos.exceptions", "kiosk", "python3-escpos").Error
        self.device: Any = None     # the python-escpos printer while open

    def _make(self) -> Any:
        raise NotImplementedError

    def _read(self, timeout: float) -> bytes:
        """Up to a few bytes the printer sent, b"" when none came within ``timeout``."""
        raise NotImplementedError

    def _guard(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except PrinterError:
            raise
        except (OSError, self.errors) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise PrinterError(f"printer {self.describe}: {reason}", PrinterState.OFFLINE) from exc

    @property
    def is_open(self) -> bool:
        return self.device is not None

    def open(self) -> None:
        device = self._make()
        self._guard(device.open)
        self.device = device

    def write(self, data: bytes) -> None:
        self._guard(lambda: self.device._raw(data))

    def ask(self, request: bytes, timeout: float) -> bytes:
        """Send a real-time request; the answer, or b"" when there was none in time."""
        if not self.answers:
            return b""
        self._guard(lambda: self.device._raw(request))
        return self._guard(lambda: self._read(max(0.01, timeout)))

    def seconds_to_send(self, size: int) -> float:
        """How long ``size`` bytes take on the wire (only slow lines matter)."""
        return 0.0

    def close(self) -> None:
        device, self.device = self.device, None
        if device is not None:
            try:
                device.close()
            except Exception as exc:      # closing a dead device may fail any way; it is gone anyway
                log.debug("closing printer %s: %s", self.describe, exc)


class NetworkConnection(Connection):
    per_job = True

    def __init__(self, host: str, port: int, *, connect_timeout: float = STATUS_WAIT_S) -> None:
        super().__init__(f"network {host}:{port}")
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout

    def _make(self) -> Any:
        return self.printers.Network(self.host, self.port, timeout=self.connect_timeout)

    def open(self) -> None:
        super().open()
        sock = self.device.device
        sock.settimeout(WRITE_TIMEOUT_S)
        # Status requests are tiny writes after the ticket: without this, Nagle holds them ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _read(self, timeout: float) -> bytes:
        sock = self.device.device
        sock.settimeout(timeout)
        try:
            data = sock.recv(16)
        except TimeoutError:
            return b""
        finally:
            sock.settimeout(WRITE_TIMEOUT_S)
        if not data:
            raise PrinterError(f"printer {self.describe} closed the connection", PrinterState.OFFLINE)
        return data


class SerialConnection(Connection):
    def __init__(self, path: str, baud: int) -> None:
        super().__init__(f"serial {path} at {baud} baud")
        require("serial", "kiosk", "python3-serial")
        self.path, self.baud = path, baud

    def _make(self) -> Any:
        return self.printers.Serial(self.path, baudrate=self.baud, timeout=STATUS_WAIT_S)

    def write(self, data: bytes) -> None:
        # A ticket takes a while at 9600 baud: the write may block until most of it is out.
        self.device.device.write_timeout = WRITE_TIMEOUT_S + self.seconds_to_send(len(data))
        super().write(data)

    def ask(self, request: bytes, timeout: float) -> bytes:
        # Drop stale answers (a status byte the printer sent late) before asking again.
        if self.is_open:
            self._guard(self.device.device.reset_input_buffer)
        return super().ask(request, timeout)

    def _read(self, timeout: float) -> bytes:
        self.device.device.timeout = timeout
        return bytes(self.device.device.read(1))

    def seconds_to_send(self, size: int) -> float:
        return size * 10 / self.baud        # 8N1: ten bits a byte


class UsbConnection(Connection):
    def __init__(self, vendor: int, product: int) -> None:
        super().__init__(f"usb {vendor:04x}:{product:04x}")
        self.usb = require("usb.core", "kiosk", "python3-usb")
        self.vendor, self.product = vendor, product

    def _make(self) -> Any:
        return self.printers.Usb(self.vendor, self.product, timeout=int(WRITE_TIMEOUT_S * 1000))

    def open(self) -> None:
        try:
            super().open()
        except self.usb.NoBackendError as exc:     # libusb itself is missing: no reconnect will help
            raise PrinterError(f"printer {self.describe}: {exc} (sudo apt install libusb-1.0-0)") from exc

    def _read(self, timeout: float) -> bytes:
        try:
            return bytes(self.device.device.read(self.device.in_ep, 16, int(timeout * 1000)))
        except self.usb.USBTimeoutError:
            return b""


class FileConnection(Connection):
    """A device file (/dev/usb/lp0) or a plain file: written to, never answers."""

    answers = False

    def __init__(self, path: str) -> None:
        super().__init__(f"file {path}")
        self.path = path

    def _make(self) -> Any:
        return self.printers.File(self.path)

    def ask(self, request: bytes, timeout: float) -> bytes:
        if not os.path.exists(self.path):        # an unplugged USB printer's device file is gone
            raise PrinterError(f"printer {self.describe}: no such file", PrinterState.OFFLINE)
        return b""


# -- printers ----------------------------------------------------------------------------

class TicketPrinter:
    """Prints tickets on an ESC/POS printer; reconnects on the next call after any failure.

    Status checks are never switched off for good. A printer that has answered a status
    request since the kiosk started must answer every later one: no answer means it is off,
    busy booting, or not reading (PrinterState.OFFLINE), and no ticket goes to it. A printer that has
    never answered is taken as one that cannot (a file, a forward): its tickets count as
    printed once written, and it is asked again every ``SILENT_RETRY_S`` (so a printer that
    was still booting at start is checked from its first answer on).
    """

    def __init__(self, connection: Connection, paper: str, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connection = connection
        self.paper = paper
        self.clock = clock
        self.answered = False           # it has answered a status request since we started
        self._silent_until = float("-inf")  # never answered: do not wait for it again before this

    def status(self) -> PrinterState:
        """The printer's state (UNKNOWN: the printer does not say)."""
        return self.probe()[0]

    def probe(self, timeout: float = STATUS_WAIT_S) -> tuple[PrinterState, str]:
        """The printer's state, and why it could not be asked ("" when it could); each status
        answer is waited for ``timeout`` seconds (``motcua doctor`` passes its own)."""
        try:
            return self._session(lambda: self._query(wait=timeout)), ""
        except PrinterError as exc:
            return exc.state, str(exc)

    def print_ticket(self, view: TicketView) -> Path | None:
        """Print one ticket (laid out for this printer's paper) or raise PrinterError.

        Returns only when the printer took the bytes and, if it answers status, answered
        after them with no fault. PrinterError.sent says whether ticket bytes may have gone.
        A printer that writes a picture file (PngPrinter) returns its path.
        """
        data = escpos_bytes(view if view.paper == self.paper else replace(view, paper=self.paper))
        self._session(lambda: self._job(data, checked=True))
        return None

    def print_slip(self, lines: list[str]) -> Path | None:
        """Print lines of text (the end-of-day summary) or raise PrinterError."""
        self._session(lambda: self._job(slip_bytes(lines, self.paper), checked=False))
        return None

    def _job(self, data: bytes, *, checked: bool) -> None:
        describe = self.connection.describe
        before = self._query()
        if before in FAULT_STATES:
            raise PrinterError(f"printer {describe}: {before}", before)
        try:
            self.connection.write(data)
        except PrinterError as exc:
            raise PrinterError(str(exc), exc.state, sent=True) from exc
        if before == PrinterState.UNKNOWN or not checked:
            return
        # It answered before: an answer after the bytes shows it read them (real-time requests
        # are handled in stream order); no answer, or a fault, leaves the ticket in doubt.
        try:
            after = self._query(extra=self.connection.seconds_to_send(len(data)))
        except PrinterError as exc:
            raise PrinterError(f"{exc} after the ticket", exc.state, sent=True) from exc
        if after in FAULT_STATES:
            raise PrinterError(f"printer {describe}: {after} after the ticket", after, sent=True)

    def close(self) -> None:
        self.connection.close()

    def _session(self, work: Callable[[], T]) -> T:
        try:
            if not self.connection.is_open:
                self.connection.open()
            return work()
        except PrinterError:
            self.connection.close()          # python-escpos objects do not survive a power cycle
            raise
        finally:
            if self.connection.per_job:
                self.connection.close()

    def _query(self, extra: float = 0.0, wait: float = STATUS_WAIT_S) -> PrinterState:
        """The printer's state from its status bytes; "offline" when a printer that answers
        before stops answering, "unknown" for one that never has."""
        if not self.answered and self.clock() < self._silent_until:
            return PrinterState.UNKNOWN
        answers: list[int | None] = []
        for request in (PRINTER_STATUS, OFFLINE_CAUSE, PAPER_SENSOR):
            reply = self.connection.ask(request, wait + (extra if not answers else 0.0))
            if not reply:
                if answers:
                    break
                if self.answered:
                    raise PrinterError(f"printer {self.connection.describe} stopped answering status "
                                       f"requests (no answer in {wait:g} s)", PrinterState.OFFLINE)
                if self.connection.answers:
                    log.warning("printer %s does not answer status requests: printing without checks, "
                                "asking again in %g s", self.connection.describe, SILENT_RETRY_S)
                self._silent_until = self.clock() + SILENT_RETRY_S
                return PrinterState.UNKNOWN
            answers.append(reply[-1])
        state = state_from_status(*answers)
        if state != PrinterState.UNKNOWN and not self.answered:
            self.answered = True
            log.info("printer %s answers status requests: every ticket is checked", self.connection.describe)
        return state


class PngPrinter(TicketPrinter):
    """``png:DIR``: every ticket becomes a PNG of the paper in DIR (demo, review, tests)."""

    def __init__(self, directory: Path, paper: str) -> None:
        self.directory = directory
        self.paper = paper

    def status(self) -> PrinterState:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            return PrinterState.OFFLINE
        return PrinterState.OK if os.access(self.directory, os.W_OK) else PrinterState.OFFLINE

    def probe(self, timeout: float = STATUS_WAIT_S) -> tuple[PrinterState, str]:
        return self.status(), ""

    def print_ticket(self, view: TicketView) -> Path:
        view = view if view.paper == self.paper else replace(view, paper=self.paper)
        number = re.sub(r"[^A-Za-z0-9]", "_", view.number)
        path = self.directory / f"{view.issued_at:%Y%m%d-%H%M%S}-{number}-{view.ticket_id[:8]}.png"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            render_image(view).save(path)
        except OSError as exc:
            raise PrinterError(f"cannot write the ticket image {path}: {exc}", PrinterState.OFFLINE) from exc
        return path

    def print_slip(self, lines: list[str]) -> Path:
        path = self.directory / f"slip-{time.strftime('%Y%m%d-%H%M%S')}.png"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            render_blocks(slip_blocks(lines, self.paper), PAPER_DOTS[self.paper]).save(path)
        except OSError as exc:
            raise PrinterError(f"cannot write the slip image {path}: {exc}", PrinterState.OFFLINE) from exc
        return path

    def close(self) -> None:
        pass


def open_printer(spec: str, paper: str) -> TicketPrinter:
    """A printer from its spec: usb:VID:PID, serial:DEVICE[:BAUD], network:HOST[:PORT], file:PATH, png:DIR.

    Nothing is opened yet: a printer that is off now is "offline" until it comes back.
    The spec is read leniently (any serial path, any baud rate): a config's spec was already
    checked strictly when the config was read, and one given explicitly is the person's call.
    """
    if paper not in PAPER_DOTS:
        raise _bad_spec(spec, f"paper must be one of {', '.join(PAPER_DOTS)}, not {paper!r}", key="paper")
    try:
        where = parse_printer_spec(spec, strict=False)
    except ValueError as exc:
        raise _bad_spec(spec, str(exc)) from None
    if isinstance(where, Png):
        return PngPrinter(Path(where.directory), paper)
    return TicketPrinter(connect(where), paper)


def connect(where: Usb | Serial | Network | File, *, timeout: float = STATUS_WAIT_S) -> Connection:
    """The python-escpos connection for a printer (not opened yet); ``timeout`` bounds a
    network printer's connect."""
    if isinstance(where, File):
        return FileConnection(where.path)
    if isinstance(where, Network):
        return NetworkConnection(where.host, where.port, connect_timeout=timeout)
    if isinstance(where, Serial):
        return SerialConnection(where.device, where.baud)
    return UsbConnection(where.vendor, where.product)


def _bad_spec(spec: str, reason: str, key: str = "printer") -> ConfigError:
    return ConfigError("kiosk printer", key, f"{spec!r}: {reason}")
