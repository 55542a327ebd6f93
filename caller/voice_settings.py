"""The ``[voice]`` section: what the waiting room hears (docs/voice.md)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import time

from motcua.config_reader import Table

from .vietnamese import NORTH, Variant

PLACEHOLDERS = {"number", "counter", "name"}


@dataclass(frozen=True)
class QuietHours:
    """A quieter volume between two times of day (lunch, when the office is half empty)."""

    start: time
    end: time
    volume: float

    def covers(self, now: time) -> bool:
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end      # across midnight


@dataclass(frozen=True)
class VoiceSettings:
    template: str
    template_with_name: str
    repeat: int
    rate: int
    volume: float
    voice: str = "vi"                # espeak-ng voice: vi, vi-vn-x-central, vi-vn-x-south
    variant: Variant = NORTH         # regional number words
    digit_by_digit: bool | None = None   # None: as printed ("C007" "xê không không bảy", "1012" a
    #                                      number); true: every label digit by digit; false: "xê bảy"
    max_delay_s: float = 60.0        # a call queued longer than this is dropped, not said late
    chime: bool = True
    quiet: tuple[QuietHours, ...] = ()

    def volume_at(self, now: time) -> float:
        """The volume for this time of day: the quiet hours' if any covers it."""
        for hours in self.quiet:
            if hours.covers(now):
                return hours.volume
        return self.volume


def parse(root: Table) -> VoiceSettings:
    voice = root.table("voice")
    quiet = []
    for table in voice.tables("quiet"):
        quiet.append(QuietHours(start=table.time("from"), end=table.time("to"),
                                volume=table.get_float("volume", min=0.0, max=1.0)))
        table.finish()
    settings = VoiceSettings(
        template=_template(voice, "template", "Mời công dân có số thứ tự {number} đến {counter}"),
        template_with_name=_template(voice, "template_with_name",
                                     "Mời công dân {name}, số thứ tự {number}, đến {counter}"),
        repeat=voice.get_int("repeat", 1, min=1, max=5),
        rate=voice.get_int("rate", 150, min=60, max=400),
        volume=voice.get_float("volume", 1.0, min=0.0, max=1.0),
        voice=voice.get_str("voice", VoiceSettings.voice, pattern=r"[A-Za-z0-9_/+-]{1,40}"),
        variant=Variant(
            thousand=voice.get_str("thousand", "nghìn", choices=("nghìn", "ngàn")),
            zero_ten=voice.get_str("zero_ten", "linh", choices=("linh", "lẻ")),
            four=voice.get_str("four", "bốn", choices=("bốn", "tư")),
        ),
        digit_by_digit=voice.get_bool("digit_by_digit", None),
        max_delay_s=voice.get_float("max_delay_s", VoiceSettings.max_delay_s, min=1.0, max=3600.0),
        chime=voice.get_bool("chime", VoiceSettings.chime),
        quiet=tuple(quiet),
    )
    voice.finish()
    return settings


def _template(voice: Table, key: str, default: str) -> str:
    template = voice.get_str(key, default)
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        raise voice.error(key, f"is not a valid template: {exc}") from None
    if not fields <= PLACEHOLDERS:
        raise voice.error(key, f"only {{number}}, {{counter}} and {{name}} may be used, "
                               f"not {{{sorted(fields - PLACEHOLDERS)[0]}}}")
    if "number" not in fields:
        raise voice.error(key, "must say the {number}")
    return template
