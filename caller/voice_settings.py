"""The ``[voice]`` section: what the waiting room hears."""

from __future__ import annotations

from dataclasses import dataclass

from motcua.config_reader import Table

from .vietnamese import NORTH, Variant


@dataclass(frozen=True)
class VoiceSettings:
    template: str
    template_with_name: str
    repeat: int
    rate: int
    volume: float
    voice: str = "vi"                # espeak-ng voice: vi, vi-vn-x-central, vi-vn-x-south
    variant: Variant = NORTH         # regional number words
    max_delay_s: float = 60.0        # a call queued longer than this is dropped, not said late
    chime: bool = True


def parse(root: Table) -> VoiceSettings:
    voice = root.table("voice")
    settings = VoiceSettings(
        template=voice.str("template", "Mời công dân có số thứ tự {number} đến {counter}"),
        template_with_name=voice.str(
            "template_with_name", "Mời công dân {name}, số thứ tự {number}, đến {counter}"),
        repeat=voice.int("repeat", 1, min=1, max=5),
        rate=voice.int("rate", 150, min=60, max=400),
        volume=voice.float("volume", 1.0, min=0.0, max=1.0),
        voice=voice.str("voice", "vi", pattern=r"[A-Za-z0-9_/+-]{1,40}"),
        variant=Variant(
            thousand=voice.str("thousand", "nghìn", choices=("nghìn", "ngàn")),
            zero_ten=voice.str("zero_ten", "linh", choices=("linh", "lẻ")),
            four=voice.str("four", "bốn", choices=("bốn", "tư")),
        ),
        max_delay_s=voice.float("max_delay_s", 60.0, min=1.0, max=3600.0),
        chime=voice.bool("chime", True),
    )
    for key, template in (("template", settings.template),
                          ("template_with_name", settings.template_with_name)):
        try:
            template.format(number="1", counter="Quầy 1", name="An")
        except (KeyError, IndexError, ValueError) as exc:
            raise voice.error(key, f"only {{number}}, {{counter}} and {{name}} may be used ({exc})") \
                from None
    voice.finish()
    return settings
