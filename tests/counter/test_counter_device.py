"""The counter pad, its rating buttons and the MQTT-buttons bridge, directly through their seams:
buttons and LEDs on gpiozero's MockFactory, the real SQLite outbox, and a link that records
what they hand it (no broker: what crosses the wire is in test_counter_daemon.py and
test_bridge.py). The test is the owner thread: it hands each event to ``handle``."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest
from counter_rig import (
    BUTTONS,
    DONE,
    NEXT,
    PAD_LED,
    RATING_PINS,
    RECALL,
    SKIP,
    THANKS_LED,
    TOPICS,
    WIRED,
    counter_config,
)
from motcua.counter.daemon import ButtonBridge, CounterPad, pick_counter, serve_bridge
from motcua.counter.inputs import GpioButtons, Led
from motcua.counter.outbox import Outbox
from motcua.counter.pad import ACK_FLASH_S, LOST, Press
from rig import eventually
from seams import RecordingLink

from motcua.config import SiteConfig, load_config
from motcua.errors import ConfigError
from motcua.mqtt import Inbound, LinkDown, LinkUp
from motcua.protocol import CounterCommand, CounterState, Rate, Rating, Received, encode

CMD, RATING, STATE = TOPICS.counter_cmd("1"), TOPICS.counter_rating("1"), TOPICS.counter_state("1")
PAUSE = 20


def config_of(directory: Path, **parts: str) -> SiteConfig:
    return load_config(counter_config(directory, "mqtt://127.0.0.1:1", **parts))


class Clock:
    """The pad's monotonic clock, moved on by the test (presses carry their own time)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


class Pad:
    """Counter 1's pad on mock pins, its outbox on disk, a recording link."""

    def __init__(self, directory: Path, mock_factory, config: SiteConfig, *, up: bool = True) -> None:
        settings = config.counter_pad
        self.pins = mock_factory
        self.inbox: queue.Queue = queue.Queue()
        self.link = RecordingLink(TOPICS.status("counter", "1"))
        self.outbox = Outbox(directory / "counter-1.db", self.link)
        self.pad_led = Led(settings.led_pin, pin_factory=mock_factory)
        self.thanks_led = Led(settings.rating.led_pin, pin_factory=mock_factory)
        self.buttons = GpioButtons(settings.button_pins(), settings.bounce_ms, self.inbox,
                                   pin_factory=mock_factory)
        self.lines: list[str] = []
        self.clock = Clock()
        self.pad = CounterPad(config, config.counter("1"), link=self.link, outbox=self.outbox,
                              pad_led=self.pad_led, thanks_led=self.thanks_led, show=self.lines.append,
                              clock=self.clock)
        self.pad.start()
        if up:
            self.pad.handle(LinkUp(session_present=False))
        else:
            self.link.connected.clear()

    def press(self, *pins: int) -> list[Press]:
        for pin in pins:
            self.pins.pin(pin).drive_low()
            self.pins.pin(pin).drive_high()
        presses = [self.inbox.get(timeout=5) for _ in pins]
        for press in presses:
            self.pad.handle(press)
        return presses

    def commands(self) -> list[CounterCommand]:
        return [CounterCommand.decode(p) for p in self.link.payloads(CMD)]

    def state(self, status: str, seq: int, *, retain: bool = True, **fields) -> None:
        payload = encode(CounterState(counter="1", status=status, seq=seq, **fields))
        self.pad.handle(Inbound(topic=STATE, payload=payload, mid=seq, qos=1, retain=retain))

    def confirm(self, ids: list[str]) -> None:
        self.pad.handle(Inbound(topic=TOPICS.received, payload=encode(Received(ids=ids)), mid=0, qos=1,
                                retain=False))

    def rows(self) -> int:
        return self.outbox.db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        self.buttons.close()
        self.pad_led.close()
        self.thanks_led.close()
        self.outbox.close()


@pytest.fixture
def make_pad(tmp_path: Path, mock_factory):
    made: list[Pad] = []

    def make(config: SiteConfig | None = None, **options) -> Pad:
        pad = Pad(tmp_path, mock_factory, config or config_of(tmp_path), **options)
        made.append(pad)
        return pad

    yield make
    for pad in made:
        pad.close()


