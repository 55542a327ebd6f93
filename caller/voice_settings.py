"""The ``[voice]`` section: what the waiting room hears."""

from __future__ import annotations

from dataclasses import dataclass

from motcua.config_reader import Table


@dataclass(frozen=True)
class VoiceSettings:
    template: str
    template_with_name: str
    repeat: int
    rate: int
    volume: float


def parse(root: Table) -> VoiceSettings:
    voice = root.table("voice")
    settings = VoiceSettings(
        template=voice.str("template", "Mời công dân có số thứ tự {number} đến {counter}"),
        template_with_name=voice.str(
            "template_with_name", "Mời công dân {name}, số thứ tự {number}, đến {counter}"),
        repeat=voice.int("repeat", 1, min=1, max=5),
        rate=voice.int("rate", 150, min=60, max=400),
        volume=voice.float("volume", 1.0, min=0.0, max=1.0),
    )
    voice.finish()
    return settings
