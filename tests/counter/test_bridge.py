"""The --mqtt-buttons bridge on a real broker: wireless buttons become commands and ratings."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from counter_rig import TOPICS, run_bridge
from motcua.counter.daemon import serve_bridge
from rig import Subscriber, eventually

from motcua.errors import ConfigError
from motcua.protocol import CounterCommand, CounterState, Rating, encode

BUTTONS = """
[[counter_pad.mqtt_buttons]]
topic = "zigbee2mqtt/quay-1-nut"
payload = { action = "single" }
counter = "1"
action = "next"

[[counter_pad.mqtt_buttons]]
topic = "zigbee2mqtt/quay-1-nut"
payload = { action = "double" }
counter = "1"
action = "recall"

[[counter_pad.mqtt_buttons]]
topic = "zigbee2mqtt/quay-1-nut"
payload = { action = "hold" }
counter = "1"
action = "pause"

[[counter_pad.mqtt_buttons]]
topic = "stat/tasmota-quay-2/RESULT"
payload = { Button1 = { Action = "SINGLE" } }
counter = "2"
action = "done"

[[counter_pad.mqtt_buttons]]
topic = "esphome/danh-gia-2/hai-long"
payload = "ON"
counter = "2"
action = "rate:2"
"""


def test_button_messages_become_commands_and_ratings(make_config, broker, running):
    config = make_config(extra=BUTTONS)
    caller = Subscriber(broker.port, TOPICS.counter_cmd_all, TOPICS.counter_rating_all)
    bridge = run_bridge(config)
    running.append(bridge)
    assert bridge.connected()
    assert eventually(lambda: bridge.daemon.link.client.is_connected())
    caller.publish("zigbee2mqtt/quay-1-nut", json.dumps({"action": "single", "battery": 97,
                                                           "linkquality": 120}).encode())
    caller.publish("stat/tasmota-quay-2/RESULT", b'{"Button1":{"Action":"SINGLE"}}')
    caller.publish("esphome/danh-gia-2/hai-long", b"ON\n")
    caller.publish("zigbee2mqtt/quay-1-nut", b'{"action":"double"}')
    commands_1 = caller.wait_for(TOPICS.counter_cmd("1"), CounterCommand, 2)
    assert [c.action for c in commands_1] == ["next", "recall"]
    assert [c.action for c in caller.wait_for(TOPICS.counter_cmd("2"), CounterCommand, 1)] == ["done"]
    assert [r.score for r in caller.wait_for(TOPICS.counter_rating("2"), Rating, 1)] == [2]
    assert bridge.stop() == 0
    caller.close()


def test_malformed_and_unmatched_messages_are_dropped_and_the_bridge_goes_on(make_config, broker, running):
    config = make_config(extra=BUTTONS)
    caller = Subscriber(broker.port, TOPICS.counter_cmd_all)
    bridge = run_bridge(config)
    running.append(bridge)
    assert bridge.connected()
    # (30,000 brackets: the hub's broker closes a sender of more than 32 KiB, docs/reliability.md.)
    for payload in (b"{not json", b"\xff\xfe", b'["single"]', b'{"action":"triple"}', b'{"action":1}',
                    b"single", b'{"action":{"x":"single"}}', b"[" * 30_000):
        caller.publish("zigbee2mqtt/quay-1-nut", payload)
    caller.publish("stat/tasmota-quay-2/RESULT", b'{"Button1":"SINGLE"}')
    caller.publish("esphome/danh-gia-2/hai-long", b"OFF")
    caller.publish(TOPICS.counter_state("1"), b"garbage")
    caller.publish("zigbee2mqtt/quay-1-nut", b'{"action":"single"}')
    assert [c.action for c in caller.wait_for(TOPICS.counter_cmd("1"), CounterCommand, 1)] == ["next"]
    assert eventually(lambda: bridge.daemon.ignored == 11)
    assert len(caller.decoded(TOPICS.counter_cmd("1"), CounterCommand)) == 1
    caller.close()


def test_hold_to_pause_resumes_a_paused_counter(make_config, broker, running):
    config = make_config(extra=BUTTONS)
    caller = Subscriber(broker.port, TOPICS.counter_cmd_all)
    caller.publish(TOPICS.counter_state("1"), encode(CounterState(counter="1", status="paused", seq=1)),
                   retain=True)
    bridge = run_bridge(config)
    running.append(bridge)
    assert eventually(lambda: "1" in bridge.daemon.states)
    caller.publish("zigbee2mqtt/quay-1-nut", b'{"action":"hold"}')
    assert [c.action for c in caller.wait_for(TOPICS.counter_cmd("1"), CounterCommand, 1)] == ["resume"]
    caller.close()


def test_button_presses_while_the_bridge_is_down_wait_in_its_session(make_config, broker, running):
    """QoS 1 button messages sent while the bridge restarts are kept by the broker for it."""
    config = make_config(extra=BUTTONS)
    caller = Subscriber(broker.port, TOPICS.counter_cmd_all)
    bridge = run_bridge(config)
    assert bridge.connected()
    bridge.stop()
    caller.publish("zigbee2mqtt/quay-1-nut", b'{"action":"single"}')
    caller.publish("stat/tasmota-quay-2/RESULT", b'{"Button1":{"Action":"SINGLE"}}')
    again = run_bridge(config)
    running.append(again)
    assert [c.action for c in caller.wait_for(TOPICS.counter_cmd("1"), CounterCommand, 1)] == ["next"]
    assert [c.action for c in caller.wait_for(TOPICS.counter_cmd("2"), CounterCommand, 1)] == ["done"]
    with sqlite3.connect(config.site.state_dir / "counter-buttons.db") as db:
        assert eventually(lambda: db.execute("SELECT count(*) FROM outbox").fetchone() == (0,))
    caller.close()


def test_a_bridge_without_buttons_refuses_to_start(make_config):
    with pytest.raises(ConfigError, match=r"counter_pad\.mqtt_buttons: no MQTT buttons"):
        serve_bridge(make_config(), threading.Event())
