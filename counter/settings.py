"""The ``[counter_pad]`` section: GPIO pins shared by every counter's pad."""

from __future__ import annotations

from dataclasses import dataclass, field

from motcua.config_reader import Table


@dataclass(frozen=True)
class CounterPadSettings:
    pins: dict[str, int] = field(default_factory=dict)   # action -> BCM pin
    bounce_ms: int = 50


def parse(root: Table, counters: tuple) -> CounterPadSettings:
    table = root.table("counter_pad")
    pins_table = table.table("pins")
    pins = {}
    for action in ("next", "recall", "skip", "done", "transfer", "pause", "resume"):
        pin = pins_table.int(action, None, min=0, max=27)
        if pin is not None:
            pins[action] = pin
    pins_table.finish()
    settings = CounterPadSettings(pins=pins, bounce_ms=table.int("bounce_ms", 50, min=0, max=2000))
    table.finish()
    return settings
