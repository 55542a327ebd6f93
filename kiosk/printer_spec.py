"""A printer spec as the config and ``--printer`` write it, read once (pure).

``usb:VID:PID``, ``serial:DEVICE[:BAUD]``, ``network:HOST[:PORT]``, ``file:PATH`` or
``png:DIR``. The config check (kiosk/settings.py), the printer adapter (kiosk/printer.py)
and ``motcua doctor`` all read a spec here, so they agree on what it means.

The config check is strict for serial printers (a device under /dev/, a baud rate from
:data:`BAUD_RATES`): a technician's slip is caught before the first ticket. Opening a printer
given explicitly (``--printer``) is not: a socat pty on a bench (``serial:/tmp/ttyV0``) or a
rate the device supports but the list lacks (``serial:/dev/ttyUSB0:14400``) opens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_NETWORK_PORT = 9100
DEFAULT_BAUD = 9600
# The rates a USB-serial adapter and a thermal printer's DIP switches offer.
BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)
KINDS = ("usb", "serial", "network", "file", "png")


@dataclass(frozen=True)
class Usb:
    vendor: int
    product: int


@dataclass(frozen=True)
class Serial:
    device: str
    baud: int = DEFAULT_BAUD


@dataclass(frozen=True)
class Network:
    host: str
    port: int = DEFAULT_NETWORK_PORT


@dataclass(frozen=True)
class File:
    path: str


@dataclass(frozen=True)
class Png:
    directory: str


PrinterSpec = Usb | Serial | Network | File | Png


def parse_printer_spec(spec: str, *, strict: bool = True) -> PrinterSpec:
    """The printer a spec names; ValueError says why it cannot work.

    ``strict`` (the config check) also refuses a serial device outside /dev/ and a baud rate
    outside :data:`BAUD_RATES`; without it any path and any positive rate are taken.
    """
    kind, colon, rest = spec.partition(":")
    if not colon:
        raise ValueError("expected KIND:WHERE, such as usb:0x0416:0x5011 or network:192.168.1.50")
    if kind not in KINDS:
        raise ValueError(f"unknown printer kind {kind!r} (usb, serial, network, file or png)")
    if not rest.strip():
        raise ValueError(f"expected {kind}:WHERE")
    if kind == "usb":
        parts = rest.split(":")
        if len(parts) != 2 or not all(re.fullmatch(r"(0x)?[0-9A-Fa-f]{1,4}", p) for p in parts):
            raise ValueError("expected usb:VID:PID, two hexadecimal ids such as usb:0x0416:0x5011 "
                             "(lsusb shows them)")
        return Usb(int(parts[0], 16), int(parts[1], 16))
    if kind == "serial":
        device, _, baud = rest.rpartition(":")
        if not device or "/" in baud or "." in baud or "-" in baud:
            device, baud = rest, ""     # a colon inside the device's name (/dev/serial/by-path/...)
        if baud and (not baud.isdigit() or int(baud) == 0):
            raise ValueError(f"{baud!r} is not a baud rate; expected serial:DEVICE[:BAUD] with BAUD "
                             "a number such as 9600")
        if strict and baud and int(baud) not in BAUD_RATES:
            raise ValueError(f"{baud!r} is not a baud rate; expected serial:DEVICE[:BAUD] with BAUD "
                             f"one of {', '.join(map(str, BAUD_RATES))}")
        if strict and not device.startswith("/dev/"):
            raise ValueError(f"{device!r} is not a serial device such as /dev/ttyUSB0 or /dev/serial0")
        return Serial(device, int(baud) if baud else DEFAULT_BAUD)
    if kind == "network":
        host, _, port = rest.partition(":")
        if port and not port.isdigit():
            raise ValueError(f"{port!r} is not a number; expected network:HOST[:PORT] with PORT 1 to 65535")
        if not host or (port and not 1 <= int(port) <= 65535):
            raise ValueError("expected network:HOST[:PORT] with PORT 1 to 65535")
        return Network(host, int(port) if port else DEFAULT_NETWORK_PORT)
    if kind == "file":
        return File(rest)
    return Png(rest)
