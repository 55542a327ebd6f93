"""The [voice] section: defaults, regional variants, templates, quiet hours, errors."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
from motcua.caller import voice_settings
from motcua.caller.vietnamese import NORTH, SOUTH

from motcua.config_reader import Table
from motcua.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "liem-chung.toml"


def parse(text: str) -> voice_settings.VoiceSettings:
    return voice_settings.parse(Table(tomllib.loads(text), "", "site.toml"))


def test_defaults_and_the_example_config() -> None:
    settings = parse("")
    assert (settings.voice, settings.rate, settings.repeat, settings.variant) == ("vi", 150, 1, NORTH)
    assert settings.max_delay_s == 60.0 and settings.chime and not settings.digit_by_digit
    with EXAMPLE.open("rb") as file:
        example = voice_settings.parse(Table(tomllib.load(file), "", str(EXAMPLE)))
    assert example.repeat == 2
    assert "{number}" in example.template and "{name}" in example.template_with_name


def test_southern_words_and_quiet_hours() -> None:
    settings = parse("""
[voice]
thousand = "ngàn"
zero_ten = "lẻ"
four = "tư"
volume = 0.9
[[voice.quiet]]
from = "11:30"
to = "13:30"
volume = 0.4
[[voice.quiet]]
from = "22:00"
to = "06:00"
volume = 0.1
""")
    assert settings.variant == SOUTH
    assert settings.volume_at(dt.time(9, 0)) == 0.9
    assert settings.volume_at(dt.time(11, 30)) == 0.4
    assert settings.volume_at(dt.time(13, 30)) == 0.9
    assert settings.volume_at(dt.time(23, 0)) == 0.1
    assert settings.volume_at(dt.time(5, 59)) == 0.1


@pytest.mark.parametrize(("text", "key", "reason"), [
    ('template = "Mời số {so} đến {counter}"', "voice.template", "not {so}"),
    ('template = "Mời đến {counter}"', "voice.template", "must say the {number}"),
    ('template_with_name = "Mời {name"', "voice.template_with_name", "not a valid template"),
    ('thousand = "ngan"', "voice.thousand", "must be one of"),
    ('four = "4"', "voice.four", "must be one of"),
    ('repeat = 9', "voice.repeat", "at most 5"),
    ('voice = "vi; rm"', "voice.voice", "does not match"),
    ('max_delay = 30', "voice.max_delay", "not a known key"),
    ('quiet = [{ from = "25:00", to = "13:00", volume = 0.5 }]', "voice.quiet #1.from",
     "not a time of day"),
    ('quiet = [{ from = "11:00", to = "13:00" }]', "voice.quiet #1.volume", "is required"),
])
def test_bad_settings_name_the_key(text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse(f"[voice]\n{text}\n")
    assert error.value.key == key
    assert reason in error.value.reason
