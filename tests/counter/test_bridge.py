"""The --mqtt-buttons bridge on a real broker: wireless buttons become commands and ratings, and
wait in its persistent session while it restarts. Its rules are in test_counter_device.py."""

from __future__ import annotations

import json
import sqlite3

import pytest
from counter_rig import BUTTONS, TOPICS, run_bridge
from rig import Subscriber, eventually

from motcua.protocol import CounterCommand, CounterState, Rating, encode

pytestmark = pytest.mark.broker


def test_button_messages_become_commands_and_ratings(make_config, broker, running):
    config = make_config(extra=BUTTONS)
    caller = Subscriber(broker.port, TOPICS.counter_cmd_all, TOPICS.counter_rating_all)
    # Counter 1 is paused (retained, as the caller keeps it): the bridge hears it on its
    # wildcard subscription, so the hold button resumes it.
    caller.publish(TOPICS.counter_state("1"), encode(CounterState(counter="1", status="paused", seq=1)),
                   retain=True)
    bridge = run_bridge(config)
    running.append(bridge)
    assert bridge.connected()
    assert eventually(lambda: bridge.daemon.link.client.is_connected())
    caller.publish("zigbee2mqtt/quay-1-nut", json.dumps({"action": "single", "battery": 97,
                                                           "linkquality": 120}).encode())
    caller.publish("stat/tasmota-quay-2/RESULT", b'{"Button1":{"Action":"SINGLE"}}')
    caller.publish("esphome/danh-gia-2/hai-long", b"ON\n")
    caller.publish("zigbee2mqtt/quay-1-nut", b'{"action":"double"}')
    caller.publish("zigbee2mqtt/quay-1-nut", b'{"action":"hold"}')
    commands_1 = caller.wait_for(TOPICS.counter_cmd("1"), CounterCommand, 3)
    assert [c.action for c in commands_1] == ["next", "recall", "resume"]
    assert [c.action for c in caller.wait_for(TOPICS.counter_cmd("2"), CounterCommand, 1)] == ["done"]
    assert [r.score for r in caller.wait_for(TOPICS.counter_rating("2"), Rating, 1)] == [2]
    assert bridge.stop() == 0
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
