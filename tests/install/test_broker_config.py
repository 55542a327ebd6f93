"""broker-config: the files it writes, and a real Mosquitto enforcing them with the shipped hub config."""

from __future__ import annotations

import queue
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from install_helpers import Device, Refused

from motcua.broker_config import accounts, check_password, hash_password, write_broker_files
from motcua.cli import main as cli_main
from motcua.config import BrokerSettings, SiteConfig, load_config
from motcua.mqtt import LinkUp, ThreadedLink
from motcua.protocol import Topics

T = Topics("liem-chung")


def login(broker, files, username: str, **kwargs) -> Device:
    return Device.login(broker.port, username, files.secrets[username], **kwargs)


# -- files ----------------------------------------------------------------------------------

def test_hash_is_what_mosquitto_passwd_reads(tmp_path: Path) -> None:
    ours = hash_password("mật khẩu")
    assert ours.startswith("$7$1000$")
    assert check_password("mật khẩu", ours)
    assert not check_password("mat khau", ours)
    if shutil.which("mosquitto_passwd"):
        theirs_file = tmp_path / "pw"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(theirs_file), "u", "s3cret"], check=True)
        theirs = theirs_file.read_text().strip().split(":", 1)[1]
        assert check_password("s3cret", theirs)


def test_every_device_gets_an_account(site: SiteConfig) -> None:
    names = [a.username for a in accounts(site, ["board", "counter-tv"])]
    assert names == ["caller", "kiosk-k1", "counter-1", "counter-2", "counter-3", "counter-4",
                     "display-board", "display-counter-tv", "history", "web"]


def test_acl_gives_each_device_only_its_own_topics(broker_files, site: SiteConfig) -> None:
    acl = broker_files.acl.read_text()
    block = acl.split("user counter-2\n")[1].split("\n\n")[0].splitlines()
    assert block == [
        "topic read motcua/liem-chung/board",
        "topic read motcua/liem-chung/counter/2/state",
        "topic read motcua/liem-chung/status/counter/2",
        "topic read motcua/liem-chung/heartbeat",
        "topic read motcua/liem-chung/received",
        "topic write motcua/liem-chung/counter/2/cmd",
        "topic write motcua/liem-chung/counter/2/rating",
        "topic write motcua/liem-chung/status/counter/2",
    ]
    kiosk = acl.split("user kiosk-k1\n")[1].split("\n\n")[0].splitlines()
    assert [line for line in kiosk if line.startswith("topic write")] == [
        "topic write motcua/liem-chung/ticket/k1", "topic write motcua/liem-chung/status/kiosk/k1",
        "topic write motcua/liem-chung/kiosk/k1/issued"]
    display = acl.split("user display-board\n")[1].split("\n\n")[0].splitlines()
    assert [line for line in display if line.startswith("topic write")] == [
        "topic write motcua/liem-chung/status/display/board"]
    assert "topic readwrite" not in acl and "pattern" not in acl


def test_secrets_are_private_and_reused(tmp_path: Path, site: SiteConfig, capsys) -> None:
    out = tmp_path / "out"
    assert cli_main(["broker-config", "--config", str(site.file), "--out", str(out)]) == 0
    first = capsys.readouterr().out
    secrets = {path.name: path.read_text() for path in (out / "secrets").iterdir()}
    assert len(secrets) == 9 and all(len(s.strip()) >= 30 for s in secrets.values())
    for secret in secrets.values():
        assert secret.strip() not in first
    for path in [*(out / "secrets").iterdir(), out / "passwords"]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, path
    assert stat.S_IMODE((out / "secrets" / "caller").stat().st_mode) == 0o600
    assert "(new)" in first

    # A fifth counter joins: its password is new, everybody else's stays.
    text = site.file.read_text() + '\n[[counters]]\nid = "5"\nservices = ["dat-dai"]\n'
    site.file.write_text(text)
    assert cli_main(["broker-config", "--config", str(site.file), "--out", str(out)]) == 0
    second = capsys.readouterr().out
    states = {line.split()[0]: line.split()[-1] for line in second.splitlines() if line.startswith("  ")}
    assert states == {**{name: "(kept)" for name in secrets}, "counter-5": "(new)"}
    for name, secret in secrets.items():
        assert (out / "secrets" / name).read_text() == secret
    hashes = dict(line.split(":", 1) for line in (out / "passwords").read_text().splitlines())
    assert set(hashes) == {*secrets, "counter-5"}
    assert all(check_password(secrets[name].strip(), hashes[name]) for name in secrets)