def test_each_button_press_is_one_command_with_its_own_id_kept_until_confirmed(make_pad) -> None:
    pad = make_pad()
    pad.press(NEXT, RECALL, SKIP, DONE, NEXT)
    commands = pad.commands()
    assert [c.action for c in commands] == ["next", "recall", "skip", "done", "next"]
    assert len({c.id for c in commands}) == 5
    assert pad.rows() == 5 and pad.pad.outbox.pending == 5          # the broker's PUBACK is not delivery
    assert pad.lines[-5:] == ["→ Gọi số tiếp theo", "→ Gọi lại", "→ Bỏ qua (vắng mặt)", "→ Xong",
                              "→ Gọi số tiếp theo"]
    pad.confirm([c.id for c in commands])
    assert pad.rows() == 0 and pad.pad.sent == 1


def test_pause_button_resumes_a_paused_counter(tmp_path: Path, make_pad) -> None:
    pad = make_pad(config_of(tmp_path, pins=f"pause = {PAUSE}"))
    pad.state("paused", 3)
    pad.press(PAUSE)
    pad.state("serving", 4, number="1001")
    pad.press(PAUSE)
    assert [c.action for c in pad.commands()] == ["resume", "pause"]


def test_rating_buttons_send_scores_best_first_and_light_the_thanks_led(tmp_path: Path, make_pad) -> None:
    pad = make_pad(config_of(tmp_path, extra=WIRED))
    thanks = pad.pins.pin(THANKS_LED)
    [first] = pad.press(RATING_PINS[2])
    assert thanks.state                                       # "cảm ơn" at once
    pad.press(RATING_PINS[0])                                 # within the thank-you: ignored
    assert [Rating.decode(p).score for p in pad.link.payloads(RATING)] == [3]
    pad.clock.offset += 0.5                                   # thanks_s = 0.5 later
    pad.pad.tick()
    assert not thanks.state
    pad.pad.handle(Press(Rate(1), at=first.at + 0.5, source="gpio"))
    ratings = [Rating.decode(p) for p in pad.link.payloads(RATING)]
    assert [r.score for r in ratings] == [3, 1] and ratings[0].id != ratings[1].id
    assert pad.lines[-1] == "→ Đánh giá: Rất hài lòng: cảm ơn quý công dân!"
    assert pad.commands() == []


def test_pad_led_follows_the_counter_state_and_flashes_on_a_confirmation(tmp_path: Path, make_pad,
                                                                          mock_factory) -> None:
    pad = make_pad(config_of(tmp_path, pad_keys=f"led_pin = {PAD_LED}"))
    led = mock_factory.pin(PAD_LED)
    pad.state("serving", 1, number="1001", service="dat-dai")
    assert led.state                                          # on while serving
    pad.state("idle", 2)
    assert not led.state                                      # off when idle
    led.clear_states()
    pad.state("paused", 3)                                    # slow blink: on, off, on ...
    assert pad.pad_led.mode == "slow_blink"
    assert eventually(lambda: [s.state for s in led.states][1:3] == [True, False], timeout=5), led.states
    pad.state("idle", 4)
    assert not led.state
    pad.press(NEXT)
    assert pad.pad_led.mode == "fast_blink"                   # not confirmed yet
    pad.confirm([pad.commands()[0].id])
    assert pad.pad_led.mode == "on" and led.state             # confirmed: a short flash ...
    pad.clock.offset += ACK_FLASH_S
    pad.pad.tick()
    assert pad.pad_led.mode == "off" and not led.state        # ... then back to idle


def test_stale_and_malformed_counter_states_are_ignored(make_pad) -> None:
    pad = make_pad()
    pad.state("serving", 7, retain=False, number="1001")
    assert pad.pad.state.status == "serving"
    pad.state("idle", 6, retain=False)
    pad.pad.handle(Inbound(topic=STATE, payload=b"{not json", mid=9, qos=1, retain=False))
    assert pad.pad.dropped == 1 and pad.pad.state.status == "serving"
    assert pad.lines[-1] == "Quầy số 1: đang phục vụ số 1001 · đang chờ: 0"


