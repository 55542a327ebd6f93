"""The caller's memory and drain time after a flood of maximum-size messages (issue 18).

A stolen counter password floods ``counter/1/cmd`` with packets just under the broker's
32 KiB limit while the caller is away; the caller (``motcua caller --audio none``, its own
process, its own account) comes back and drains its persistent session. Everything runs on
the shipped hub config (systemd/mosquitto/motcua.conf through tests/rig.py) with the
accounts ``motcua broker-config`` writes. Printed: the caller's resident memory before the
flood, its peak while draining and after, the messages the broker queued (and dropped
beyond ``max_queued_bytes``), and the time from the caller's start until it has handled
them all.

    .venv/bin/python bench/caller_flood.py [--count 600]

The flood is slow to queue: the broker rewrites (and fsyncs) its whole queue on every
change, so queuing N large messages writes about N² × 16 KiB (docs/reliability.md, "Limits").
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from rig import Mosquitto, resident_kb, start_daemon, write_site_config  # noqa: E402

from motcua.broker_config import set_device_account, write_broker_files  # noqa: E402
from motcua.cli import load_rooms  # noqa: E402
from motcua.config import load_config  # noqa: E402
from motcua.protocol import Status, Topics  # noqa: E402

load_rooms()     # this script reads a site config: every room's section

TOPICS = Topics("liem-chung")
CALLER = TOPICS.status("caller", "hub")
PACKET_LIMIT = 32 * 1024
# Fixed header (5), topic length (2) and topic, packet id (2): the rest of a packet is payload.
PAYLOAD = PACKET_LIMIT - 5 - 2 - len(TOPICS.counter_cmd("1")) - 2


def client(port: int, username: str, secret: Path) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    c.username_pw_set(username, secret.read_text(encoding="utf-8").strip())
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    return c


class Watcher:
    """The caller's status as the web role (its own account) sees it."""

    def __init__(self, port: int, secret: Path) -> None:
        self.health: dict = {}
        self.changed = threading.Condition()
        self.c = client(port, "web", secret)
        self.c.on_connect = lambda c, u, f, r, p: c.subscribe(CALLER, qos=1)
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on_message(self, c, userdata, message) -> None:
        status = Status.decode(message.payload)
        with self.changed:
            self.health = status.health if status.state == "online" else {}
            self.changed.notify_all()

    def wait(self, predicate, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.health), timeout)


def flood(port: int, secret: Path, count: int) -> float:
    attacker = client(port, "counter-1", secret)
    acked: queue.Queue = queue.Queue()
    attacker.on_publish = lambda c, u, mid, reason, p: acked.put(mid)
    attacker.connect("127.0.0.1", port)
    attacker.loop_start()
    started = time.monotonic()
    junk = json.dumps({"id": "flood", "pad": "x" * (PAYLOAD - 30)}).encode()[:PAYLOAD]
    for _ in range(count):
        attacker.publish(TOPICS.counter_cmd("1"), junk, qos=1)
    for _ in range(count):
        acked.get(timeout=600)
    attacker.disconnect()
    attacker.loop_stop()
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=600, help="flood messages (default 600)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = write_broker_files(load_config(write_site_config(work / "accounts")), work / "broker")
        broker = Mosquitto(work / "mosquitto", passwords=files.passwords, acl=files.acl)
        broker.start()
        config = write_site_config(work / "hub", broker_url=broker.url)
        set_device_account(config, "caller", files.secrets["caller"], url=broker.url)
        logs = work / "logs"
        logs.mkdir()
        args = ["caller", "--config", str(config), "--audio", "none", "--db", str(work / "caller.db")]
        watcher = Watcher(broker.port, files.secrets["web"])
        caller = start_daemon("caller", args, logs)
        try:
            assert watcher.wait(lambda h: "dropped" in h, 60), "the caller did not start"
            time.sleep(2)                                   # let it settle before measuring
            before = resident_kb(caller.pid)
            caller.terminate()
            caller.wait(30)
            queued_in = flood(broker.port, files.secrets["counter-1"], options.count)
            dropped_by_broker = broker.log.read_text(errors="replace").count(
                "Outgoing messages are being dropped")
            with watcher.changed:
                watcher.health = {}
            started = time.monotonic()
            caller = start_daemon("caller-again", args, logs)
            peak, done, seen = 0, None, 0
            # Its health is published about once a second; "dropped" counts the malformed
            # messages it logged and dropped. Done: all of them, or no change for 30 s (the
            # broker had fewer to give: max_queued_bytes).
            while time.monotonic() - started < 600:
                peak = max(peak, resident_kb(caller.pid))
                handled = watcher.health.get("dropped", 0)
                if handled != seen:
                    seen, done = handled, time.monotonic() - started
                if seen >= options.count or (seen and time.monotonic() - started - done > 30):
                    break
                time.sleep(0.05)
            time.sleep(2)
            after = resident_kb(caller.pid)
            handled = watcher.health.get("dropped", 0)
        finally:
            caller.terminate()
            caller.wait(30)
            watcher.c.loop_stop()
            broker.stop()
    size = PACKET_LIMIT // 1024
    print(f"flood: {options.count} messages of {size} KiB on counter/1/cmd while the caller was away; "
          f"the broker took them in {queued_in:.1f} s"
          + (" and dropped some beyond max_queued_bytes" if dropped_by_broker else ""))
    print(f"caller handled (logged and dropped as malformed): {handled}")
    print(f"drain: {done:.1f} s from the caller's start" if done else "drain: not finished in 600 s")
    print(f"caller RSS: before {before / 1024:.1f} MB, peak while draining {peak / 1024:.1f} MB, "
          f"after {after / 1024:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