def test_bad_display_name_and_bad_config_are_refused(tmp_path: Path, site: SiteConfig, capsys) -> None:
    out = tmp_path / "out"
    assert cli_main(["broker-config", "--config", str(site.file), "--out", str(out),
                     "--display", "tv 1"]) == 2
    assert "--display" in capsys.readouterr().err
    assert cli_main(["broker-config", "--config", str(tmp_path / "missing.toml"),
                     "--out", str(out)]) == 2
    assert "file not found" in capsys.readouterr().err
    assert not out.exists()


# -- a real broker with the shipped config ---------------------------------------------------

def test_allowed_publishes_arrive(secured_broker, broker_files) -> None:
    caller = login(secured_broker, broker_files, "caller")
    assert caller.subscribe(f"{T.root}/#")
    kiosk = login(secured_broker, broker_files, "kiosk-k1")
    counter = login(secured_broker, broker_files, "counter-1")
    board = login(secured_broker, broker_files, "display-board")
    try:
        kiosk.publish(T.ticket_from("k1"), b"t1")
        kiosk.publish(T.status("kiosk", "k1"), b"online")
        counter.publish(T.counter_cmd("1"), b"next")
        counter.publish(T.counter_rating("1"), b"r")
        board.publish(T.status("display", "board"), b"online")
        assert caller.receive_until(T.status("display", "board")) == [
            (T.ticket_from("k1"), b"t1"), (T.status("kiosk", "k1"), b"online"), (T.counter_cmd("1"), b"next"),
            (T.counter_rating("1"), b"r"), (T.status("display", "board"), b"online")]

        for device in (kiosk, counter, board):
            assert device.subscribe(T.board)
        assert counter.subscribe(T.counter_state("1"))
        assert board.subscribe(T.counter_state("1"))
        caller.publish(T.counter_state("1"), b"serving")
        caller.publish(T.board, b"board-1", retain=True)
        assert kiosk.receive_until(T.board) == [(T.board, b"board-1")]
        assert counter.receive_until(T.board) == [(T.counter_state("1"), b"serving"),
                                                  (T.board, b"board-1")]
        assert board.receive_until(T.board) == [(T.counter_state("1"), b"serving"),
                                                (T.board, b"board-1")]

        # The caller's heartbeat and its confirmations reach the senders (and the board beats).
        for device in (kiosk, counter):
            assert device.subscribe(T.received)
        for device in (kiosk, counter, board):
            assert device.subscribe(T.heartbeat)
        caller.publish(T.heartbeat, b"beat")
        caller.publish(T.received, b"ids")
        assert kiosk.receive_until(T.received) == [(T.heartbeat, b"beat"), (T.received, b"ids")]
        assert counter.receive_until(T.received) == [(T.heartbeat, b"beat"), (T.received, b"ids")]
        assert board.receive_until(T.heartbeat) == [(T.heartbeat, b"beat")]
    finally:
        for device in (caller, kiosk, counter, board):
            device.close()


def test_denied_publishes_never_arrive(secured_broker, broker_files) -> None:
    caller = login(secured_broker, broker_files, "caller")
    assert caller.subscribe(f"{T.root}/#")
    counter = login(secured_broker, broker_files, "counter-1")
    kiosk = login(secured_broker, broker_files, "kiosk-k1")
    board = login(secured_broker, broker_files, "display-board")
    try:
        # Each device tries what it must not do, then does something allowed: messages from
        # one client arrive in order, so the allowed one proves the denied ones were dropped.
        counter.publish(T.counter_cmd("2"), b"next")        # pressing another counter's button
        counter.publish(T.counter_rating("2"), b"1")
        counter.publish(T.board, b"fake board")
        counter.publish(T.status("counter", "2"), b"offline")
        counter.publish(T.received, b"forged confirmation")    # would empty another's outbox
        counter.publish(T.heartbeat, b"forged heartbeat")
        counter.publish(T.counter_cmd("1"), b"fence")
        assert caller.receive_until(T.counter_cmd("1")) == [(T.counter_cmd("1"), b"fence")]

        kiosk.publish(T.counter_cmd("1"), b"next")
        kiosk.publish(T.called, b"fake call")
        kiosk.publish(T.status("kiosk", "k2"), b"online")
        kiosk.publish(T.received, b"forged confirmation")
        kiosk.publish(T.ticket, b"the shared topic of old")      # a kiosk writes its own only
        kiosk.publish(T.ticket_from("k2"), b"as another kiosk")
        kiosk.publish(T.ticket_from("k1"), b"fence")
        assert caller.receive_until(T.ticket_from("k1")) == [(T.ticket_from("k1"), b"fence")]

        board.publish(T.ticket_from("k1"), b"t")
        board.publish(T.counter_cmd("1"), b"next")
        board.publish(T.board, b"fake board")
        board.publish(T.status("display", "board"), b"fence")
        assert caller.receive_until(T.status("display", "board")) == [
            (T.status("display", "board"), b"fence")]

        # Nor may they listen to what is not theirs: Mosquitto may grant the subscription but
        # checks each message against the reader's ACL before delivering it.
        counter.subscribe(T.counter_state("2"))
        counter.subscribe(T.ticket_all)
        assert counter.subscribe(T.counter_state("1"))
        kiosk.subscribe(f"{T.root}/#")
        board.subscribe(T.counter_cmd("1"))
        assert board.subscribe(T.board)
        caller.publish(T.counter_state("2"), b"serving")
        kiosk.publish(T.ticket_from("k1"), b"t2")
        counter.publish(T.counter_cmd("1"), b"next")
        caller.publish(T.counter_state("1"), b"fence")
        caller.publish(T.board, b"fence", retain=True)
        assert counter.receive_until(T.counter_state("1")) == [(T.counter_state("1"), b"fence")]
        assert kiosk.receive_until(T.board) == [(T.board, b"fence")]
        assert board.receive_until(T.board) == [(T.board, b"fence")]
    finally:
        for device in (caller, counter, kiosk, board):
            device.close()


