"""The site config: the example passes, mistakes name the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from motcua.kiosk.numbering import NumberRange

from motcua.cli import main
from motcua.config import Service, label, load_config, shared_labels
from motcua.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "liem-chung.toml"


def test_example_office_loads() -> None:
    config = load_config(EXAMPLE)
    assert [s.name for s in config.services] == [
        "Đất đai", "Tư pháp – Hộ tịch", "Lao động – Thương binh và Xã hội", "Chứng thực"]
    assert len(config.counters) == 4
    assert config.counter("2").services == ("tu-phap", "chung-thuc")


def test_check_config_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert "ok" in capsys.readouterr().out


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "site.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_counter_with_unknown_service_names_the_key(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = _broken(tmp_path, 'services = ["dat-dai"]', 'services = ["dat-dia"]')
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert 'line 44: counters "1".services' in err
    assert "unknown service 'dat-dia'" in err


@pytest.mark.parametrize(("old", "new", "key", "reason"), [
    ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Saigonn"', "site.timezone",
     "not a known time zone"),
    ('day_starts_at = "05:00"', 'day_starts_at = "25:00"', "site.day_starts_at",
     "not a time of day"),
    ('url = "mqtt://motcua-hub.local:1883"', 'url = "http://hub"', "broker.url", "mqtt://"),
    ("first = 2001\nlast = 2999", "first = 2001\nlast = 1999", 'services "tu-phap".last',
     "must not be below first"),
    ('paper = "80mm"', 'paper = "90mm"', 'kiosks "k1".paper', "must be one of"),
    ("keepalive = 30", "keepalive = 30\nkeep_alive = 5", "broker.keep_alive",
     "not a known key"),
    ("repeat = 2", 'repeat = "two"', "voice.repeat", "must be a whole number"),
    ('priority = "strict"', 'priority = "strict"\ntrust_clock = "yes"', "queue.trust_clock",
     "true or false"),
])
def test_mistakes_name_key_and_reason(tmp_path: Path, old: str, new: str, key: str,
                                      reason: str) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[site\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_broker_override_from_the_command_line() -> None:
    config = load_config(EXAMPLE, broker_url="mqtt://127.0.0.1:11883")
    assert (config.broker.host, config.broker.port) == ("127.0.0.1", 11883)
    with pytest.raises(ConfigError, match="--broker"):
        load_config(EXAMPLE, broker_url="tcp://x")


# --- Mistakes that pass today and bite later (issue 15, item 3) ---------------------------

def test_services_whose_labels_overlap_are_refused(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Đất đai 1001-1999 with Tư pháp 1500-2999: two citizens could hold "1501" at once."""
    path = _broken(tmp_path, "first = 2001\nlast = 2999", "first = 1500\nlast = 2999")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    lines = path.read_text(encoding="utf-8").splitlines()
    line = [n for n, text in enumerate(lines, 1) if text == "[[services]]"][1]
    assert f'line {line}: services "tu-phap".first' in err
    assert "'dat-dai'" in err and "1500..1999" in err


def test_a_prefix_or_a_padding_keeps_labels_apart(tmp_path: Path) -> None:
    # Chứng thực C001..C999 beside a plain 1..999 service: "C001" is not "1".
    path = _broken(tmp_path, "first = 3001\nlast = 3999", "first = 1\nlast = 999")
    assert [s.first for s in load_config(path).services] == [1001, 2001, 1, 1]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["", "C", "CT"]), st.sampled_from(["", "C", "CT"]),
       st.integers(0, 1200), st.integers(0, 1200), st.integers(0, 1200), st.integers(0, 1200))
def test_shared_labels_agree_with_the_printed_labels(pa: str, pb: str, a1: int, a2: int,
                                                     b1: int, b2: int) -> None:
    """The check against the kiosk's own label rule, number by number."""
    a = Service("a", "A", pa, min(a1, a2), max(a1, a2), "wrap")
    b = Service("b", "B", pb, min(b1, b2), max(b1, b2), "wrap")

    def printed(s: Service) -> set[str]:
        labels = NumberRange(s.id, s.first, s.last, s.prefix, width=len(str(s.last)))
        return {labels.label(n) for n in range(s.first, s.last + 1)}

    both = printed(a) & printed(b)
    shared = shared_labels(a, b)
    if not both:
        assert shared is None
    else:
        assert shared is not None
        assert both == {label(a, n) for n in range(shared[0], shared[1] + 1)}


