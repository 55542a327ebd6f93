"""Ticket intake through the hub's broker with each persistence setting (issue 18, item 3).

A kiosk-like publisher sends tickets (QoS 1, up to 1,000 in flight) to a real Mosquitto
running the shipped settings (systemd/mosquitto/motcua.conf, via tests/rig.py), which
delivers them to a real ``motcua caller --audio none`` (persistent session, manual acks
after its event log's fsync). Intake is tickets per second from the first publish until the
caller's event log holds them all. The persistence lines are varied; everything else is the
shipped config. docs/reliability.md ("Persistence settings") has the figures.

    .venv/bin/python bench/broker_intake.py [--tickets 1000]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from caller_bench import publisher, site, start_caller, stop, tickets  # noqa: E402
from rig import Mosquitto, shipped_settings  # noqa: E402

from motcua.protocol import Topics, encode  # noqa: E402

TOPICS = Topics("liem-chung")
VARIANTS = {
    "shipped (as in motcua.conf)": "",
    "autosave_on_changes, every 1 change": "autosave_on_changes true\nautosave_interval 1\n",
    "autosave every 1 s (time based)": "autosave_on_changes false\nautosave_interval 1\n",
    "no persistence (upper bound)": "persistence false\n",
}


def logged(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as connection:
            return connection.execute("SELECT count(*) FROM events WHERE kind = 'ticket'").fetchone()[0]
    except sqlite3.Error:
        return 0


def intake(work: Path, extra: str, count: int) -> float:
    broker = Mosquitto(work / "broker", extra_config=extra)
    broker.start()
    config = site(work, broker.port, 4)
    db = work / "caller.db"
    process = start_caller(config, db, work / "caller.log")
    try:
        # The caller is up once its retained board is there; its log then holds no ticket.
        deadline = time.monotonic() + 60
        while not (work / "caller.db").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2)
        stream = tickets(config, count)
        client = publisher(broker.port, "bench-kiosk")
        start = time.monotonic()
        for ticket in stream:
            client.publish(TOPICS.ticket, encode(ticket), qos=1)
        deadline = start + 600
        while logged(db) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        client.disconnect()
        client.loop_stop()
        if logged(db) < count:
            raise RuntimeError(f"only {logged(db)} of {count} tickets reached the caller")
        return count / elapsed
    finally:
        stop(process)
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000)
    options = parser.parse_args()
    print("shipped persistence lines:", " / ".join(
        line for line in shipped_settings().splitlines() if line.startswith(("persistence", "autosave"))))
    for name, extra in VARIANTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            rate = intake(Path(tmp), extra, options.tickets)
        print(f"{name:<40} {rate:7.0f} tickets/s  (n={options.tickets})")


if __name__ == "__main__":
    main()
