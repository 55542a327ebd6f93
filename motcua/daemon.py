"""What every long-running role shares: logging, signals, systemd's notify protocol, and
the start and stop of a device daemon's owner loop."""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Closable(Protocol):
    """A device or store a daemon opened and must release."""

    def close(self) -> object: ...


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


def run_owner_loop(owner: Any, *, link: Any, inbox: queue.Queue[Any], stop: threading.Event,
                   systemd: Systemd, ready: str, started: Callable[[Any], None] | None = None) -> None:
    """A device daemon's middle: connect, tell systemd it is ready, run until ``stop``.

    ``owner`` has ``run(inbox, stop, systemd)``; ``started`` is the tests' hook.
    """
    link.start()
    systemd.ready(ready)
    if started is not None:
        started(owner)
    owner.run(inbox, stop, systemd)


def release(systemd: Systemd, link: Any, opened: Sequence[Closable]) -> None:
    """A device daemon's ``finally``: tell systemd, leave the broker, close the hardware."""
    systemd.stopping()
    if link is not None:
        link.stop()
    close_all(opened)
