"""Counter test helpers: the example office with extra keys, a persistent subscriber, daemons in threads."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from motcua.counter.daemon import ButtonBridge, CounterPad, serve, serve_bridge

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


# Wireless buttons of three kinds (Zigbee2MQTT, Tasmota, ESPHome) on counters 1 and 2.
BUTTONS = """
[[counter_pad.mqtt_buttons]]
topic = "zigbee2mqtt/quay-1-nut"
payload = { action = "single" }
counter = "1"
action = "next"

[[counter_pad.mqtt_buttons]]
topic = "zigbee2mqtt/quay-1-nut"
payload = { action = "double" }
counter = "1"
action = "recall"

[[counter_pad.mqtt_buttons]]
topic = "zigbee2mqtt/quay-1-nut"
payload = { action = "hold" }
counter = "1"
action = "pause"

[[counter_pad.mqtt_buttons]]
topic = "stat/tasmota-quay-2/RESULT"
payload = { Button1 = { Action = "SINGLE" } }
counter = "2"
action = "done"

[[counter_pad.mqtt_buttons]]
topic = "esphome/danh-gia-2/hai-long"
payload = "ON"
counter = "2"
action = "rate:2"
"""


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
