"""The daemon frame every long-running role runs on: logging, signals, systemd's notify
protocol, and one owner loop.

A role builds its adapters and an *owner* (:class:`Owner`: ``handle`` one message,
``tick`` on its schedule, ``health`` for the retained status) and hands it to :func:`run_daemon`:
start the link → tell systemd it is ready → loop (wait for the inbox → handle, tick when
due, ping the watchdog, publish the health) until ``stop`` → finish → release what was
opened, in a ``finally``. Library threads (paho, gpiozero, key readers) only put messages
on the inbox; everything else happens on the owner's thread. :class:`Drops` is the one
decode-or-drop: a malformed message is counted and logged, never raised.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from .errors import ProtocolError

log = logging.getLogger(__name__)

WATCHDOG_S = 1.0        # the watchdog is pinged at least this often (more often if systemd asks)
BATCH = 500             # messages handled in one turn at most, then the owner's timers run


class Closable(Protocol):
    """A device or store a daemon opened and must release."""

    def close(self) -> object: ...


class Handles(Protocol):
    """What :func:`take` hands inbox items to (an owner, or the board's snapshot)."""

    def handle(self, message: object) -> object:
        """One message from the inbox (broker events, presses, results of other threads)."""
        ...


class Owner(Handles, Protocol):
    """A daemon's owner: the one object that does the daemon's work, on one thread."""

    def tick(self, now: float) -> float:
        """Timed work; returns how many seconds may pass before the next tick."""
        ...

    def health(self) -> Mapping[str, Any]:
        """What the retained status says about this daemon (published when it changes)."""
        ...


class Connection(Protocol):
    """What the frame uses of :class:`motcua.mqtt.Link`."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def set_health(self, **health: Any) -> None: ...


@runtime_checkable
class Polled(Protocol):
    """A link whose network loop the owner runs (:class:`motcua.mqtt.OwnerPolledLink`)."""

    def poll(self, timeout: float) -> None: ...


class Message(Protocol):
    """A message from the broker (:class:`motcua.mqtt.Inbound`), as :class:`Drops` reads it."""

    @property
    def topic(self) -> str: ...

    @property
    def payload(self) -> bytes: ...


@dataclass(frozen=True)
class Pace:
    """How a role's loop turns."""

    health_s: float = 1.0               # the status's health is read this often
    tick_every_turn: bool = False       # tick after every wait (messages, wake-up or timeout)
    polled: bool = False                # the link's network loop runs on the owner (OwnerPolledLink)
    batch: int = BATCH


OwnerT = TypeVar("OwnerT", bound=Owner)
T = TypeVar("T")


class Drops:
    """Decode or drop: a message that does not decode (or fails a check of the owner) is
    counted and logged with its topic and the reason, never its payload, and never ends
    the daemon (docs/protocol.md: no device is trusted)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.count = 0
        self._log = logger

    def decode(self, parse: Callable[[bytes], T], message: Message, what: str = "a message") -> T | None:
        """``parse(message.payload)``, or None once the drop is counted and logged."""
        with self.guard(message.topic, what):
            return parse(message.payload)
        return None

    @contextmanager
    def guard(self, topic: str, what: str = "a message") -> Iterator[None]:
        """A block that reads one message of ``topic``: a ProtocolError in it drops it."""
        try:
            yield
        except ProtocolError as exc:
            self.count += 1
            self._log.warning("dropped %s on %s: %s", what, topic, exc)


def setup_logging(role: str, device: str, *, verbose: bool = False) -> None:
    """Log lines for the journal (no timestamp there) or a terminal (with one)."""
    under_journal = "JOURNAL_STREAM" in os.environ or "INVOCATION_ID" in os.environ
    prefix = "" if under_journal else "%(asctime)s "
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=f"{prefix}{role}/{device} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


class Systemd:
    """sd_notify over $NOTIFY_SOCKET; does nothing when not run by systemd."""

    def __init__(self) -> None:
        self.address = os.environ.get("NOTIFY_SOCKET")
        usec = os.environ.get("WATCHDOG_USEC")
        # Ping at half the watchdog period, as sd_watchdog_enabled(3) advises.
        self.watchdog_interval = int(usec) / 2e6 if usec and usec.isdigit() else None

    def notify(self, state: str) -> None:
        if not self.address:
            return
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(address)
                sock.sendall(state.encode())
        except OSError as exc:
            log.warning("sd_notify %r failed: %s", state, exc)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")


_stop: threading.Event | None = None


def request_stop(reason: str) -> None:
    """End this daemon as SIGTERM would, for a reason of its own (logged as an error)."""
    log.error("stopping: %s", reason)
    if _stop is not None:
        _stop.set()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so the owner loop ends and cleans up."""
    global _stop
    stop = _stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def close_all(things: Sequence[Closable]) -> None:
    """Release hardware in reverse order of opening; one failure does not stop the rest."""
    for thing in reversed(things):
        try:
            thing.close()
        except Exception as exc:   # a device that fails to close must not keep the others open
            log.warning("closing %s: %s", type(thing).__name__, exc)


@contextmanager
def closing_on_error(opened: list[Closable]) -> Iterator[list[Closable]]:
    """A role's construction: if a step fails, what the steps before opened is closed."""
    try:
        yield opened
    except BaseException:
        close_all(opened)
        raise


def run_daemon(owner: OwnerT, *, link: Connection, inbox: queue.Queue[Any], stop: threading.Event,
        systemd: Systemd, ready: str, opened: Sequence[Closable] = (), pace: Pace = Pace(),
        clock: Callable[[], float] = time.monotonic, started: Callable[[OwnerT], None] | None = None,
        finish: Callable[[], None] | None = None) -> int:
    """A daemon's life: connect, tell systemd it is ready, run the owner until ``stop``,
    then ``finish`` (only after a clean stop: work to end with the link still up), and in
    any case tell systemd, leave the broker, close ``opened`` in reverse order.

    ``started`` is the tests' hook: called with the owner once it is ready.
    """
    try:
        link.set_health(**owner.health())       # the first "online" status already has it
        link.start()
        systemd.ready(ready)
        if started is not None:
            started(owner)
        owner_loop(owner, link=link, inbox=inbox, stop=stop, systemd=systemd, pace=pace, clock=clock)
        if finish is not None:
            finish()
    finally:
        release(systemd, link, opened)
    return 0


class Rhythm:
    """When the owner's tick, the watchdog's ping and the status's health are due: the one
    schedule of every owner loop (the threaded one below, and the web role's asyncio one)."""

    def __init__(self, owner: Owner, *, link: Connection, systemd: Systemd, pace: Pace = Pace(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.owner = owner
        self.link = link
        self.systemd = systemd
        self.pace = pace
        self.clock = clock
        self.ping_s = min(WATCHDOG_S, systemd.watchdog_interval or WATCHDOG_S)
        self.next_tick = self.next_ping = self.next_health = 0.0

    def run_due(self) -> float:
        """Do what is due; the seconds until the next thing is."""
        now = self.clock()
        if now >= self.next_tick:
            self.next_tick = now + self.owner.tick(now)
        if now >= self.next_ping:
            self.systemd.watchdog()
            self.next_ping = now + self.ping_s
        if now >= self.next_health:
            self.link.set_health(**self.owner.health())
            self.next_health = now + self.pace.health_s
        return max(0.0, min(self.next_tick, self.next_ping, self.next_health) - self.clock())

    def tick_now(self) -> None:
        self.next_tick = 0.0


def owner_loop(owner: Owner, *, link: Connection, inbox: queue.Queue[Any], stop: threading.Event,
               systemd: Systemd, pace: Pace = Pace(), clock: Callable[[], float] = time.monotonic) -> None:
    """The owner loop: until ``stop``, do what is due (tick, watchdog, health), then wait
    for the inbox (or the link, when polled) until the next of those and handle what came,
    up to ``pace.batch`` messages a turn."""
    rhythm = Rhythm(owner, link=link, systemd=systemd, pace=pace, clock=clock)
    while not stop.is_set():
        timeout = rhythm.run_due()
        take(owner, link=link, inbox=inbox, pace=pace, timeout=timeout)
        if pace.tick_every_turn:
            rhythm.tick_now()


def take(owner: Handles, *, link: Connection | None, inbox: queue.Queue[Any], pace: Pace,
         timeout: float) -> int:
    """Wait up to ``timeout`` for a message, then handle it and those already waiting
    (``link`` is only needed by a polled pace)."""
    taken = 0
    try:
        if pace.polled:
            if not isinstance(link, Polled):
                raise TypeError("Pace(polled=True) needs a link the owner polls (OwnerPolledLink)")
            link.poll(timeout)          # paho's callbacks run here and fill the inbox
            message = inbox.get_nowait()
        else:
            message = inbox.get(timeout=timeout) if timeout > 0 else inbox.get_nowait()
        while True:
            owner.handle(message)
            taken += 1
            if taken >= pace.batch:
                return taken
            message = inbox.get_nowait()
    except queue.Empty:
        return taken


def release(systemd: Systemd, link: Connection | None, opened: Sequence[Closable]) -> None:
    """A daemon's ``finally``: tell systemd, leave the broker, close the hardware."""
    systemd.stopping()
    if link is not None:
        link.stop()
    close_all(opened)
