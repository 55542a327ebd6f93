"""Wireless buttons (Zigbee2MQTT, Tasmota, ESPHome, …) as counter pads, without I/O.

``[[counter_pad.mqtt_buttons]]`` maps a topic and a payload to a counter and an
action. A payload rule is either a string (the whole payload, white space
trimmed, must equal it: ``ON``, ``single``) or a table of JSON fields that must
all be present with equal values, nested tables matching nested objects
(Zigbee2MQTT ``{ action = "single" }``, Tasmota ``{ Button1 = { Action = "SINGLE" } }``).
Extra fields in the payload are ignored. The first rule that matches wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from motcua.protocol import MAX_PAYLOAD, PadAction

from .settings import CounterPadSettings, MqttButton


class ButtonMap:
    """Topic and payload -> (counter id, action)."""

    def __init__(self, buttons: Iterable[MqttButton]) -> None:
        self.by_topic: dict[str, list[MqttButton]] = {}
        for button in buttons:
            self.by_topic.setdefault(button.topic, []).append(button)

    @classmethod
    def from_settings(cls, settings: CounterPadSettings) -> ButtonMap:
        return cls(settings.mqtt_buttons)

    def topics(self) -> list[str]:
        return list(self.by_topic)

    def match(self, topic: str, payload: bytes) -> tuple[str, PadAction] | None:
        """The (counter id, action) this message means, or None (unknown, unmatched or malformed)."""
        rules = self.by_topic.get(topic)
        if not rules or len(payload) > MAX_PAYLOAD:
            return None
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            return None
        body = _json_object(text) if any(isinstance(r.payload, dict) for r in rules) else None
        for rule in rules:
            if isinstance(rule.payload, str):
                if text == rule.payload:
                    return rule.counter, rule.action
            elif body is not None and _fields_match(rule.payload, body):
                return rule.counter, rule.action
        return None


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):     # not JSON, or nested absurdly deep
        return None
    return body if isinstance(body, dict) else None


def _fields_match(wanted: dict[str, Any], body: dict[str, Any]) -> bool:
    for key, value in wanted.items():
        if key not in body:
            return False
        got = body[key]
        if isinstance(value, dict):
            if not isinstance(got, dict) or not _fields_match(value, got):
                return False
        elif got != value or (type(got) is not type(value) and not _both_numbers(got, value)):
            return False
    return True


def _both_numbers(a: Any, b: Any) -> bool:
    return all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
