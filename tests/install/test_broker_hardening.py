"""The hub's broker against a device that is hostile or careless (issue 18), on the shipped
config with the accounts ``motcua broker-config`` writes: client ids bound to accounts,
limits, names kept from the boards."""

from __future__ import annotations

import queue
import re
import threading

import pytest
from install_helpers import Device
from rig import SHIPPED_CONF, eventually

from motcua.protocol import Topics

T = Topics("liem-chung")
CALLER_SESSION = "motcua-liem-chung-caller-hub"     # the caller's client id before issue 18


def login(broker, files, username: str, **kwargs) -> Device:
    return Device.login(broker.port, username, files.secrets[username], **kwargs)


class Watched(Device):
    """A device that counts the times the broker closed its connection."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dropped = threading.Event()
        self.client.on_disconnect = lambda *args: self.dropped.set()
        self.client.reconnect_delay_set(60, 60)     # a takeover must stay visible


def every_client_id(files) -> list[str]:
    """Every account name, and every id the daemons used before ids were bound to accounts."""
    old = [CALLER_SESSION, "motcua-liem-chung-kiosk-k1", "motcua-liem-chung-display-board",
           *(f"motcua-liem-chung-counter-{n}" for n in "1234"), "", "caller-hub"]
    return [*files.secrets, *old]


def test_no_credential_takes_over_another_devices_client_id(secured_broker, broker_files) -> None:
    """Every device's password under every device's client id: the caller stays connected,
    its persistent session keeps what the broker acknowledged while it was away."""
    secret = broker_files.secrets["caller"].read_text().strip()
    caller = Watched(secured_broker.port, "caller", secret, client_id=CALLER_SESSION, persistent=True)
    caller.connect()
    assert caller.subscribe(T.ticket_all)
    others = [name for name in broker_files.secrets if name != "caller"]
    tried = 0
    for username in others:
        for client_id in every_client_id(broker_files):
            for persistent in (False, True) if client_id else (False,):
                intruder = login(secured_broker, broker_files, username, client_id=client_id,
                                 persistent=persistent)
                intruder.close()
                tried += 1
    assert tried == len(others) * (2 * len(every_client_id(broker_files)) - 1)
    kiosk = login(secured_broker, broker_files, "kiosk-k1")
    kiosk.publish(T.ticket_from("k1"), b"while the intruders came and went")
    assert bytes(caller.receive().payload) == b"while the intruders came and went"
    assert not caller.dropped.is_set(), "an intruder took over the caller's connection"

    # The caller away: tickets wait in its session; intruders under its id do not resume it.
    caller.close()
    for number in (1, 2, 3):
        kiosk.publish(T.ticket_from("k1"), f"ticket {number}".encode())
    for username in others:
        for persistent in (False, True):
            intruder = login(secured_broker, broker_files, username, client_id=CALLER_SESSION,
                             persistent=persistent)
            intruder.subscribe(T.ticket_all)            # refused by its ACL anyway
            intruder.close()
    kiosk.close()
    caller = Device(secured_broker.port, "caller", secret, client_id=CALLER_SESSION, persistent=True)
    session = []
    caller.client.on_connect = lambda c, u, flags, reason, p: (
        session.append(flags.session_present), caller._connack.put(reason))
    caller.connect()
    try:
        assert session == [True]
        assert [bytes(caller.receive().payload) for _ in range(3)] == [
            b"ticket 1", b"ticket 2", b"ticket 3"]
    finally:
        caller.close()


def test_a_second_device_with_one_account_replaces_the_first(secured_broker, broker_files) -> None:
    """Same account twice: the broker keeps one connection per account (motcua/mqtt.py then
    stops the newer daemon); never two kiosks k1 at once."""
    first = Watched(secured_broker.port, "kiosk-k1",
                    broker_files.secrets["kiosk-k1"].read_text().strip(), client_id="a")
    first.connect()
    second = login(secured_broker, broker_files, "kiosk-k1", client_id="b")
    try:
        assert first.dropped.wait(10)
    finally:
        second.close()
        first.close()


def test_boards_cannot_read_full_names(secured_broker, broker_files) -> None:
    caller = login(secured_broker, broker_files, "caller")
    board = login(secured_broker, broker_files, "display-board")
    try:
        board.subscribe(T.called)                # Mosquitto may grant it: delivery is checked
        assert board.subscribe(T.board)
        caller.publish(T.called, "Mời công dân Nguyễn Văn An đến quầy số 1".encode())
        caller.publish(T.board, b"fence", retain=True)
        assert board.receive_until(T.board) == [(T.board, b"fence")]
    finally:
        board.close()
        caller.close()


def test_an_oversized_message_closes_its_sender_and_is_never_queued(secured_broker,
                                                                    broker_files) -> None:
    """A 1 MB "ticket" (the hub allows 32 KiB) is refused with its connection; the
    caller's session holds only the real ticket sent after it, and the database stays small."""
    caller = login(secured_broker, broker_files, "caller", client_id="x", persistent=True)
    assert caller.subscribe(T.ticket_all)
    caller.close()
    attacker = Watched(secured_broker.port, "kiosk-k1",
                       broker_files.secrets["kiosk-k1"].read_text().strip())
    attacker.connect()
    attacker.client.publish(T.ticket_from("k1"), b"x" * 1_000_000, qos=1)
    assert attacker.dropped.wait(10), "the broker accepted a 1 MB packet"
    attacker.close()
    kiosk = login(secured_broker, broker_files, "kiosk-k1")
    kiosk.publish(T.ticket_from("k1"), b"real ticket")
    kiosk.close()
    caller = login(secured_broker, broker_files, "caller", client_id="x", persistent=True)
    try:
        assert bytes(caller.receive().payload) == b"real ticket"
        with pytest.raises(queue.Empty):            # nothing else was queued
            caller.messages.get(timeout=0.5)
    finally:
        caller.close()
    database = secured_broker.workdir / "mosquitto.db"
    assert eventually(database.exists)
    assert database.stat().st_size < 100_000


