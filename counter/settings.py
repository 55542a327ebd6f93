"""The ``[counter_pad]`` section: GPIO pins, LED, rating buttons and wireless MQTT buttons.

The same section serves every counter (one counter per Pi); per-counter keyboard
keys live in ``[[counters]].keys``. Every key is documented in docs/counter.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from motcua import sections
from motcua.config_reader import Table
from motcua.protocol import ACTIONS, Action, PadAction, Rate

from .pad import parse_action

DEFAULT_LEVELS = ("Rất hài lòng", "Hài lòng", "Không hài lòng")
MAX_LEVELS = 10          # protocol.Rating accepts scores 1..10


@dataclass(frozen=True)
class RatingSettings:
    """The rating device at a counter: one button per level, the best level first."""

    levels: tuple[str, ...] = DEFAULT_LEVELS
    pins: tuple[int, ...] = ()        # BCM pin per level, or none
    keys: tuple[str, ...] = ()        # keyboard key per level, or none
    led_pin: int | None = None        # the "cảm ơn" LED
    thanks_s: float = 3.0             # LED on and further presses ignored for this long


@dataclass(frozen=True)
class MqttButton:
    """A wireless button: a message on ``topic`` matching ``payload`` is ``action`` at ``counter``."""

    topic: str
    payload: str | dict[str, Any]     # the exact text, or JSON fields that must all match
    counter: str
    action: PadAction                 # written as a pad action, "transfer:SERVICE" or "rate:N"


@dataclass(frozen=True)
class CounterPadSettings:
    pins: dict[Action, int] = field(default_factory=dict)   # action -> BCM pin
    bounce_ms: int = 50
    led_pin: int | None = None
    transfer_to: str | None = None    # service id the transfer button sends a ticket to
    rating: RatingSettings = field(default_factory=RatingSettings)
    mqtt_buttons: tuple[MqttButton, ...] = ()

    def button_pins(self) -> dict[PadAction, int]:
        """Every GPIO button of the Pi: pad actions, and ``rate:N`` for the rating levels."""
        pins: dict[PadAction, int] = {action: pin for action, pin in self.pins.items()}
        pins.update({Rate(n): pin for n, pin in enumerate(self.rating.pins, start=1)})
        return pins


def parse(root: Table, counters: tuple) -> CounterPadSettings:
    table = root.table("counter_pad")
    services = {service for counter in counters for service in counter.services}
    # Where a transfer may send a ticket: a service, or one counter ("counter:3").
    targets = services | {f"counter:{counter.id}" for counter in counters}
    pins_table = table.table("pins")
    pins: dict[Action, int] = {}
    for action in ACTIONS:
        pin = pins_table.get_int(action, None, min=0, max=27)
        if pin is not None:
            pins[action] = pin
    pins_table.finish()
    transfer_to = table.get_str("transfer_to", None)
    if transfer_to is not None and transfer_to not in targets:
        raise table.error("transfer_to", f"{transfer_to!r} is neither a service some counter "
                                         "serves nor counter:ID of a counter")
    if transfer_to is None and (Action.TRANSFER in pins
                                or any(Action.TRANSFER in c.keys for c in counters)):
        raise table.error("transfer_to", "is required for a transfer button or key")
    rating = _parse_rating(table.table("rating"))
    settings = CounterPadSettings(
        pins=pins,
        bounce_ms=table.get_int("bounce_ms", CounterPadSettings.bounce_ms, min=0, max=2000),
        led_pin=table.get_int("led_pin", None, min=0, max=27),
        transfer_to=transfer_to,
        rating=rating,
        mqtt_buttons=tuple(_parse_mqtt_button(entry, counters, targets, len(rating.levels))
                           for entry in table.tables("mqtt_buttons")),
    )
    _check_pins_unique(table, settings)
    table.finish()
    return settings


def _parse_rating(table: Table) -> RatingSettings:
    levels = tuple(table.str_list("levels", list(DEFAULT_LEVELS), nonempty=True))
    if len(levels) > MAX_LEVELS or any(not level.strip() for level in levels):
        raise table.error("levels", f"must be 1 to {MAX_LEVELS} non-empty names, best first")
    pins = tuple(_per_level(table, "pins", int, len(levels)))
    if any(not 0 <= pin <= 27 for pin in pins):
        raise table.error("pins", "BCM pins are 0 to 27")
    keys = tuple(_per_level(table, "keys", str, len(levels)))
    if any(len(key) != 1 for key in keys) or len(set(keys)) != len(keys):
        raise table.error("keys", "must be distinct single characters")
    settings = RatingSettings(levels=levels, pins=pins, keys=keys,
                              led_pin=table.get_int("led_pin", None, min=0, max=27),
                              thanks_s=table.get_float("thanks_s", RatingSettings.thanks_s, min=0, max=60))
    table.finish()
    return settings


def _per_level(table: Table, name: str, kind: type, count: int) -> list:
    value = table.raw(name, [])
    if (not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, kind) for v in value)
            or len(value) not in (0, count)):
        raise table.error(name, f"must list one {kind.__name__} per level ({count}), best first")
    return value


def _parse_mqtt_button(table: Table, counters: tuple, targets: set[str], levels: int) -> MqttButton:
    topic = table.get_str("topic")
    if any(c in topic for c in "+#\0"):
        raise table.error("topic", "must be one exact topic, without wildcards")
    payload = table.raw("payload")
    if isinstance(payload, str):
        if not payload.strip():
            raise table.error("payload", "must not be empty")
        payload = payload.strip()
    elif not isinstance(payload, dict) or not payload or not _json_fields(payload):
        raise table.error("payload", "must be a string or a table of JSON fields, "
                                     "such as { action = \"single\" }")
    counter = table.get_str("counter")
    known = [c.id for c in counters]
    if counter not in known:
        raise table.error("counter", f"unknown counter {counter!r}; known: {', '.join(known)}")
    try:
        action = parse_action(table.get_str("action"), levels=levels, services=targets)
    except ValueError as exc:
        raise table.error("action", str(exc)) from None
    table.finish()
    return MqttButton(topic=topic, payload=payload, counter=counter, action=action)


def _json_fields(fields: dict[str, Any]) -> bool:
    """Values a JSON payload can hold: text, numbers, true/false and nested tables."""
    for value in fields.values():
        if isinstance(value, dict):
            if not value or not _json_fields(value):
                return False
        elif not isinstance(value, str | int | float | bool):
            return False
    return True


def _check_pins_unique(table: Table, settings: CounterPadSettings) -> None:
    used: dict[int, str] = {}
    wired: list[tuple[str, int | None]] = [(f"pins.{action}", pin) for action, pin in settings.pins.items()]
    wired += [(f"rating.pins[{n}]", pin) for n, pin in enumerate(settings.rating.pins)]
    wired += [("led_pin", settings.led_pin), ("rating.led_pin", settings.rating.led_pin)]
    for key, pin in wired:
        if pin is None:
            continue
        if pin in used:
            raise table.error(key, f"pin {pin} is already {used[pin]}")
        used[pin] = key


# The site config reads this section through the registry (motcua/sections.py).
sections.register("counter_pad", lambda root, site: parse(root, site.counters))
