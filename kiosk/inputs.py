"""Thin adapters for what a citizen touches and sees: buttons, keys, keypads, LED and buzzer.

Library threads (gpiozero callbacks, the stdin and evdev readers) only put
:class:`~motcua.kiosk.presses.Press` / :class:`~motcua.kiosk.presses.Scan`
events on the daemon's inbox, stamped with the monotonic time of the press.
"""

from __future__ import annotations

import codecs
import contextlib
import enum
import logging
import os
import queue
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from motcua.errors import HardwareError, require

from .presses import KeyStream, Press
from .settings import KioskSettings

log = logging.getLogger(__name__)


class GpioButtons:
    """One gpiozero Button per service (and the priority button) with a bounce time."""

    def __init__(self, settings: KioskSettings, inbox: queue.Queue, *, pin_factory: Any = None) -> None:
        gpiozero = require("gpiozero", "kiosk", "python3-gpiozero")
        bounce = settings.bounce_ms / 1000 or None
        wired: list[tuple[int, str | None]] = [(b.pin, b.service) for b in settings.buttons
                                               if b.pin is not None]
        if settings.priority_pin is not None:
            wired.append((settings.priority_pin, None))
        self.buttons = []
        try:
            for pin, service in wired:
                button = gpiozero.Button(pin, bounce_time=bounce, pin_factory=pin_factory)
                button.when_pressed = _enqueuer(inbox, service)
                self.buttons.append(button)
        except gpiozero.GPIOZeroError as exc:
            self.close()
            raise HardwareError(f"cannot use the kiosk buttons: {exc}") from exc

    def close(self) -> None:
        for button in self.buttons:
            button.close()


def _enqueuer(inbox: queue.Queue, service: str | None) -> Callable[[], None]:
    def pressed() -> None:
        inbox.put(Press(service=service, at=time.monotonic(), source="gpio"))
    return pressed


class _KeyReader:
    """A thread feeding characters to a KeyStream and its events to the inbox."""

    def __init__(self, stream: KeyStream, inbox: queue.Queue, name: str) -> None:
        self.stream = stream
        self.inbox = inbox
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _wait_time(self) -> float:
        deadline = self.stream.deadline()
        return 0.5 if deadline is None else max(0.0, deadline - time.monotonic())

    def _emit(self, text: str | None) -> None:
        now = time.monotonic()
        events = self.stream.feed(text, now) if text else self.stream.flush(now)
        for event in events:
            self.inbox.put(event)

    def _run(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)


class StdinKeys(_KeyReader):
    """``--keyboard``: each character on standard input is a press; a line with ``|`` a scan."""

    def __init__(self, stream: KeyStream, inbox: queue.Queue, fd: int = 0) -> None:
        super().__init__(stream, inbox, "kiosk-stdin")
        self.fd = fd
        self._saved_tty: list | None = None
        if os.isatty(fd):
            import termios
            import tty

            self._saved_tty = termios.tcgetattr(fd)
            tty.setcbreak(fd)      # one key, one press: no waiting for Enter

    def _run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while not self.stopped.is_set():
            readable, _, _ = select.select([self.fd], [], [], self._wait_time())
            if not readable:
                self._emit(None)
                continue
            data = os.read(self.fd, 4096)
            if not data:
                self._emit("\n")          # end of input closes the last burst
                return
            self._emit(decoder.decode(data))

    def close(self) -> None:
        super().close()
        if self._saved_tty is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved_tty)


