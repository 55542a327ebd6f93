"""Thin adapters: GPIO buttons and keys in, LEDs out.

Library threads (gpiozero callbacks, the stdin reader) only put a
:class:`~motcua.counter.pad.Press` on the owner's inbox and return.
"""

from __future__ import annotations

import codecs
import logging
import os
import queue
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from motcua.errors import HardwareError, require
from motcua.protocol import PadAction

from .pad import LED_MODES, LedMode, Press

log = logging.getLogger(__name__)


class GpioButtons:
    """One gpiozero Button per action (``rate:N`` for rating levels), with a bounce time."""

    def __init__(self, pins: dict[PadAction, int], bounce_ms: int, inbox: queue.Queue, *,
                 pin_factory: Any = None) -> None:
        gpiozero = require("gpiozero", "counter", "python3-gpiozero")
        self.buttons: list = []
        try:
            for action, pin in pins.items():
                button = gpiozero.Button(pin, bounce_time=bounce_ms / 1000 or None,
                                         pin_factory=pin_factory)
                button.when_pressed = _enqueuer(inbox, action)
                self.buttons.append(button)
        except gpiozero.GPIOZeroError as exc:
            self.close()
            raise HardwareError(f"cannot use the counter buttons: {exc}") from exc

    def close(self) -> None:
        for button in self.buttons:
            button.close()


def _enqueuer(inbox: queue.Queue, action: PadAction) -> Callable[[], None]:
    def pressed() -> None:
        inbox.put(Press(action=action, at=time.monotonic(), source="gpio"))
    return pressed


class StdinKeys:
    """``--keyboard``: each character on standard input that has an action is one press."""

    def __init__(self, keys: dict[str, PadAction], inbox: queue.Queue, fd: int = 0) -> None:
        self.keys = keys
        self.inbox = inbox
        self.fd = fd
        self.stopped = threading.Event()
        self._saved_tty: list | None = None
        if os.isatty(fd):
            import termios
            import tty

            self._saved_tty = termios.tcgetattr(fd)
            tty.setcbreak(fd)      # one key, one press: no waiting for Enter
        self.thread = threading.Thread(target=self._run, name="counter-stdin", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while not self.stopped.is_set():
            readable, _, _ = select.select([self.fd], [], [], 0.5)
            if not readable:
                continue
            data = os.read(self.fd, 4096)
            if not data:
                return            # end of input: the daemon keeps running until told to stop
            for char in decoder.decode(data):
                action = self.keys.get(char)
                if action is not None:
                    self.inbox.put(Press(action=action, at=time.monotonic(), source="keyboard"))

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)
        if self._saved_tty is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved_tty)


class Led:
    """A gpiozero LED driven by mode names (pad.LED_MODES); no pin: does nothing."""

    def __init__(self, pin: int | None, *, pin_factory: Any = None) -> None:
        self.mode = LedMode.OFF
        self.led = None
        if pin is None:
            return
        gpiozero = require("gpiozero", "counter", "python3-gpiozero")
        try:
            self.led = gpiozero.LED(pin, pin_factory=pin_factory)
        except gpiozero.GPIOZeroError as exc:
            raise HardwareError(f"cannot use the LED on pin {pin}: {exc}") from exc

    def show(self, mode: LedMode) -> None:
        if mode == self.mode:
            return
        self.mode = mode
        if self.led is None:
            return
        blink = LED_MODES[mode]
        if blink is not None:
            self.led.blink(on_time=blink[0], off_time=blink[1], background=True)
        elif mode == LedMode.ON:
            self.led.on()
        else:
            self.led.off()

    def close(self) -> None:
        if self.led is not None:
            self.led.close()
