"""Counter pad: press -> command at a subscriber, against the raw QoS 1 round trip on the same broker.

Runs the real pad wiring (motcua.counter.daemon.serve) in-process on gpiozero's
MockFactory against a real Mosquitto; each press is committed to the SQLite
outbox (synchronous=FULL) before it is published. Also: a burst of presses,
and memory of a ``motcua counter --keyboard`` process.

    .venv/bin/python bench/counter_press.py [--presses 200] [--burst 500]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "counter")]

import paho.mqtt.client as mqtt  # noqa: E402
from counter_rig import NEXT, TOPICS, counter_config, press, run_pad  # noqa: E402
from gpiozero import Device  # noqa: E402
from gpiozero.pins.mock import MockFactory  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from rig import Mosquitto, Subscriber  # noqa: E402

from motcua.cli import load_rooms  # noqa: E402
from motcua.config import load_config  # noqa: E402

load_rooms()     # this script reads a site config: every room's section

CMD = TOPICS.counter_cmd("1")


def beat(subscriber: Subscriber, stop: threading.Event) -> None:
    """The caller's heartbeat, as the subscriber stands in for the caller: without it the pad
    would see no caller and keep only one unconfirmed press (docs/counter.md)."""
    from datetime import datetime

    from motcua.protocol import Heartbeat, encode

    seq = 0
    while not stop.wait(0.5 if seq else 0):
        seq += 1
        at = datetime.now().astimezone().isoformat(timespec="milliseconds")
        subscriber.client.publish(TOPICS.heartbeat, encode(Heartbeat(at=at, seq=seq)), qos=0)


def wait_count(subscriber: Subscriber, count: int, timeout: float = 30) -> None:
    with subscriber.changed:
        if not subscriber.changed.wait_for(lambda: len(subscriber.messages) >= count, timeout):
            raise TimeoutError(f"{len(subscriber.messages)} of {count} messages arrived")


def figures(name: str, samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    median = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(f"{name:<34} median {median:7.2f} ms   p99 {p99:7.2f} ms   (n={len(samples)})")
    return median, p99


def raw_round_trip(port: int, subscriber: Subscriber, count: int) -> list[float]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw")
    client.connect("127.0.0.1", port)
    client.loop_start()
    samples = []
    for _ in range(count):
        before = len(subscriber.messages)
        start = time.perf_counter()
        client.publish(CMD, b'{"v":1,"id":"x","action":"next"}', qos=1)
        wait_count(subscriber, before + 1)
        samples.append(time.perf_counter() - start)
    client.disconnect()
    client.loop_stop()
    return samples


def memory_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--burst", type=int, default=500)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto")
        broker.start()
        factory = MockFactory()
        Device.pin_factory = factory
        try:
            config_path = counter_config(Path(tmp), broker.url)
            subscriber = Subscriber(broker.port, CMD, client_id="bench-sub")
            beating = threading.Event()
            threading.Thread(target=beat, args=(subscriber, beating), daemon=True).start()
            raw = raw_round_trip(broker.port, subscriber, options.presses)
            pad = run_pad(load_config(config_path), "1", factory)
            pad.connected()
            samples = []
            for _ in range(options.presses):
                before = len(subscriber.messages)
                start = time.perf_counter()
                press(factory, NEXT)
                wait_count(subscriber, before + 1)
                samples.append(time.perf_counter() - start)
            raw_median, raw_p99 = figures("raw QoS 1 publish -> receive", raw)
            median, p99 = figures("GPIO press -> command received", samples)
            print(f"{'ratio to raw':<34} median {median / raw_median:7.2f} x    p99 {p99 / raw_p99:7.2f} x")

            before = len(subscriber.messages)
            start = time.perf_counter()
            for _ in range(options.burst):
                press(factory, NEXT)
            wait_count(subscriber, before + options.burst, timeout=120)
            elapsed = time.perf_counter() - start
            print(f"{'burst of presses, all received':<34} {options.burst} in {elapsed:.2f} s "
                  f"= {options.burst / elapsed:.0f} presses/s (each committed with fsync)")
            pad.stop()

            process = subprocess.Popen(
                [sys.executable, "-m", "motcua.cli", "counter", "--counter", "2", "--keyboard",
                 "--config", str(config_path)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, cwd=ROOT)
            second = Subscriber(broker.port, TOPICS.counter_cmd("2"), client_id="bench-sub-2")
            for n in range(1, 21):      # one at a time: this pad hears no heartbeat (docs/counter.md)
                process.stdin.write(b"a")
                process.stdin.flush()
                wait_count(second, n)
            threading.Event().wait(0.5)
            print(f"{'motcua counter --keyboard RSS':<34} {memory_kb(process.pid) / 1024:.1f} MB")
            process.terminate()
            process.wait(10)
            second.close()
            beating.set()
            subscriber.close()
        finally:
            Device.pin_factory.reset()
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
