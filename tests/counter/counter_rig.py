"""Counter test helpers: the example office with extra keys, a persistent subscriber, daemons in threads."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from motcua.counter.daemon import ButtonBridge, CounterPad, serve, serve_bridge
from paho.mqtt.enums import CallbackAPIVersion

from motcua.config import SiteConfig
from motcua.protocol import Topics

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "liem-chung.toml"
TOPICS = Topics("liem-chung")
NEXT, RECALL, SKIP, DONE = 5, 6, 13, 19       # [counter_pad].pins of the example
PAD_LED, THANKS_LED = 12, 16
RATING_PINS = (20, 21, 26)


def counter_config(directory: Path, broker_url: str, *, pins: str = "", pad_keys: str = "",
                   extra: str = "") -> Path:
    """The example config for the test broker: ``pins`` join [counter_pad].pins (``pause = 20``),
    ``pad_keys`` go into [counter_pad], ``extra`` at the end."""
    state = directory / "state"
    state.mkdir(parents=True, exist_ok=True)
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^state_dir = .*$', f'state_dir = "{state}"', text)
    text = re.sub(r'(?m)^url = .*$', f'url = "{broker_url}"', text)
    if pins:
        text = re.sub(r'(?m)^(pins = \{.*) \}$', lambda m: f"{m.group(1)}, {pins} }}", text, count=1)
    text = re.sub(r'(?m)^(bounce_ms = .*)$', lambda m: f"{m.group(1)}\n{pad_keys}", text, count=1)
    path = directory / "site.toml"
    path.write_text(f"{text}\n{extra}\n", encoding="utf-8")
    return path


WIRED = f"""
[counter_pad.rating]
pins = [{", ".join(map(str, RATING_PINS))}]
keys = ["7", "8", "9"]
led_pin = {THANKS_LED}
thanks_s = 0.5
"""


def eventually(predicate, timeout: float = 10.0) -> bool:
    """Wait for a condition on state that notifies nobody (a database, a pad's fields)."""
    deadline, pause = time.monotonic() + timeout, threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.01)
    return True


class Subscriber:
    """A subscriber with a persistent session, as the caller has: the broker keeps its messages
    across its own restart and while this client reconnects."""

    def __init__(self, port: int, *topics: str, client_id: str = "test-caller") -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.changed = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.reconnect_delay_set(0.2, 1)
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def _on_message(self, client, userdata, message) -> None:
        with self.changed:
            self.messages.append((message.topic, bytes(message.payload)))
            self.changed.notify_all()

    def decoded(self, topic: str, kind) -> list:
        with self.changed:
            return [kind.decode(payload) for t, payload in self.messages if t == topic]

    def wait_for(self, topic: str, kind, count: int, timeout: float = 15) -> list:
        """The first ``count`` distinct messages (by id) on ``topic``, once they are in."""
        def distinct() -> list:
            seen: dict[str, object] = {}
            for message in self.decoded(topic, kind):
                seen.setdefault(message.id, message)
            return list(seen.values())

        with self.changed:
            self.changed.wait_for(lambda: len(distinct()) >= count, timeout)
        return distinct()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Running:
    """A daemon's real wiring (serve or serve_bridge) in a thread; stop() ends it like SIGTERM."""

    def __init__(self, target, *args, **kwargs) -> None:
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.daemon: CounterPad | ButtonBridge | None = None
        self.error: BaseException | None = None
        self.result: int | None = None
        self.thread = threading.Thread(target=self._run, args=(target, args, kwargs), daemon=True)
        self.thread.start()
        if not self.ready.wait(10) or self.error:
            raise RuntimeError(f"the daemon did not start: {self.error!r}")

    def _run(self, target, args, kwargs) -> None:
        def started(daemon) -> None:
            self.daemon = daemon
            self.ready.set()

        try:
            self.result = target(*args, self.stop_event, started=started, **kwargs)
        except BaseException as exc:
            self.error = exc
            self.ready.set()
            raise

    def connected(self, timeout: float = 10) -> bool:
        return self.daemon.link.connected.wait(timeout)

    def stop(self) -> int | None:
        self.stop_event.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
        return self.result


def run_pad(config: SiteConfig, counter_id: str, mock_factory, **options) -> Running:
    return Running(serve, config, config.counter(counter_id), pin_factory=mock_factory, **options)


def run_bridge(config: SiteConfig) -> Running:
    return Running(serve_bridge, config)


def press(mock_factory, pin: int) -> None:
    mock_factory.pin(pin).drive_low()
    mock_factory.pin(pin).drive_high()
