"""The hub's MQTT-button bridge (``motcua counter --mqtt-buttons``) has a broker account of its
own, ``buttons`` (issue 18): it sends the commands of the counters its buttons serve and
nothing else, and its password cannot take the caller's connection."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest
from install_helpers import Device, site_file
from motcua.counter.daemon import ButtonBridge
from rig import Mosquitto

from motcua.broker_config import BrokerFiles, accounts, write_broker_files
from motcua.config import BrokerSettings, SiteConfig, load_config
from motcua.mqtt import LinkUp, Session, ThreadedLink
from motcua.protocol import Topics

T = Topics("liem-chung")
BUTTONS = """
[[counter_pad.mqtt_buttons]]
topic = "zigbee2mqtt/quay-1-nut"
payload = { action = "single" }
counter = "1"
action = "next"

[[counter_pad.mqtt_buttons]]
topic = "tasmota/quay-2/RESULT"
payload = { Button1 = { Action = "SINGLE" } }
counter = "2"
action = "done"

[[counter_pad.mqtt_buttons]]
topic = "zigbee2mqtt/quay-2-danh-gia"
payload = "1"
counter = "2"
action = "rate:1"
"""


def with_buttons(path: Path) -> Path:
    path.write_text(path.read_text(encoding="utf-8") + BUTTONS, encoding="utf-8")
    return path


@pytest.fixture
def button_site(tmp_path: Path) -> SiteConfig:
    return load_config(with_buttons(site_file(tmp_path, "mqtt://127.0.0.1:1883")))


@pytest.fixture
def button_files(button_site: SiteConfig, tmp_path: Path) -> BrokerFiles:
    return write_broker_files(button_site, tmp_path / "broker-files")


@pytest.fixture
def button_broker(tmp_path: Path, button_files: BrokerFiles):
    server = Mosquitto(tmp_path / "mosquitto", passwords=button_files.passwords, acl=button_files.acl)
    server.start()
    yield server
    server.stop()


def login(broker, files: BrokerFiles, username: str, **kwargs) -> Device:
    return Device.login(broker.port, username, files.secrets[username], **kwargs)


def test_a_site_without_mqtt_buttons_has_no_buttons_account(site: SiteConfig) -> None:
    assert "buttons" not in [account.username for account in accounts(site)]


def test_the_buttons_acl_is_its_topics_and_its_counters_only(button_files: BrokerFiles) -> None:
    block = button_files.acl.read_text().split("user buttons\n")[1].split("\n\n")[0].splitlines()
    assert block == [
        "topic read zigbee2mqtt/quay-1-nut",
        "topic read tasmota/quay-2/RESULT",
        "topic read zigbee2mqtt/quay-2-danh-gia",
        "topic read motcua/liem-chung/counter/+/state",
        "topic read motcua/liem-chung/heartbeat",
        "topic read motcua/liem-chung/received",
        "topic read motcua/liem-chung/status/counter/buttons",
        "topic write motcua/liem-chung/counter/1/cmd",
        "topic write motcua/liem-chung/counter/2/cmd",
        "topic write motcua/liem-chung/counter/2/rating",
        "topic write motcua/liem-chung/status/counter/buttons",
    ]
    assert button_files.secrets["buttons"].stat().st_mode & 0o077 == 0


def test_the_bridge_sends_commands_but_no_ticket_and_keeps_the_caller_connected(
        button_broker, button_files: BrokerFiles) -> None:
    caller = login(button_broker, button_files, "caller")
    dropped = threading.Event()
    caller.client.on_disconnect = lambda *args: dropped.set()
    caller.client.reconnect_delay_set(60, 60)       # a takeover must stay visible
    for topic in (T.ticket_all, T.counter_cmd_all, f"{T.root}/counter/+/rating"):
        assert caller.subscribe(topic)
    # The bridge's account under the caller's client id: the broker gives it its own id.
    bridge = login(button_broker, button_files, "buttons", client_id="caller")
    try:
        # Granted (Mosquitto filters wildcards per message), but no ticket or call reaches it.
        for topic in (T.ticket_all, T.called, f"{T.root}/counter/+/state"):
            assert bridge.subscribe(topic)
        kiosk = login(button_broker, button_files, "kiosk-k1")
        kiosk.publish(T.ticket_from("k1"), b"a citizen's ticket")
        kiosk.close()
        caller.publish(T.called, b"a full name")
        caller.publish(T.counter_state("1"), b"state of counter 1")
        assert bridge.receive_until(T.counter_state("1")) == [(T.counter_state("1"),
                                                               b"state of counter 1")]
        assert caller.receive().topic == T.ticket_from("k1")
        bridge.publish(T.ticket_from("k1"), b"forged ticket")      # acked, dropped by the ACL
        bridge.publish(T.counter_cmd("3"), b"not its counter")
        bridge.publish(T.counter_rating("1"), b"no rating button at counter 1")
        bridge.publish(T.counter_cmd("1"), b"next at counter 1")
        bridge.publish(T.counter_rating("2"), b"rating at counter 2")
        seen = caller.receive_until(T.counter_rating("2"))
        assert seen == [(T.counter_cmd("1"), b"next at counter 1"),
                        (T.counter_rating("2"), b"rating at counter 2")]
        assert not dropped.is_set(), "the buttons account cut the caller off"
    finally:
        bridge.close()
        caller.close()


def test_the_bridges_own_subscriptions_are_granted(button_broker, button_files: BrokerFiles,
                                                   button_site: SiteConfig) -> None:
    """The real bridge's link (its subscriptions, its status) on the ``buttons`` account."""
    watcher = login(button_broker, button_files, "caller")
    assert watcher.subscribe(T.status("counter", "buttons"))
    settings = BrokerSettings(host="127.0.0.1", port=button_broker.port, tls=False,
                              username="buttons", password_file=button_files.secrets["buttons"],
                              ca_file=None, keepalive=30)
    inbox: queue.Queue = queue.Queue()
    link = ThreadedLink(settings, T, role="counter", device="buttons", inbox=inbox,
                subscriptions=ButtonBridge.subscriptions(button_site),
                session=Session.KEPT_UNTIL_ACKED)
    link.start()
    try:
        assert isinstance(inbox.get(timeout=10), LinkUp)
        message = watcher.receive()
        assert message.topic == T.status("counter", "buttons") and b'"online"' in message.payload
    finally:
        link.stop()
        watcher.close()



