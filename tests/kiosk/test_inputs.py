"""Buttons on gpiozero's MockFactory, keys through a real pipe, LED and buzzer patterns."""

from __future__ import annotations

import os
import queue
import threading
import time
import tomllib
from pathlib import Path

import pytest
from motcua.kiosk import settings as kiosk_settings
from motcua.kiosk.inputs import GpioButtons, Indicator, StdinKeys, evdev_character
from motcua.kiosk.presses import KeyStream, Press, Scan
from seams import beeps

from motcua.config import Service
from motcua.config_reader import Table

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "liem-chung.toml"
SERVICES = tuple(Service(s, s, "", 1, 999, "wrap") for s in ("dat-dai", "tu-phap", "ldtbxh", "chung-thuc"))


@pytest.fixture
def kiosk() -> kiosk_settings.KioskSettings:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    return kiosk_settings.parse(Table({"kiosks": data["kiosks"]}, "", "site.toml"), SERVICES)[0]


def drain(inbox: queue.Queue, count: int, timeout: float = 5.0) -> list:
    return [inbox.get(timeout=timeout) for _ in range(count)]


def test_each_gpio_button_puts_its_service_on_the_inbox(mock_factory, kiosk) -> None:
    inbox: queue.Queue = queue.Queue()
    buttons = GpioButtons(kiosk, inbox, pin_factory=mock_factory)
    try:
        for pin in (27, 24, 23):                 # tu-phap, priority, chung-thuc
            mock_factory.pin(pin).drive_low()
            mock_factory.pin(pin).drive_high()
        events = drain(inbox, 3)
        assert [e.service for e in events] == ["tu-phap", None, "chung-thuc"]
        assert all(isinstance(e, Press) and e.source == "gpio" for e in events)
        assert events[0].at <= events[1].at <= events[2].at
        assert inbox.empty()
    finally:
        buttons.close()


def test_the_configured_bounce_time_reaches_the_pin(mock_factory, kiosk) -> None:
    # The pin driver debounces (MockPin only records it); mashing is the hold-off's job.
    buttons = GpioButtons(kiosk, queue.Queue(), pin_factory=mock_factory)
    try:
        assert {mock_factory.pin(p).bounce for p in (17, 27, 22, 23, 24)} == {0.05}
    finally:
        buttons.close()


def test_stdin_keys_and_a_scan_line_through_a_pipe(kiosk) -> None:
    read_end, write_end = os.pipe()
    inbox: queue.Queue = queue.Queue()
    reader = StdinKeys(KeyStream(kiosk.keys(), gap_s=0.05), inbox, fd=read_end)
    reader.start()
    try:
        os.write(write_end, b"1")
        first = drain(inbox, 1)
        scan = "035095001234||Nguyễn Văn An|07031995|Nam|Liêm Chung|15082021"
        os.write(write_end, scan.encode()[:7])            # a scanner's bytes arrive in pieces
        os.write(write_end, scan.encode()[7:] + b"\r\n")
        os.write(write_end, b"04")
        events = first + drain(inbox, 3)
        assert [type(e).__name__ for e in events] == ["Press", "Scan", "Press", "Press"]
        assert events[1] == Scan(scan, events[1].at)
        assert [e.service for e in events if isinstance(e, Press)] == ["dat-dai", None, "chung-thuc"]
    finally:
        os.close(write_end)
        reader.close()
        os.close(read_end)


def test_evdev_keys_map_to_characters() -> None:
    assert evdev_character("KEY_1", False) == "1" and evdev_character("KEY_KP4", False) == "4"
    assert evdev_character("KEY_BACKSLASH", True) == "|" and evdev_character("KEY_A", True) == "A"
    assert evdev_character("KEY_KPENTER", False) == "\n" and evdev_character("KEY_F1", False) is None


def wait_for_changes(pin, count: int) -> bool:
    done = threading.Event()
    deadline = time.monotonic() + 5
    while len(pin.states) < count and time.monotonic() < deadline:
        done.wait(0.02)
    return len(pin.states) >= count


def test_led_patterns_and_buzzer_on_mock_pins(mock_factory) -> None:
    indicator = Indicator(12, 16, pin_factory=mock_factory)
    led, buzzer = mock_factory.pin(12), mock_factory.pin(16)
    try:
        indicator.show("ready")
        assert led.state and len(led.states) == 2          # off at start, then steady on
        indicator.show("fault")                            # blinking: on, off, on, ...
        assert wait_for_changes(led, 6)
        buzzer.clear_states()
        indicator.beep("refused")                          # three short beeps: six changes
        assert beeps(buzzer) == ["refused"] and len(buzzer.states) == 7 and not buzzer.state
    finally:
        indicator.close()


def test_without_pins_the_indicator_only_remembers_the_led_state() -> None:
    indicator = Indicator()
    indicator.show("fault")
    indicator.beep("scan_refused")           # no buzzer: nothing to sound, nothing fails
    assert indicator.state == "fault"