def test_a_flood_from_one_device_does_not_drop_anothers_tickets(secured_broker, broker_files,
                                                                 soak: bool) -> None:
    """A stolen counter password floods the caller's queue while the caller is away; a ticket
    the kiosk sent after the flood is still delivered. With --soak: a busy day's 12,000
    messages (the broker saves its whole queue on every change: docs/reliability.md)."""
    flood = 12_000 if soak else 1_000
    caller = login(secured_broker, broker_files, "caller", client_id="x", persistent=True)
    assert caller.subscribe(T.ticket_all) and caller.subscribe(T.counter_cmd_all)
    caller.close()
    attacker = Device(secured_broker.port, "counter-1",
                      broker_files.secrets["counter-1"].read_text().strip())
    attacker.client.max_inflight_messages_set(1000)
    attacker.connect()
    infos = [attacker.client.publish(T.counter_cmd("1"), b"next", qos=1) for _ in range(flood)]
    for info in infos:
        info.wait_for_publish(60)
    attacker.close()
    kiosk = login(secured_broker, broker_files, "kiosk-k1")
    kiosk.publish(T.ticket_from("k1"), b"real ticket")
    kiosk.close()
    caller = login(secured_broker, broker_files, "caller", client_id="x", persistent=True)
    try:
        received = 0
        while True:
            message = caller.receive()
            if message.topic == T.ticket_from("k1"):
                assert bytes(message.payload) == b"real ticket"
                break
            received += 1
        assert received == flood
    finally:
        caller.close()
    assert "dropped" not in secured_broker.log.read_text(errors="replace")


def test_the_shipped_limits_fit_an_office() -> None:
    """What docs/reliability.md ("Limits") promises is what the hub's config says."""
    text = SHIPPED_CONF.read_text()
    settings = dict(re.findall(r"(?m)^(\w+) (.+)$", text))
    assert settings["use_username_as_clientid"] == "true"
    assert int(settings["max_packet_size"]) <= 32768
    day = 2_000 + 10_000                                      # a busy office's tickets and presses
    assert int(settings["max_queued_messages"]) >= 5 * day
    assert 0 < int(settings["max_queued_bytes"]) <= 128 * 2**20
    # The caller's inbox stays small under a flood because the broker keeps at most this many
    # unacknowledged messages in flight to it (Mosquitto's default 20; bench/caller_flood.py).
    assert 0 < int(settings.get("max_inflight_messages", "20")) <= 20
    blocks = re.split(r"(?m)^listener ", text)[1:]
    assert len(blocks) == 2 and all("max_connections" in block for block in blocks)
    assert blocks[0].startswith("1883 127.0.0.1\n")          # plain MQTT for the hub only
    assert blocks[1].startswith("8883\n") and "certfile" in blocks[1]

