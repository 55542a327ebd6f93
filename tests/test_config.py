"""The site config: the example passes, mistakes name the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from motcua.cli import main
from motcua.config import load_config
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
    assert "counters[0].services" in err
    assert "unknown service 'dat-dia'" in err


@pytest.mark.parametrize(("old", "new", "key", "reason"), [
    ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Saigonn"', "site.timezone",
     "not a known time zone"),
    ('day_starts_at = "05:00"', 'day_starts_at = "25:00"', "site.day_starts_at",
     "not a time of day"),
    ('url = "mqtt://motcua-hub.local:1883"', 'url = "http://hub"', "broker.url", "mqtt://"),
    ("first = 2001\nlast = 2999", "first = 2001\nlast = 1999", "services[1].last",
     "must not be below first"),
    ('paper = "80mm"', 'paper = "90mm"', "kiosks[0].paper", "must be one of"),
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