def test_while_the_caller_cannot_be_reached_one_press_is_kept_the_others_refused(make_pad) -> None:
    pad = make_pad()
    pad.press(NEXT)
    pad.confirm([pad.commands()[0].id])
    pad.link.connected.clear()
    pad.pad.handle(LinkDown("the broker went away"))
    pad.press(DONE, NEXT, RECALL)
    # The first is kept on disk; the pad knows it cannot reach the caller, so the others are
    # refused there rather than becoming a burst later.
    assert pad.pad.refused == 2 and pad.rows() == 1
    assert pad.lines[-2:] == [f"✗ Gọi số tiếp theo: không gửi – {LOST}", f"✗ Gọi lại: không gửi – {LOST}"]
    assert [c.action for c in pad.commands()] == ["next"]
    pad.link.connected.set()
    pad.pad.handle(LinkUp(session_present=False))
    assert [c.action for c in pad.commands()] == ["next", "done"]
    pad.confirm([pad.commands()[1].id])
    assert pad.rows() == 0


def test_presses_left_by_a_stopped_pad_are_sent_by_the_next_run(make_pad) -> None:
    pad = make_pad(up=False)                                 # started with the broker away
    pad.press(NEXT, SKIP)                                     # SKIP refused: the caller cannot be reached
    assert pad.pad.refused == 1 and pad.rows() == 1 and pad.commands() == []
    pad.close()                                               # power cut or restart
    again = make_pad()
    assert [c.action for c in again.commands()] == ["next"]
    again.confirm([again.commands()[0].id])
    assert again.rows() == 0


def test_the_counter_to_run_must_be_in_the_config(tmp_path: Path) -> None:
    config = config_of(tmp_path)
    assert pick_counter(config, "3").name == "Quầy số 3"
    with pytest.raises(ConfigError) as unknown:
        pick_counter(config, "9")
    assert (unknown.value.key, unknown.value.reason) == ("--counter", "no counter '9' in the config "
                                                                      "(known: 1, 2, 3, 4)")
    with pytest.raises(ConfigError, match="--mqtt-buttons"):
        pick_counter(config, None)


# -- the MQTT-buttons bridge -------------------------------------------------------------

@pytest.fixture
def bridge(tmp_path: Path):
    config = config_of(tmp_path, extra=BUTTONS)
    link = RecordingLink(TOPICS.status("counter", "buttons"))
    outbox = Outbox(tmp_path / "counter-buttons.db", link)
    bridge = ButtonBridge(config, link=link, outbox=outbox)
    bridge.handle(LinkUp(session_present=True))
    yield bridge
    outbox.close()


def message(topic: str, payload: bytes, mid: int = 1, retain: bool = False) -> Inbound:
    return Inbound(topic=topic, payload=payload, mid=mid, qos=1, retain=retain)


def actions(bridge: ButtonBridge, counter: str) -> list[str]:
    return [CounterCommand.decode(p).action for p in bridge.link.payloads(TOPICS.counter_cmd(counter))]


def test_malformed_and_unmatched_messages_are_dropped_and_the_bridge_goes_on(bridge) -> None:
    # (30,000 brackets: the hub's broker closes a sender of more than 32 KiB, docs/reliability.md.)
    junk = [message("zigbee2mqtt/quay-1-nut", payload) for payload in (
        b"{not json", b"\xff\xfe", b'["single"]', b'{"action":"triple"}', b'{"action":1}', b"single",
        b'{"action":{"x":"single"}}', b"[" * 30_000)]
    junk += [message("stat/tasmota-quay-2/RESULT", b'{"Button1":"SINGLE"}'),
             message("esphome/danh-gia-2/hai-long", b"OFF"),
             message(TOPICS.counter_state("1"), b"garbage")]
    good = message("zigbee2mqtt/quay-1-nut", b'{"action":"single"}')
    for event in [*junk, good]:
        bridge.handle(event)
    assert bridge.ignored == 11
    assert actions(bridge, "1") == ["next"]
    assert bridge.link.acked == [*junk, good]          # each acknowledged once handled
    assert bridge.outbox.pending == 1


def test_hold_to_pause_resumes_a_paused_counter(bridge) -> None:
    bridge.handle(message(TOPICS.counter_state("1"),
                          encode(CounterState(counter="1", status="paused", seq=1)), retain=True))
    bridge.handle(message("zigbee2mqtt/quay-1-nut", b'{"action":"hold"}'))
    assert actions(bridge, "1") == ["resume"]


def test_a_bridge_without_buttons_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"counter_pad\.mqtt_buttons: no MQTT buttons"):
        serve_bridge(config_of(tmp_path), threading.Event())
