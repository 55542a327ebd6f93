"""The [counter_pad] section: defaults, the rating device, MQTT buttons; errors name file, key, reason."""

from __future__ import annotations

import pytest
from counter_rig import counter_config
from motcua.counter.settings import DEFAULT_LEVELS, MqttButton

from motcua.config import load_config
from motcua.errors import ConfigError
from motcua.protocol import Rate, Transfer

URL = "mqtt://127.0.0.1:1883"


def load(tmp_path, **parts):
    return load_config(counter_config(tmp_path, URL, **parts)).counter_pad


def test_example_defaults(tmp_path):
    pad = load(tmp_path)
    assert pad.pins == {"next": 5, "recall": 6, "skip": 13, "done": 19}
    assert (pad.bounce_ms, pad.led_pin, pad.transfer_to, pad.mqtt_buttons) == (50, None, None, ())
    assert pad.rating.levels == DEFAULT_LEVELS == ("Rất hài lòng", "Hài lòng", "Không hài lòng")
    assert (pad.rating.pins, pad.rating.keys, pad.rating.led_pin, pad.rating.thanks_s) == ((), (), None, 3.0)


def test_a_full_pad(tmp_path):
    pad = load(tmp_path, pins="transfer = 20, pause = 21", pad_keys='led_pin = 12\ntransfer_to = "tu-phap"',
               extra="""
[counter_pad.rating]
levels = ["Hài lòng", "Không hài lòng"]
pins = [23, 24]
keys = ["7", "8"]
led_pin = 25
thanks_s = 2

[[counter_pad.mqtt_buttons]]
topic = "zigbee2mqtt/nut"
payload = { action = "single" }
counter = "3"
action = "rate:2"

[[counter_pad.mqtt_buttons]]
topic = "cmnd/nut/POWER"
payload = " ON "
counter = "1"
action = "transfer:chung-thuc"

[[counter_pad.mqtt_buttons]]
topic = "cmnd/nut2/POWER"
payload = "ON"
counter = "1"
action = "transfer:counter:4"
""")
    assert pad.button_pins() == {"next": 5, "recall": 6, "skip": 13, "done": 19, "transfer": 20, "pause": 21,
                                 Rate(1): 23, Rate(2): 24}
    assert (pad.led_pin, pad.transfer_to, pad.rating.led_pin, pad.rating.thanks_s) == (12, "tu-phap", 25, 2.0)
    assert pad.rating.keys == ("7", "8")
    assert pad.mqtt_buttons == (MqttButton("zigbee2mqtt/nut", {"action": "single"}, "3", Rate(2)),
                                MqttButton("cmnd/nut/POWER", "ON", "1", Transfer("chung-thuc")),
                                MqttButton("cmnd/nut2/POWER", "ON", "1", Transfer("counter:4")))


BUTTON = '[[counter_pad.mqtt_buttons]]\ntopic = "z/nut"\npayload = "ON"\ncounter = "1"\naction = "next"\n'


@pytest.mark.parametrize("parts, key, reason", [
    ({"pad_keys": "led_pin = 5"}, "counter_pad.led_pin", "pin 5 is already pins.next"),
    ({"pad_keys": "led_pin = 40"}, "counter_pad.led_pin", "at most 27"),
    ({"pins": "transfer = 20"}, "counter_pad.transfer_to", "required"),
    ({"pad_keys": 'transfer_to = "nha-dat"'}, "counter_pad.transfer_to", "neither a service"),
    ({"pad_keys": 'transfer_to = "counter:9"'}, "counter_pad.transfer_to", "counter:ID"),
    ({"pad_keys": "colour = 1"}, "counter_pad.colour", "not a known key"),
    ({"extra": "[counter_pad.rating]\nlevels = []"}, "counter_pad.rating.levels", "must not be empty"),
    ({"extra": "[counter_pad.rating]\nlevels = [' ']"}, "counter_pad.rating.levels", "non-empty"),
    ({"extra": "[counter_pad.rating]\npins = [1, 2]"}, "counter_pad.rating.pins", "one int per level (3)"),
    ({"extra": "[counter_pad.rating]\npins = [1, 2, 99]"}, "counter_pad.rating.pins", "0 to 27"),
    ({"extra": "[counter_pad.rating]\npins = [1, 2, 6]"}, "counter_pad.rating.pins[2]",
     "already pins.recall"),
    ({"extra": "[counter_pad.rating]\nkeys = ['7', '7', '8']"}, "counter_pad.rating.keys", "distinct"),
    ({"extra": "[counter_pad.rating]\nkeys = ['7', '8', 'ab']"}, "counter_pad.rating.keys", "single"),
    ({"extra": "[counter_pad.rating]\nthanks_s = -1"}, "counter_pad.rating.thanks_s", "at least 0"),
    ({"extra": BUTTON.replace('"z/nut"', '"z/+"')}, "counter_pad.mqtt_buttons #1.topic", "wildcards"),
    ({"extra": BUTTON.replace('"ON"', '" "')}, "counter_pad.mqtt_buttons #1.payload", "empty"),
    ({"extra": BUTTON.replace('"ON"', "{}")}, "counter_pad.mqtt_buttons #1.payload", "table of JSON"),
    ({"extra": BUTTON.replace('"ON"', "[1]")}, "counter_pad.mqtt_buttons #1.payload", "table of JSON"),
    ({"extra": BUTTON.replace('"ON"', "{ a = [1] }")}, "counter_pad.mqtt_buttons #1.payload",
     "table of JSON"),
    ({"extra": BUTTON.replace('counter = "1"', 'counter = "9"')}, "counter_pad.mqtt_buttons #1.counter",
     "unknown counter '9'; known: 1, 2, 3, 4"),
    ({"extra": BUTTON.replace('"next"', '"rate:4"')}, "counter_pad.mqtt_buttons #1.action", "rate:1"),
    ({"extra": BUTTON.replace('"next"', '"transfer"')}, "counter_pad.mqtt_buttons #1.action", "SERVICE"),
    ({"extra": BUTTON.replace('"next"', '"transfer:counter:9"')}, "counter_pad.mqtt_buttons #1.action",
     "transfer:counter:ID"),
    ({"extra": BUTTON + "qos = 1\n"}, "counter_pad.mqtt_buttons #1.qos", "not a known key"),
])
def test_bad_keys_are_named_with_the_reason(tmp_path, parts, key, reason):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **parts)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert caught.value.file.endswith("site.toml")
