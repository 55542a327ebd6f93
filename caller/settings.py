"""The ``[queue]`` section, plus the caller's voice (``[voice]``, see voice_settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from motcua.config_reader import Table

from . import voice_settings
from .voice_settings import VoiceSettings


@dataclass(frozen=True)
class QueueSettings:
    priority: str            # "strict" or "every"
    priority_every: int


@dataclass(frozen=True)
class CallerSettings:
    queue: QueueSettings
    voice: VoiceSettings


def parse(root: Table) -> CallerSettings:
    table = root.table("queue")
    queue = QueueSettings(
        priority=table.str("priority", "strict", choices=("strict", "every")),
        priority_every=table.int("priority_every", 3, min=1, max=100),
    )
    table.finish()
    return CallerSettings(queue=queue, voice=voice_settings.parse(root))
