"""The ``[voice]`` and ``[queue]`` sections: how the caller queues and announces."""

from __future__ import annotations

from dataclasses import dataclass

from motcua.config_reader import Table


@dataclass(frozen=True)
class CallerSettings:
    template: str
    template_with_name: str
    repeat: int
    rate: int
    volume: float
    priority: str            # "strict" or "every"
    priority_every: int


def parse(root: Table) -> CallerSettings:
    voice = root.table("voice")
    queue = root.table("queue")
    settings = CallerSettings(
        template=voice.str("template", "Mời công dân có số thứ tự {number} đến {counter}"),
        template_with_name=voice.str(
            "template_with_name", "Mời công dân {name}, số thứ tự {number}, đến {counter}"),
        repeat=voice.int("repeat", 1, min=1, max=5),
        rate=voice.int("rate", 150, min=60, max=400),
        volume=voice.float("volume", 1.0, min=0.0, max=1.0),
        priority=queue.str("priority", "strict", choices=("strict", "every")),
        priority_every=queue.int("priority_every", 3, min=1, max=100),
    )
    voice.finish()
    queue.finish()
    return settings