def test_two_kiosk_buttons_on_one_pin_are_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, '{ service = "tu-phap", pin = 27', '{ service = "tu-phap", pin = 17')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == 'kiosks "k1".buttons #2.pin'
    assert "pin 17 is already buttons #1.pin" in caught.value.reason
    assert caught.value.line == path.read_text(encoding="utf-8").splitlines().index("[[kiosks]]") + 1


def test_a_kiosk_button_on_the_priority_pin_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "priority_button = { pin = 24", "priority_button = { pin = 23")
    with pytest.raises(ConfigError, match=r'kiosks "k1".priority_button.pin: pin 23 is already'):
        load_config(path)


@pytest.mark.parametrize("spec, reason", [
    ("serial:/dev/ttyUSB9:abc", "'abc' is not a baud rate"),
    ("serial:/dev/ttyUSB0:9601", "'9601' is not a baud rate"),
    ("serial:ttyUSB0", "not a serial device"),
    ("usb:0416:50x1", "two hexadecimal ids"),
    ("usb:0x0416", "two hexadecimal ids"),
    ("network:192.168.1.50:91000", "PORT 1 to 65535"),
    ("lpt:1", "unknown printer kind 'lpt'"),
    ("file:", "expected file:WHERE"),
])
def test_a_bad_printer_spec_is_refused(tmp_path: Path, spec: str, reason: str) -> None:
    path = _broken(tmp_path, 'printer = "usb:0x0416:0x5011"', f'printer = "{spec}"')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == 'kiosks "k1".printer' and reason in caught.value.reason


@pytest.mark.parametrize("spec", [
    "serial:/dev/ttyUSB0", "serial:/dev/serial0:19200", "usb:0x0416:0x5011", "usb:04b8:0202",
    "serial:/dev/serial/by-path/platform-3f980000.usb-usb-0:1.3:1.0-port0",
    "network:192.168.1.50", "network:printer.local:9100", "file:/dev/usb/lp0", "png:/tmp/t",
])
def test_good_printer_specs_pass(tmp_path: Path, spec: str) -> None:
    path = _broken(tmp_path, 'printer = "usb:0x0416:0x5011"', f'printer = "{spec}"')
    assert load_config(path).kiosks[0].printer == spec


@pytest.mark.parametrize("old, new, key, hint", [
    ("keepalive = 30", "keepalive = 30\nkeep_alive = 5", "broker.keep_alive", "did you mean 'keepalive'?"),
    ("repeat = 2", "repeat = 2\nrepaet = 3", "voice.repaet", "did you mean 'repeat'?"),
    ('paper = "80mm"', 'paper = "80mm"\nfooterr = "x"', 'kiosks "k1".footerr', "did you mean 'footer'?"),
    # keys named by Action members: the hint is the config word, not the enum's repr
    ("pins = { next = 5,", "pins = { nxt = 5,", "counter_pad.pins.nxt", "did you mean 'next'?"),
    ('recall = "w"', 'recal = "w"', 'counters "1".keys.recal', "did you mean 'recall'?"),
])
def test_an_unknown_key_suggests_the_nearest(tmp_path: Path, old: str, new: str, key: str,
                                             hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_broken(tmp_path, old, new))
    assert caught.value.key == key and hint in caught.value.reason


def test_blocks_without_an_id_are_counted_from_one_with_their_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, '[[counters]]\nid = "2"', '[[counters]]\nidd = "2"')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert caught.value.key == "counters #2.id" and "is required" in caught.value.reason
    assert caught.value.line == [n for n, t in enumerate(lines, 1) if t == "[[counters]]"][1]
    assert f"site.toml, line {caught.value.line}: counters #2.id" in str(caught.value)
