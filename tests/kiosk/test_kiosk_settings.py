"""The [[kiosks]] section: defaults for the example, ranges per kiosk, hours, errors naming the key."""

from __future__ import annotations

import copy
import tomllib
from datetime import date
from pathlib import Path

import pytest
from motcua.kiosk import settings

from motcua.config import Service
from motcua.config_reader import Table
from motcua.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "liem-chung.toml"
SERVICES = (Service("dat-dai", "Đất đai", "", 1001, 1999, "wrap"),
            Service("tu-phap", "Tư pháp", "", 2001, 2999, "wrap"),
            Service("ldtbxh", "LĐTBXH", "", 3001, 3999, "wrap"),
            Service("chung-thuc", "Chứng thực", "C", 1, 999, "stop"))


def example_kiosk() -> dict:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["kiosks"][0]


def parse(*kiosks: dict) -> tuple[settings.KioskSettings, ...]:
    return settings.parse(Table({"kiosks": list(kiosks)}, "", "site.toml"), SERVICES)


def test_the_example_kiosk_parses_with_defaults() -> None:
    (kiosk,) = parse(example_kiosk())
    assert kiosk.id == "k1" and kiosk.paper == "80mm"
    assert kiosk.keys() == {"1": "dat-dai", "2": "tu-phap", "3": "ldtbxh", "4": "chung-thuc", "0": None}
    assert kiosk.hold_off_s("dat-dai") == 1.5 and kiosk.ranges == {}
    assert kiosk.hours.weekly is None and not kiosk.trust_clock


def test_new_keys() -> None:
    data = example_kiosk()
    data["buttons"][0]["hold_off_ms"] = 3000
    data.update(hold_off_ms=800, bounce_ms=20, led_pin=12, buzzer_pin=16, trust_clock=True,
                hours={"mon-fri": ["07:00-11:30", "13:30-17:00"], "sat": ["07:30-11:00"]},
                days_off=["2025-09-02"], ranges={"dat-dai": [1001, 1499]})
    data["priority_button"]["window_s"] = 5
    (kiosk,) = parse(data)
    assert kiosk.hold_off_s("dat-dai") == 3.0 and kiosk.hold_off_s("tu-phap") == 0.8
    assert kiosk.ranges == {"dat-dai": (1001, 1499)} and kiosk.priority_window_s == 5
    assert kiosk.hours.days_off == {date(2025, 9, 2)} and set(kiosk.hours.weekly) == {0, 1, 2, 3, 4, 5}


def two_kiosks(range_a: list[int] | None, range_b: list[int] | None) -> tuple[dict, dict]:
    a, b = example_kiosk(), copy.deepcopy(example_kiosk())
    b["id"] = "k2"
    for kiosk in (a, b):
        for button in kiosk["buttons"]:
            button.pop("key")
            button.pop("pin")
        kiosk.pop("priority_button")
    if range_a:
        a["ranges"] = {"dat-dai": range_a}
    if range_b:
        b["ranges"] = {"dat-dai": range_b}
    for kiosk in (a, b):
        kiosk["buttons"] = [btn for btn in kiosk["buttons"] if btn["service"] == "dat-dai"]
    return a, b


def test_disjoint_ranges_per_kiosk_are_fine() -> None:
    a, b = parse(*two_kiosks([1001, 1499], [1500, 1999]))
    assert (a.ranges["dat-dai"], b.ranges["dat-dai"]) == ((1001, 1499), (1500, 1999))


@pytest.mark.parametrize("range_a, range_b, key", [
    ([1001, 1500], [1500, 1999], 'kiosks "k2".ranges.dat-dai'),
    (None, [1500, 1999], 'kiosks "k2".ranges.dat-dai'),
    ([1001, 1499], None, 'kiosks "k2".ranges'),
])
def test_overlapping_ranges_name_the_key(range_a, range_b, key) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(*two_kiosks(range_a, range_b))
    assert caught.value.key == key and "overlap" in caught.value.reason


@pytest.mark.parametrize("change, key", [
    ({"ranges": {"dat-dai": [900, 1200]}}, 'kiosks "k1".ranges.dat-dai'),
    ({"ranges": {"dat-dai": [1200]}}, 'kiosks "k1".ranges.dat-dai'),
    ({"ranges": {"nope": [1, 2]}}, 'kiosks "k1".ranges.nope'),
    ({"hours": {"mon": ["07:00-06:00"]}}, 'kiosks "k1".hours.mon'),
    ({"hours": {"mon-fri": ["07:00-11:00"], "fri": ["13:00-17:00"]}}, 'kiosks "k1".hours.fri'),
    ({"hours": {"monday": ["07:00-11:00"]}}, 'kiosks "k1".hours.monday'),
    ({"days_off": ["2-9-2025"]}, 'kiosks "k1".days_off'),
    ({"hold_of_ms": 100}, 'kiosks "k1".hold_of_ms'),
    ({"id": "k 1"}, 'kiosks "k 1".id'),
])
def test_bad_values_name_file_and_key(change: dict, key: str) -> None:
    data = {**example_kiosk(), **change}
    with pytest.raises(ConfigError) as caught:
        parse(data)
    assert caught.value.file == "site.toml" and caught.value.key == key


def test_a_key_must_be_one_character() -> None:
    data = example_kiosk()
    data["buttons"][0]["key"] = "|"
    with pytest.raises(ConfigError, match=r"buttons #1\.key"):
        parse(data)
