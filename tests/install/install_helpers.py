"""Install-room test helpers: the example site for a test broker and a small MQTT device
that logs in as one account."""

from __future__ import annotations

import queue
import re
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "liem-chung.toml"


def site_file(directory: Path, broker_url: str) -> Path:
    """The example office config pointed at a test broker and a temporary state dir."""
    state = directory / "state"
    state.mkdir(parents=True, exist_ok=True)
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^state_dir = .*$', f'state_dir = "{state}"', text)
    text = re.sub(r'(?m)^url = .*$', f'url = "{broker_url}"', text)
    path = directory / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)


TIMEOUT = 10.0


class Refused(Exception):
    """The broker refused the connection."""


class Device:
    def __init__(self, port: int, username: str | None = None, password: str | None = None, *,
                 client_id: str = "", persistent: bool = False) -> None:
        self.port = port
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._connack: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._subacks: dict[int, threading.Event] = {}
        self._granted: dict[int, list] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=not persistent, protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, u, flags, reason, p: self._connack.put(reason)
        self.client.on_message = lambda c, u, message: self.messages.put(message)
        self.client.on_subscribe = self._on_subscribe

    @classmethod
    def login(cls, port: int, username: str, secret: Path, **kwargs) -> Device:
        device = cls(port, username, secret.read_text(encoding="utf-8").strip(), **kwargs)
        device.connect()
        return device

    def connect(self) -> None:
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        try:
            reason = self._connack.get(timeout=TIMEOUT)
        except queue.Empty:
            reason = None
        if reason is None or reason.is_failure:
            self.close()
            raise Refused(str(reason))

    def subscribe(self, topic: str) -> bool:
        """Subscribe at QoS 1; whether the broker granted it."""
        _, mid = self.client.subscribe(topic, qos=1)
        assert self._suback(mid).wait(TIMEOUT), f"no SUBACK for {topic}"
        return not self._granted[mid][0].is_failure

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._granted[mid] = reason_codes
        self._suback(mid).set()

    def _suback(self, mid: int) -> threading.Event:
        # The SUBACK may arrive before subscribe() returns its mid: both sides share one event.
        with self._lock:
            return self._subacks.setdefault(mid, threading.Event())

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the PUBACK (MQTT 3.1.1 acks denied publishes too)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=TIMEOUT)
        assert info.is_published(), f"no PUBACK for {topic}"

    def receive(self) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=TIMEOUT)

    def receive_until(self, fence_topic: str) -> list[tuple[str, bytes]]:
        """Every message up to and including the one on ``fence_topic``."""
        seen = []
        while True:
            message = self.receive()
            seen.append((message.topic, bytes(message.payload)))
            if message.topic == fence_topic:
                return seen

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
