"""Two of the same (issue 19, item 6): a second kiosk, pad, board or caller with one identity.

The broker keeps one connection per account (client ids are user names); the two runs would
take the connection from each other every second. Each run reads its own status topic: the
newer run stops with a clear message, the older one goes on and says so in its status."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading

import pytest
from install_helpers import Device, Refused
from rig import Listener, eventually, next_of

from motcua.broker_config import hash_password
from motcua.config import BrokerSettings
from motcua.mqtt import Inbound, Link, LinkUp, Session, ThreadedLink
from motcua.protocol import Status, Topics

T = Topics("liem-chung")
IDENTITIES = [("kiosk", "k1", "kiosk-k1"), ("counter", "2", "counter-2"),
              ("display", "board", "display-board"), ("caller", "hub", "caller")]


def link(broker, files, role: str, device: str, username: str, stopped: list) -> tuple[Link, queue.Queue]:
    settings = BrokerSettings(host="127.0.0.1", port=broker.port, tls=False, username=username,
                              password_file=files.secrets[username], ca_file=None, keepalive=30)
    inbox: queue.Queue = queue.Queue()
    running = ThreadedLink(settings, T, role=role, device=device, inbox=inbox, subscriptions=[(T.board, 1)],
                   session=Session.KEPT_UNTIL_ACKED if role == "caller" else Session.CLEAN,
                   on_twin=stopped.append)
    running.start()
    return running, inbox


@pytest.fixture(autouse=True)
def watcher_account(secured_broker, broker_files) -> None:
    """A test-only account that reads every status (any device's account would replace the
    device under test), loaded with a SIGHUP as Mosquitto allows."""
    with broker_files.passwords.open("a") as passwords:
        passwords.write(f"watcher:{hash_password('watcher')}\n")
    with broker_files.acl.open("a") as acl:
        acl.write(f"\nuser watcher\ntopic read {T.root}/status/#\n")
    secured_broker.process.send_signal(signal.SIGHUP)
    assert eventually(lambda: _can_login(secured_broker))


def _can_login(broker) -> bool:
    device = Device(broker.port, "watcher", "watcher")
    try:
        device.connect()
    except Refused:
        return False
    device.close()
    return True


def retained_status(broker, files, topic: str) -> Status:
    watcher = Device(broker.port, "watcher", "watcher")
    watcher.connect()
    try:
        assert watcher.subscribe(topic)
        return Status.decode(bytes(watcher.receive().payload))
    finally:
        watcher.close()


@pytest.mark.parametrize(("role", "device", "username"), IDENTITIES, ids=[i[2] for i in IDENTITIES])
def test_the_newer_of_two_stops_and_the_older_says_so(secured_broker, broker_files, role, device,
                                                      username) -> None:
    first_stopped: list[str] = []
    second_stopped: list[str] = []
    first, first_inbox = link(secured_broker, broker_files, role, device, username, first_stopped)
    second = None
    try:
        assert isinstance(first_inbox.get(timeout=10), LinkUp)
        second, _ = link(secured_broker, broker_files, role, device, username, second_stopped)
        assert eventually(lambda: second_stopped, timeout=20), "the newer run did not stop"
        assert "already uses this identity" in second_stopped[0]
        assert second.twin and not second.connected.is_set()
        assert eventually(lambda: first.connected.is_set() and first.duplicate, timeout=20)
        assert not first_stopped
        topic = T.status(role, device)
        assert eventually(lambda: retained_status(secured_broker, broker_files, topic).state == "online",
                          timeout=20)
        shown = retained_status(secured_broker, broker_files, topic)
        assert shown.instance == first.instance and "told to stop" in (shown.duplicate or "")
        # The older run stays connected: no more takeovers once the newer one has gone.
        up = threading.Event()
        first.client.on_disconnect = lambda *args: up.set()
        assert not up.wait(3)
    finally:
        if second is not None:
            second.stop()
        first.stop()


def test_a_restarted_daemon_is_not_a_twin(secured_broker, broker_files) -> None:
    """The previous run's status (online after a crash, offline after a stop) is no twin."""
    stopped: list[str] = []
    for _ in range(2):
        running, inbox = link(secured_broker, broker_files, "kiosk", "k1", "kiosk-k1", stopped)
        assert isinstance(inbox.get(timeout=10), LinkUp)
        running.client.disconnect()          # as a crash leaves it: no offline status of its own
        running.client.loop_stop()
    assert stopped == []


def test_a_second_caller_process_exits_by_itself(secured_broker, broker_files, tmp_path, site) -> None:
    """Two `motcua caller` on one site: the newer exits with a clear message, the queue stays
    with the first."""
    text = site.file.read_text().replace(
        "keepalive = 30", f'username = "caller"\npassword_file = "{broker_files.secrets["caller"]}"\n'
                          "keepalive = 30").replace("mqtt://127.0.0.1:1883", secured_broker.url)
    config = tmp_path / "hub.toml"
    config.write_text(text)

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "motcua.cli", "caller", "--config", str(config),
                                 "--audio", "none", "--db", str(tmp_path / f"{name}.db")],
                                stdout=(tmp_path / f"{name}.log").open("wb"), stderr=subprocess.STDOUT)

    first = start("first")
    second = None
    try:
        assert eventually(lambda: retained_status(secured_broker, broker_files,
                                                  T.status("caller", "hub")).state == "online", timeout=30)
        second = start("second")
        assert second.wait(60) == 0
        log = (tmp_path / "second.log").read_text()
        assert "a second caller 'hub'" in log and "already uses this identity" in log
        assert first.poll() is None
        assert eventually(lambda: "told to stop" in (retained_status(
            secured_broker, broker_files, T.status("caller", "hub")).duplicate or ""), timeout=20)
    finally:
        for process in (second, first):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(20)


def test_a_callers_own_status_never_fills_its_in_flight_window(broker) -> None:
    """The caller acks by hand and never sees its own status: the link acks those copies, or
    after some twenty restarts the broker's in-flight window for its session is full and no
    ticket reaches it any more."""
    settings = BrokerSettings(host="127.0.0.1", port=broker.port, tls=False, username=None,
                              password_file=None, ca_file=None, keepalive=30)
    for _ in range(25):                          # crash after crash, as systemd restarts it
        inbox = queue.Queue()
        running = ThreadedLink(settings, T, role="caller", device="hub", inbox=inbox,
                       subscriptions=[(T.ticket_all, 1)], session=Session.KEPT_UNTIL_ACKED)
        running.start()
        assert isinstance(next_of(inbox, LinkUp), LinkUp)
        assert eventually(lambda link=running: link.client.want_write() is False, timeout=5)
        running.client.loop_stop()
        running.client.socket().close()
    sender = Listener(broker.url, "unused/#")
    inbox = queue.Queue()
    running = ThreadedLink(settings, T, role="caller", device="hub", inbox=inbox,
                   subscriptions=[(T.ticket_all, 1)], session=Session.KEPT_UNTIL_ACKED)
    running.start()
    try:
        next_of(inbox, LinkUp)
        sender.publish(T.ticket_from("k1"), b"still delivered")
        assert next_of(inbox, Inbound).payload == b"still delivered"
    finally:
        running.stop()
        sender.close()
