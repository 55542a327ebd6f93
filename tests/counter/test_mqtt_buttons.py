"""Wireless button mapping: Zigbee2MQTT, Tasmota and plain payloads; malformed payloads never match."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from motcua.counter.mqtt_buttons import ButtonMap
from motcua.counter.settings import CounterPadSettings, MqttButton

Z2M, TASMOTA, PLAIN = "zigbee2mqtt/nut-quay-1", "stat/tasmota/RESULT", "cmnd/quay-3/POWER"
BUTTONS = (
    MqttButton(Z2M, {"action": "single"}, "1", "next"),
    MqttButton(Z2M, {"action": "double"}, "1", "recall"),
    MqttButton(TASMOTA, {"Button1": {"Action": "SINGLE"}}, "2", "done"),
    MqttButton(TASMOTA, {"Button2": {"Action": "SINGLE"}}, "2", "rate:1"),
    MqttButton(PLAIN, "ON", "3", "skip"),
    MqttButton("esphome/x", {"count": 2, "long": True}, "4", "transfer:dat-dai"),
)
MAP = ButtonMap.from_settings(CounterPadSettings(mqtt_buttons=BUTTONS))


def test_topics_are_listed_once_each():
    assert MAP.topics() == [Z2M, TASMOTA, PLAIN, "esphome/x"]


def test_zigbee2mqtt_actions_with_extra_fields():
    payload = {"action": "single", "battery": 100, "linkquality": 87, "voltage": 3000}
    assert MAP.match(Z2M, json.dumps(payload).encode()) == ("1", "next")
    assert MAP.match(Z2M, b' {"action": "double"}\n') == ("1", "recall")
    assert MAP.match(Z2M, b'{"action": "hold"}') is None
    assert MAP.match(Z2M, b'{"battery": 99}') is None                 # a battery report, no press


def test_tasmota_nested_objects():
    assert MAP.match(TASMOTA, b'{"Button1":{"Action":"SINGLE"}}') == ("2", "done")
    assert MAP.match(TASMOTA, b'{"Button2":{"Action":"SINGLE"}}') == ("2", "rate:1")
    assert MAP.match(TASMOTA, b'{"Button1":{"Action":"DOUBLE"}}') is None
    assert MAP.match(TASMOTA, b'{"Button1":"SINGLE"}') is None
    assert MAP.match(TASMOTA, b'{"POWER":"ON"}') is None


def test_plain_payloads_match_exactly_after_trimming():
    assert MAP.match(PLAIN, b"ON") == ("3", "skip")
    assert MAP.match(PLAIN, b" ON\r\n") == ("3", "skip")
    assert MAP.match(PLAIN, b"on") is None
    assert MAP.match(PLAIN, b"OFF") is None
    assert MAP.match(PLAIN, b'"ON"') is None


def test_types_must_agree_but_numbers_are_numbers():
    assert MAP.match("esphome/x", b'{"count": 2, "long": true}') == ("4", "transfer:dat-dai")
    assert MAP.match("esphome/x", b'{"count": 2.0, "long": true}') == ("4", "transfer:dat-dai")
    assert MAP.match("esphome/x", b'{"count": "2", "long": true}') is None
    assert MAP.match("esphome/x", b'{"count": 2, "long": 1}') is None
    assert MAP.match("esphome/x", b'{"count": true, "long": true}') is None


def test_malformed_payloads_and_other_topics_do_not_match():
    for payload in (b"", b"{", b"\xff\xfe\x00", b"[1,2]", b"null", b'"single"', b"[" * 50_000,
                    b'{"action": "single"' + b" " * 70_000 + b"}"):
        assert MAP.match(Z2M, payload) is None
    assert MAP.match("zigbee2mqtt/other", b'{"action":"single"}') is None
    assert MAP.match("zigbee2mqtt/+", b'{"action":"single"}') is None


@given(st.binary(max_size=300), st.sampled_from([Z2M, TASMOTA, PLAIN, "esphome/x", "x"]))
def test_any_bytes_give_a_mapping_or_none(payload, topic):
    result = MAP.match(topic, payload)
    assert result is None or result in {(b.counter, b.action) for b in BUTTONS}


@given(st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8), st.booleans()),
                       max_size=5))
def test_extra_fields_never_stop_a_match(extra):
    payload = {**extra, "action": "single"}
    assert MAP.match(Z2M, json.dumps(payload).encode()) == ("1", "next")