def test_the_button_gateway_presses_buttons_and_touches_nothing_of_motcua(
        button_broker, button_files: BrokerFiles) -> None:
    """Zigbee2MQTT or Tasmota logs in as ``button-devices``: its base topics only."""
    block = button_files.acl.read_text().split("user button-devices\n")[1].split("\n\n")[0]
    assert block.splitlines() == ["topic read zigbee2mqtt/#", "topic read tasmota/#",
                                  "topic write zigbee2mqtt/#", "topic write tasmota/#"]
    bridge = login(button_broker, button_files, "buttons")
    caller = login(button_broker, button_files, "caller")
    gateway = login(button_broker, button_files, "button-devices", client_id="caller")
    try:
        assert bridge.subscribe("zigbee2mqtt/quay-1-nut")
        assert caller.subscribe(T.counter_cmd_all) and caller.subscribe(T.ticket_all)
        gateway.publish(T.counter_cmd("1"), b"next, not through the bridge")   # dropped by the ACL
        gateway.publish(T.ticket_from("k1"), b"forged ticket")                # dropped by the ACL
        gateway.publish("zigbee2mqtt/quay-1-nut", b'{"action": "single"}')
        assert bridge.receive_until("zigbee2mqtt/quay-1-nut") == [
            ("zigbee2mqtt/quay-1-nut", b'{"action": "single"}')]
        bridge.publish(T.counter_cmd("1"), b"fence")
        assert caller.receive_until(T.counter_cmd("1")) == [(T.counter_cmd("1"), b"fence")]
    finally:
        gateway.close()
        caller.close()
        bridge.close()
