"""The daemon frame: one life (start → ready → loop → finish → release), one schedule, one
decode-or-drop. The link here is a recorder (the frame only calls it; the real Link is in
every role's tests); systemd's notify protocol goes to a real datagram socket."""

from __future__ import annotations

import logging
import queue
import socket
import threading
from pathlib import Path

import pytest

from motcua.daemon import Drops, Pace, Systemd, closing_on_error, owner_loop, run_daemon
from motcua.errors import ProtocolError
from motcua.mqtt import Inbound
from motcua.protocol import Heartbeat


class Recorder:
    """What the frame did, in order: the link's calls, the owner's, systemd's."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.health: dict[str, object] = {}

    def start(self) -> None:
        self.steps.append("link start")

    def stop(self) -> None:
        self.steps.append("link stop")

    def poll(self, timeout: float) -> None:
        self.steps.append("poll")

    def set_health(self, **health: object) -> None:
        if {**self.health, **health} != self.health:
            self.steps.append(f"health {sorted(health.items())}")
        self.health.update(health)

    def close(self) -> None:
        self.steps.append("closed")


class Owner:
    def __init__(self, steps: list[str], stop: threading.Event, *, stop_after: int = 3,
                 tick_s: float = 0.01) -> None:
        self.steps = steps
        self.stop = stop
        self.stop_after = stop_after
        self.tick_s = tick_s
        self.ticks = 0
        self.handled: list[object] = []

    def handle(self, message: object) -> None:
        if message == "boom":
            raise RuntimeError("the owner failed")
        self.handled.append(message)
        self.steps.append(f"handle {message}")

    def tick(self, now: float) -> float:
        self.ticks += 1
        if self.ticks >= self.stop_after:
            self.stop.set()
        return self.tick_s

    def health(self) -> dict[str, object]:
        return {"handled": len(self.handled)}


@pytest.fixture
def notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "notify"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    yield server
    server.close()


def received(server: socket.socket) -> list[bytes]:
    said = []
    server.settimeout(0)
    while True:
        try:
            said.append(server.recv(100))
        except BlockingIOError:
            return said


def test_a_daemon_lives_in_order_and_releases_what_it_opened(notify: socket.socket) -> None:
    link, stop = Recorder(), threading.Event()
    owner = Owner(link.steps, stop)
    inbox: queue.Queue = queue.Queue()
    inbox.put("a")
    inbox.put("b")
    opened = [Recorder(), Recorder()]
    opened[0].steps = opened[1].steps = link.steps
    result = run_daemon(owner, link=link, inbox=inbox, stop=stop, systemd=Systemd(), ready="up",
                        opened=opened, started=lambda o: link.steps.append("started"),
                        finish=lambda: link.steps.append("finish"), pace=Pace(health_s=0.0))
    assert result == 0
    assert link.steps[:3] == ["health [('handled', 0)]", "link start", "started"]
    assert link.steps[3:5] == ["handle a", "handle b"]
    assert "health [('handled', 2)]" in link.steps
    assert link.steps[-4:] == ["finish", "link stop", "closed", "closed"]
    said = received(notify)
    assert said[0] == b"READY=1\nSTATUS=up" and said[-1] == b"STOPPING=1"
    assert b"WATCHDOG=1" in said


def test_a_failing_owner_still_releases_everything_without_finishing(notify: socket.socket) -> None:
    link, stop = Recorder(), threading.Event()
    owner = Owner(link.steps, stop, stop_after=1000)
    inbox: queue.Queue = queue.Queue()
    inbox.put("boom")
    with pytest.raises(RuntimeError, match="the owner failed"):
        run_daemon(owner, link=link, inbox=inbox, stop=stop, systemd=Systemd(), ready="",
                   opened=[link], finish=lambda: link.steps.append("finish"))
    assert "finish" not in link.steps
    assert link.steps[-2:] == ["link stop", "closed"]
    assert received(notify)[-1] == b"STOPPING=1"


def test_a_failed_construction_closes_what_was_opened_before() -> None:
    first, second = Recorder(), Recorder()
    opened: list = []
    with pytest.raises(OSError), closing_on_error(opened):
        opened.append(first)
        opened.append(second)
        raise OSError("no printer")
    assert first.steps == ["closed"] and second.steps == ["closed"]


def test_ticks_follow_the_owners_schedule_and_the_watchdog_its_own(monkeypatch) -> None:
    """A fake clock: the owner asks for a tick every 0.25 s, the watchdog wants 1 s."""
    now = [0.0]
    link, stop = Recorder(), threading.Event()
    pings: list[float] = []

    class Clocked(Owner):
        def tick(self, t: float) -> float:
            self.steps.append(f"tick {t:.2f}")
            if t >= 2.0:
                self.stop.set()
            return 0.25

    class Pinged(Systemd):
        def watchdog(self) -> None:
            pings.append(now[0])

    owner = Clocked(link.steps, stop)

    class Advancing(queue.Queue):
        def get(self, block: bool = True, timeout: float | None = None):
            now[0] += timeout or 0.0      # waiting is the only thing that moves the clock
            raise queue.Empty

    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    owner_loop(owner, link=link, inbox=Advancing(), stop=stop, systemd=Pinged(),
               pace=Pace(health_s=10.0), clock=lambda: now[0])
    ticks = [float(s.split()[1]) for s in link.steps if s.startswith("tick")]
    assert ticks == [0.25 * i for i in range(9)]
    assert pings == [0.0, 1.0, 2.0]


def test_every_turn_ticks_right_after_messages_when_the_pace_says_so() -> None:
    """The owner wants a tick once a minute; with tick_every_turn it still sees messages at once."""
    link, stop = Recorder(), threading.Event()
    seen: list[int] = []

    class Watching(Owner):
        def tick(self, now: float) -> float:
            seen.append(len(self.handled))
            if len(self.handled) >= 3:
                self.stop.set()
            return 60.0

    owner = Watching(link.steps, stop)
    inbox: queue.Queue = queue.Queue()
    for message in ("a", "b", "c", "d"):
        inbox.put(message)
    owner_loop(owner, link=link, inbox=inbox, stop=stop, systemd=Systemd(),
               pace=Pace(tick_every_turn=True, batch=3))
    assert seen == [0, 3]


def test_a_polled_link_is_polled_not_the_inbox_waited_on() -> None:
    link, stop = Recorder(), threading.Event()
    owner = Owner(link.steps, stop, stop_after=3)
    inbox: queue.Queue = queue.Queue()
    inbox.put("a")
    owner_loop(owner, link=link, inbox=inbox, stop=stop, systemd=Systemd(),
               pace=Pace(polled=True, tick_every_turn=True))
    assert link.steps.count("poll") >= 2 and "handle a" in link.steps


def test_at_most_a_batch_is_handled_before_the_owner_ticks_again() -> None:
    link, stop = Recorder(), threading.Event()
    ticks_at: list[int] = []

    class Counting(Owner):
        def tick(self, now: float) -> float:
            ticks_at.append(len(self.handled))
            if len(self.handled) == 10:
                self.stop.set()
            return 0.0

    owner = Counting(link.steps, stop)
    inbox: queue.Queue = queue.Queue()
    for n in range(10):
        inbox.put(n)
    owner_loop(owner, link=link, inbox=inbox, stop=stop, systemd=Systemd(), pace=Pace(batch=4))
    assert ticks_at[:4] == [0, 4, 8, 10]


def test_decode_or_drop_counts_and_logs_without_the_payload(caplog: pytest.LogCaptureFixture) -> None:
    drops = Drops(logging.getLogger("test.frame"))
    secret = b'{"v":1,"name":"Nguy\xe1\xbb\x85n V\xc4\x83n An"'
    bad = Inbound(topic="motcua/x/heartbeat", payload=secret, mid=1, qos=0, retain=False)
    good = Inbound(topic="motcua/x/heartbeat", mid=2, qos=0, retain=False,
                   payload=b'{"v":1,"at":"2026-11-30T08:00:00+07:00","seq":1,"day":null}')
    with caplog.at_level(logging.WARNING):
        assert drops.decode(Heartbeat.decode, bad, "a heartbeat") is None
        assert isinstance(drops.decode(Heartbeat.decode, good), Heartbeat)
        with drops.guard("motcua/x/board"):
            raise ProtocolError("a check of the owner")
    assert drops.count == 2
    assert "dropped a heartbeat on motcua/x/heartbeat" in caplog.text
    assert "dropped a message on motcua/x/board: a check of the owner" in caplog.text
    assert "Nguy" not in caplog.text
    with pytest.raises(ValueError), drops.guard("t"):   # only protocol errors are drops
        raise ValueError("a bug")