def test_strangers_are_refused(secured_broker, broker_files) -> None:
    with pytest.raises(Refused):
        Device(secured_broker.port).connect()                      # no credentials
    with pytest.raises(Refused):
        Device(secured_broker.port, "counter-1", "guess").connect()
    counter_2_secret = broker_files.secrets["counter-2"].read_text().strip()
    with pytest.raises(Refused):
        Device(secured_broker.port, "counter-1", counter_2_secret).connect()
    with pytest.raises(Refused):
        Device(secured_broker.port, "someone", counter_2_secret).connect()


def test_a_daemon_link_logs_in_with_its_password_file(secured_broker, broker_files,
                                                      site: SiteConfig) -> None:
    """The secret file is what [broker] password_file points to on the device."""
    caller = login(secured_broker, broker_files, "caller")
    assert caller.subscribe(f"{T.root}/status/#")
    settings = BrokerSettings(host="127.0.0.1", port=secured_broker.port, tls=False,
                              username="kiosk-k1", password_file=broker_files.secrets["kiosk-k1"],
                              ca_file=None, keepalive=30)
    inbox: queue.Queue = queue.Queue()
    link = ThreadedLink(settings, T, role="kiosk", device="k1", inbox=inbox)
    link.start()
    try:
        assert isinstance(inbox.get(timeout=10), LinkUp)
        message = caller.receive()
        assert message.topic == T.status("kiosk", "k1") and b'"online"' in message.payload
    finally:
        link.stop()
        caller.close()


def test_broker_keeps_acknowledged_tickets_through_a_crash(secured_broker, broker_files) -> None:
    """The caller's persistent session holds tickets while it is away, even across kill -9."""
    caller = login(secured_broker, broker_files, "caller", client_id="motcua-liem-chung-caller-hub",
                   persistent=True)
    assert caller.subscribe(T.ticket_all)
    caller.close()
    kiosk = login(secured_broker, broker_files, "kiosk-k1")
    database = secured_broker.workdir / "mosquitto.db"
    for number in range(1, 4):
        kiosk.publish(T.ticket_from("k1"), f"ticket {number}".encode())
    kiosk.close()
    # autosave_on_changes + autosave_interval 1: the queue reaches the disk at once.
    assert _wait_for(lambda: database.exists() and b"ticket 3" in database.read_bytes()), \
        "mosquitto.db was not saved"
    secured_broker.stop(kill=True)
    secured_broker.start()
    caller = login(secured_broker, broker_files, "caller", client_id="motcua-liem-chung-caller-hub",
                   persistent=True)
    try:
        assert [bytes(caller.receive().payload) for _ in range(3)] == [
            b"ticket 1", b"ticket 2", b"ticket 3"]
    finally:
        caller.close()


def _wait_for(condition, timeout: float = 10.0) -> bool:
    event = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if condition():
            return True
        event.wait(0.05)
    return condition()


def test_the_tool_runs_as_a_command(tmp_path: Path, site: SiteConfig) -> None:
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "motcua.cli", "broker-config", "--config",
                             str(site.file), "--out", str(out), "--display", "board",
                             "--display", "quay-3"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "display-quay-3" in (out / "acl").read_text()
    assert load_config(site.file).site.id == "liem-chung"
    assert write_broker_files(site, out, ["board", "quay-3"]).created == ()
