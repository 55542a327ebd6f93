"""Each kind of link has one reconnect policy, and its state comes from what paho answers.

The attempts are counted where they arrive, not by the link: a TCP server that takes the
broker's port while Mosquitto is away (it accepts and closes, as a broker still starting
might), and Mosquitto's own log of connections for a refused login.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from rig import Mosquitto, eventually, next_of

from motcua.config import BrokerSettings
from motcua.mqtt import (
    RECONNECT_MAX_S,
    RECONNECT_MIN_S,
    Backoff,
    Link,
    LinkDown,
    LinkState,
    LinkUp,
    OwnerPolledLink,
    ThreadedLink,
    WakingQueue,
)
from motcua.protocol import Topics

TOPICS = Topics("policy-site")
KINDS = [ThreadedLink, OwnerPolledLink]


def settings(port: int, *, username: str | None = None,
             password_file: Path | None = None) -> BrokerSettings:
    return BrokerSettings(host="127.0.0.1", port=port, tls=False, username=username,
                          password_file=password_file, ca_file=None, keepalive=30)


class Running:
    """A link started as its daemon would: an owner thread polls an owner-polled one."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        assert isinstance(self.link, OwnerPolledLink)
        while not self.stopping.is_set():
            self.link.poll(0.1)

    def __enter__(self) -> Link:
        self.link.start()
        if isinstance(self.link, OwnerPolledLink):
            self.thread.start()
        return self.link

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.link.inbox.put(None)
            self.thread.join(10)
            assert not self.thread.is_alive()
        self.link.stop()
        assert self.link.state is LinkState.STOPPED


class Doorman:
    """A TCP server on the broker's port that counts connections and closes each at once."""

    def __init__(self, port: int) -> None:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(16)
        self.times: list[float] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.times.append(time.monotonic())
            conn.close()

    def close(self) -> None:
        self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self.thread.join(5)


def test_the_backoff_doubles_to_its_ceiling_and_starts_again_after_an_accepted_connack() -> None:
    backoff = Backoff()
    delays = [backoff.next_delay() for _ in range(7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert (RECONNECT_MIN_S, RECONNECT_MAX_S) == (1.0, 15.0)
    backoff.reset()
    assert backoff.next_delay() == RECONNECT_MIN_S


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_a_lost_broker_is_retried_on_a_growing_delay_and_the_link_comes_back(
        tmp_path: Path, kind: type[Link]) -> None:
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    inbox = WakingQueue()
    link = kind(settings(server.port), TOPICS, role="display", device="tv", inbox=inbox,
                subscriptions=[(TOPICS.board, 1)])
    doorman: Doorman | None = None
    try:
        with Running(link):
            next_of(inbox, LinkUp)
            assert link.state is LinkState.UP and link.connected.is_set()
            server.stop()
            doorman = Doorman(server.port)      # the port answers and closes: no MQTT there
            next_of(inbox, LinkDown)
            lost = time.monotonic()
            assert link.state is LinkState.DOWN and not link.connected.is_set()
            assert eventually(lambda: len(doorman.times) >= 2, timeout=15)
            first, second = doorman.times[:2]
            # 1 s after the loss, then 2 s later: not a hot loop, and the delay doubles.
            assert first - lost >= 0.8, doorman.times
            assert second - first >= 1.6, doorman.times
            assert link.state is LinkState.DOWN
            doorman.close()
            doorman = None
            server.start()
            # The next attempt is due 4 s after the second: well within the ceiling.
            next_of(inbox, LinkUp, timeout=RECONNECT_MAX_S + 5)
            assert link.state is LinkState.UP
    finally:
        if doorman is not None:
            doorman.close()
        server.stop()


@pytest.fixture
def guarded_broker(tmp_path: Path):
    """Mosquitto with one account, kiosk-k1, whose password is 'right'."""
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "kiosk-k1", "right"],
                   check=True, capture_output=True)
    passwords.chmod(0o600)
    server = Mosquitto(tmp_path / "mosquitto", passwords=passwords)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_a_refused_login_is_the_refused_state_retried_on_the_backoff(
        guarded_broker: Mosquitto, tmp_path: Path, kind: type[Link]) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("wrong\n", encoding="utf-8")
    inbox = WakingQueue()
    link = kind(settings(guarded_broker.port, username="kiosk-k1", password_file=wrong), TOPICS,
                role="kiosk", device="k1", inbox=inbox)

    def attempts() -> int:
        return guarded_broker.log.read_text(errors="replace").count("New connection from")

    before = attempts()
    with Running(link):
        began = time.monotonic()
        assert eventually(lambda: link.state is LinkState.REFUSED, timeout=10)
        # The daemon hears why (the watcher's LinkDown names the broker's answer).
        down = next_of(inbox, LinkDown, timeout=10)
        assert "refused the connection: Not authorized" in down.reason, down.reason
        assert eventually(lambda: attempts() - before >= 3, timeout=15)
        spent = time.monotonic() - began
        assert link.state is LinkState.REFUSED and not link.connected.is_set()
        assert not any(isinstance(item, LinkUp) for item in _drain(inbox))
        made = attempts() - before
        # Attempts at 0, 1, 3, 7 s ... : a hot loop would have made hundreds by now.
        assert made <= 2 + spent / 1.5, (made, spent)
        assert spent >= 2.5, spent
        # Nobody answers any more: the next attempt (4 s on) says so, not the old refusal.
        guarded_broker.stop()
        assert eventually(lambda: link.state is LinkState.DOWN, timeout=RECONNECT_MAX_S)


def _drain(inbox: WakingQueue) -> list[object]:
    items = []
    while not inbox.empty():
        items.append(inbox.get_nowait())
    return items
