"""Bytes per ticket on the wire (58/80 mm, with and without a name) and their time on a serial line.

Also the time to lay out and encode a ticket, and the time of one print to tests/rig.py's
FakePrinter on loopback (status before and after included), and of a status check on a
printer that never answers (the 1 s budget).

    .venv/bin/python bench/kiosk_ticket_bytes.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from motcua.kiosk.printer import open_printer  # noqa: E402
from motcua.kiosk.ticket import Raster, TicketView, blocks, encode_block, escpos_bytes  # noqa: E402
from rig import FakePrinter  # noqa: E402

from motcua.cli import load_rooms  # noqa: E402
from motcua.config import load_config  # noqa: E402

load_rooms()     # this script reads a site config: every room's section

BAUDS = (9600, 19200, 115200)


def example_views() -> dict[str, TicketView]:
    """The example office's longest service name with every optional line, and a plain one."""
    config = load_config(ROOT / "examples" / "liem-chung.toml")
    longest = max(config.services, key=lambda s: len(s.name))
    full = TicketView(config.site.name, config.site.unit, longest.name, "1999", True, 12, 35,
                      "NGUYỄN THỊ THANH HƯƠNG", datetime(2025, 5, 6, 8, 15), "0f" * 16,
                      config.kiosks[0].footer, "80mm")
    plain = replace(full, service_name=config.services[0].name, number="1001", priority=False,
                    waiting_ahead=None, wait_estimate_min=None)
    return {f"{longest.name}, priority, waiting, estimate": full,
            f"{plain.service_name}, nothing optional": plain}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    options = parser.parse_args()

    print("bytes per ticket and time on the wire (8N1: 10 bits a byte)")
    print(f"{'ticket':58} {'paper':5} {'name':4} {'bytes':>6} {'bitmap':>6} " +
          " ".join(f"{b:>8}" for b in BAUDS))
    for label, view in example_views().items():
        for paper in ("80mm", "58mm"):
            for name in (view.name, None):
                ticket = replace(view, paper=paper, name=name)
                size = len(escpos_bytes(ticket))
                bitmap = sum(len(encode_block(b)) for b in blocks(ticket) if isinstance(b, Raster))
                times = " ".join(f"{size * 10 / baud:7.2f}s" for baud in BAUDS)
                print(f"{label[:58]:58} {paper:5} {'yes' if name else 'no':4} {size:6} {bitmap:6} {times}")

    view = next(iter(example_views().values()))
    started = time.perf_counter()
    for n in range(options.repeat):
        escpos_bytes(replace(view, number=str(1000 + n)))
    each_ms = (time.perf_counter() - started) / options.repeat * 1000
    print(f"\nlay out and encode one 80 mm ticket: {each_ms:.1f} ms")

    fake = FakePrinter()
    printer = open_printer(fake.spec, "80mm")
    durations = []
    for n in range(options.repeat):
        started = time.perf_counter()
        printer.print_ticket(replace(view, number=str(1000 + n)))
        durations.append(time.perf_counter() - started)
    fake.close()
    durations.sort()
    print(f"print_ticket to the FakePrinter on loopback (status, bytes, status): median "
          f"{statistics.median(durations) * 1000:.1f} ms, max {durations[-1] * 1000:.1f} ms")

    with socket.create_server(("127.0.0.1", 0)) as silent:
        printer = open_printer(f"network:127.0.0.1:{silent.getsockname()[1]}", "80mm")
        started = time.perf_counter()
        state = printer.status()
        print(f"status of a printer that never answers: {str(state)!r} after "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        printer = open_printer(f"network:127.0.0.1:{closed.getsockname()[1]}", "80mm")
        started = time.perf_counter()
        state = printer.status()
        print(f"status of a switched-off printer (refused): {str(state)!r} after "
              f"{(time.perf_counter() - started) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