# evdev key names -> (character, character with Shift); enough for keypads and CCCD scans.
_EVDEV_KEYS: dict[str, tuple[str, str]] = {
    **{f"KEY_{d}": (d, ")!@#$%^&*("[int(d)]) for d in "0123456789"},
    **{f"KEY_KP{d}": (d, d) for d in "0123456789"},
    **{f"KEY_{c}": (c.lower(), c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    "KEY_ENTER": ("\n", "\n"), "KEY_KPENTER": ("\n", "\n"), "KEY_SPACE": (" ", " "),
    "KEY_BACKSLASH": ("\\", "|"), "KEY_MINUS": ("-", "_"), "KEY_DOT": (".", ">"),
    "KEY_KPASTERISK": ("*", "*"), "KEY_KPMINUS": ("-", "-"), "KEY_KPPLUS": ("+", "+"),
    "KEY_KPDOT": (".", "."), "KEY_KPSLASH": ("/", "/"),
}


def evdev_character(key_name: str, shift: bool) -> str | None:
    """The character a key press types on a US layout, or None for other keys."""
    pair = _EVDEV_KEYS.get(key_name)
    return None if pair is None else pair[shift]


class EvdevKeys(_KeyReader):
    """A USB keypad or keyboard-mode QR scanner read directly (grabbed) through evdev."""

    def __init__(self, path: str, stream: KeyStream, inbox: queue.Queue) -> None:
        super().__init__(stream, inbox, f"kiosk-evdev-{os.path.basename(path)}")
        self.evdev = require("evdev", "kiosk", "python3-evdev")
        try:
            self.device = self.evdev.InputDevice(path)
            self.device.grab()    # keystrokes are for the kiosk, not the console
        except OSError as exc:
            raise HardwareError(f"cannot open the input device {path}: {exc}") from exc
        self.shift = False

    def _run(self) -> None:
        ecodes = self.evdev.ecodes
        while not self.stopped.is_set():
            readable, _, _ = select.select([self.device.fd], [], [], self._wait_time())
            if not readable:
                self._emit(None)
                continue
            try:
                events = list(self.device.read())
            except OSError as exc:
                log.error("input device %s is gone: %s", self.device.path, exc)
                return
            for event in events:
                if event.type != ecodes.EV_KEY:
                    continue
                name = ecodes.KEY.get(event.code)
                name = name[0] if isinstance(name, list) else name
                if name in ("KEY_LEFTSHIFT", "KEY_RIGHTSHIFT"):
                    self.shift = event.value != 0
                elif event.value == 1 and name:
                    char = evdev_character(name, self.shift)
                    if char:
                        self._emit(char)

    def close(self) -> None:
        super().close()
        with contextlib.suppress(OSError):
            self.device.ungrab()
            self.device.close()


class Light(enum.StrEnum):
    """What the kiosk's LED tells the citizen."""

    READY = "ready"              # steady on: press a button
    PRINTING = "printing"
    CLOSED = "closed"            # a short blink every 3 s: outside opening hours
    FAULT = "fault"              # printer offline, paper out, cover open
    EXHAUSTED = "exhausted"      # a service's numbers are used up (stop)
    NO_HUB = "no_hub"            # tickets still print, but the hub is away: a dark blink every 3 s


class Beep(enum.StrEnum):
    SCAN_OK = "scan_ok"
    SCAN_REFUSED = "scan_refused"
    REFUSED = "refused"          # closed, printer fault or range used up: no ticket
    PRINT_FAILED = "print_failed"


# LED patterns (on seconds, off seconds; None: steady) and buzzer patterns (on, off, count).
LED_PATTERNS: dict[Light, tuple[float, float] | None] = {
    Light.READY: None,
    Light.PRINTING: (0.05, 0.05),
    Light.CLOSED: (0.2, 2.8),
    Light.FAULT: (0.15, 0.35),
    Light.EXHAUSTED: (1.0, 1.0),
    Light.NO_HUB: (2.5, 0.5),
}
BEEPS: dict[Beep, tuple[float, float, int]] = {
    Beep.SCAN_OK: (0.08, 0.0, 1),
    Beep.SCAN_REFUSED: (0.4, 0.2, 2),
    Beep.REFUSED: (0.1, 0.1, 3),
    Beep.PRINT_FAILED: (0.6, 0.3, 3),
}


class Indicator:
    """The kiosk's LED and buzzer; without pins it only remembers what it would show."""

    def __init__(self, led_pin: int | None = None, buzzer_pin: int | None = None, *,
                 pin_factory: Any = None) -> None:
        self.state: Light | None = None
        self.led = self.buzzer = None
        if led_pin is not None or buzzer_pin is not None:
            gpiozero = require("gpiozero", "kiosk", "python3-gpiozero")
            try:
                if led_pin is not None:
                    self.led = gpiozero.LED(led_pin, pin_factory=pin_factory)
                if buzzer_pin is not None:
                    self.buzzer = gpiozero.Buzzer(buzzer_pin, pin_factory=pin_factory)
            except gpiozero.GPIOZeroError as exc:
                self.close()
                raise HardwareError(f"cannot use the kiosk LED/buzzer: {exc}") from exc

    def show(self, state: Light) -> None:
        if state == self.state:
            return
        self.state = state
        if self.led is not None:
            pattern = LED_PATTERNS[state]
            if pattern is None:
                self.led.on()
            else:
                self.led.blink(on_time=pattern[0], off_time=pattern[1], background=True)

    def beep(self, pattern: Beep) -> None:
        if self.buzzer is not None:
            on, off, count = BEEPS[pattern]
            self.buzzer.beep(on_time=on, off_time=off, n=count, background=True)

    def close(self) -> None:
        for device in (self.led, self.buzzer):
            if device is not None:
                device.close()
