"""In-memory parts for testing device logic directly through its seams, without a broker.

- :class:`RecordingLink` stands in for ``motcua.mqtt.Link`` where a device only hands it
  messages (publish, health, manual acks): it records them. What crosses the wire is
  tested with a real Mosquitto (tests marked ``broker``).
- :class:`MemoryPrinter` is the kiosk's real ``TicketPrinter`` (ESC/POS bytes, real-time
  status, faults) over python-escpos's ``Dummy`` printer, as python-escpos tests its own
  code: the bytes stay in memory and the status answers are set by the test.
- :func:`beeps` reads a buzzer's beeps back from its gpiozero MockFactory pin history.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from motcua.kiosk.inputs import BEEPS
from motcua.kiosk.printer import Connection, TicketPrinter
from paho.mqtt.client import MQTTMessageInfo

CUT = b"\x1bd\x05\x1dV\x00"          # feed and full cut: one per ticket


@dataclass(frozen=True)
class Sent:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int


class RecordingLink:
    """What a device hands its link, recorded; ``connected`` is set while "up", as on the real link."""

    def __init__(self, status_topic: str = "status") -> None:
        self.status_topic = status_topic
        self.connected = threading.Event()
        self.connected.set()
        self.sent: list[Sent] = []
        self.acked: list[Any] = []
        self._health: dict[str, Any] = {}
        self._mid = 0

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> MQTTMessageInfo:
        self._mid += 1
        self.sent.append(Sent(topic, bytes(payload), qos, retain, self._mid))
        return MQTTMessageInfo(self._mid)

    def payloads(self, topic: str) -> list[bytes]:
        return [s.payload for s in self.sent if s.topic == topic]

    def ack(self, message: Any) -> None:
        self.acked.append(message)

    def set_health(self, **health: Any) -> None:
        self._health = {**self._health, **health}

    @property
    def health(self) -> dict[str, Any]:
        return dict(self._health)


class MemoryConnection(Connection):
    """python-escpos's Dummy behind the kiosk's printer code. It answers the real-time status
    requests (DLE EOT 1, 2, 4) as a printer does: ``offline``, ``cover_open``, ``paper_out``."""

    def __init__(self) -> None:
        super().__init__("memory")
        self.offline = self.cover_open = self.paper_out = False
        self.jobs: list[bytes] = []          # every write: the tickets' bytes

    def _make(self) -> Any:
        return self.printers.Dummy()

    def open(self) -> None:
        self.device = self._make()

    def write(self, data: bytes) -> None:
        super().write(data)
        self.jobs.append(bytes(data))

    def _read(self, timeout: float) -> bytes:
        request = self.device.output[-1]
        if request == 1:
            return bytes([0x1A if self.offline or self.cover_open else 0x12])
        if request == 2:
            return bytes([0x16 if self.cover_open else 0x12])
        return bytes([0x7E if self.paper_out else 0x12])


class MemoryPrinter(TicketPrinter):
    """The real TicketPrinter on a MemoryConnection. ``views``: what the kiosk asked it to print;
    ``before_ticket``, if set, runs as a ticket starts (e.g. the printer goes offline then)."""

    def __init__(self, paper: str = "80mm") -> None:
        self.memory = MemoryConnection()
        super().__init__(self.memory, paper)
        self.views: list[Any] = []
        self.before_ticket: Callable[[], None] | None = None

    def print_ticket(self, view: Any) -> None:
        self.views.append(view)
        if self.before_ticket is not None:
            self.before_ticket()
        super().print_ticket(view)

    def tickets(self) -> list[bytes]:
        """Each whole ticket printed, its bytes."""
        return [job for job in self.memory.jobs if CUT in job]


def _on_times(pin: Any) -> list[float]:
    # PinState.timestamp is the time since the previous change: a beep is on, then off after it.
    return [after.timestamp for before, after in itertools.pairwise(list(pin.states))
            if before.state and not after.state]


def wait_beeps_over(pin: Any, timeout: float = 10.0) -> None:
    """Until at least one beep has sounded and the buzzer has stayed off longer than any gap
    inside a pattern (a pattern runs on gpiozero's background thread)."""
    quiet_s = max(off for _, off, _ in BEEPS.values()) + 0.5      # generous: a loaded machine
    deadline, pause = time.monotonic() + timeout, threading.Event()
    seen, changed_at = len(pin.states), time.monotonic()
    while time.monotonic() < deadline:
        pause.wait(0.02)
        now = time.monotonic()
        if len(pin.states) != seen:
            seen, changed_at = len(pin.states), now
        elif _on_times(pin) and not pin.state and now - changed_at >= quiet_s:
            return
    raise TimeoutError(f"no beep pattern ended: {pin.states}")


def beeps(pin: Any) -> list[str]:
    """The buzzer pattern (inputs.BEEPS) heard on a MockFactory pin since its states were
    cleared, once it is over: told apart by the number of beeps and how long each sounded."""
    wait_beeps_over(pin)
    on_times = _on_times(pin)
    for name, (on, _, count) in sorted(BEEPS.items(), key=lambda item: -item[1][0]):
        if len(on_times) == count and min(on_times) >= on:
            return [name]
    raise AssertionError(f"no single beep pattern sounds like this: {on_times}")

