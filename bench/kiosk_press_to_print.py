"""Press -> last ticket byte at a network printer on loopback, through the real kiosk wiring.

The kiosk runs in-process (serve) on gpiozero's MockFactory with the real
python-escpos printer adapter talking to tests/rig.py's FakePrinter, a real
Mosquitto, the real SQLite store. Prints the median and p99 over N presses.

    .venv/bin/python bench/kiosk_press_to_print.py [--presses 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "kiosk")]

from gpiozero.pins.mock import MockFactory  # noqa: E402
from kiosk_rig import RunningKiosk, kiosk_config  # noqa: E402
from rig import FakePrinter, Mosquitto, eventually  # noqa: E402

from motcua.cli import load_rooms  # noqa: E402
from motcua.config import load_config  # noqa: E402

load_rooms()     # this script reads a site config: every room's section

CUT = b"\x1bd\x05\x1dV\x00"   # feed and full cut: one per ticket
PINS = (17, 27, 22, 23)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=200)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto")
        broker.start()
        printer = FakePrinter()
        factory = MockFactory()
        path = kiosk_config(Path(tmp), broker.url, printer.spec, "hold_off_ms = 0")
        kiosk = RunningKiosk(load_config(path), factory)
        try:
            # A new database waits for the broker's record of issued numbers (docs/kiosk.md):
            # measure presses, not that one-off wait.
            eventually(lambda: not getattr(kiosk.kiosk, "learning", False))
            samples, job_sizes = [], []
            for index in range(options.presses):
                before = printer.data().count(CUT)
                pin = factory.pin(PINS[index % len(PINS)])
                start = time.perf_counter()
                pin.drive_low()
                pin.drive_high()
                if not printer.wait_for(lambda data, n=before: data.count(CUT) > n, timeout=10):
                    print(f"press {index}: no ticket within 10 s", file=sys.stderr)
                    return 1
                samples.append((time.perf_counter() - start) * 1000)
                job_sizes.append(max(len(job) for job in printer.jobs[-2:]))
                # The next press must not land while the kiosk is still recording this one.
                eventually(lambda n=index + 1: kiosk.rows(
                    "SELECT count(*) FROM tickets WHERE state = 'printed'") == [(n,)])
        finally:
            kiosk.stop()
            printer.close()
            broker.stop()
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * len(samples)) - 1)]
    print(f"press -> last ticket byte, 80 mm paper, {len(samples)} presses: "
          f"median {statistics.median(samples):.1f} ms, p99 {p99:.1f} ms, max {samples[-1]:.1f} ms")
    print(f"bytes per ticket job: median {statistics.median(job_sizes):.0f}, max {max(job_sizes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
