"""Resident memory of the kiosk daemon process after printing tickets.

Runs ``motcua kiosk --keyboard`` as its own process against a real Mosquitto
and tests/rig.py's network FakePrinter, presses keys on its stdin, then reads
VmRSS/VmHWM from /proc.

    .venv/bin/python bench/kiosk_memory.py [--tickets 50]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "kiosk")]

from kiosk_rig import kiosk_config  # noqa: E402
from rig import FakePrinter, Mosquitto  # noqa: E402

CUT = b"\x1bd\x05\x1dV\x00"   # feed and full cut: one per ticket


def memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto")
        broker.start()
        printer = FakePrinter()
        config = kiosk_config(Path(tmp), broker.url, printer.spec, "hold_off_ms = 0")
        process = subprocess.Popen([sys.executable, "-m", "motcua.cli", "kiosk", "--config", str(config),
                                    "--keyboard"], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            for index in range(options.tickets):
                process.stdin.write(b"1234"[index % 4: index % 4 + 1])
                process.stdin.flush()
                if not printer.wait_for(lambda data, n=index: data.count(CUT) > n, timeout=15):
                    print(f"ticket {index} did not print", file=sys.stderr)
                    return 1
                printer.wait_for(lambda data: False, timeout=0.1)   # let the kiosk record it
            memory = memory_kb(process.pid)
        finally:
            process.terminate()
            process.wait(10)
            printer.close()
            broker.stop()
    print(f"kiosk daemon after {options.tickets} tickets: RSS {memory['VmRSS'] / 1024:.1f} MB, "
          f"peak {memory['VmHWM'] / 1024:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
