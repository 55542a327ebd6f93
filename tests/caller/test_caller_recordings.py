"""Recorded calls (``--audio wav:DIR``) speak full names: they go with the names (issue 18)."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path

from motcua.caller.daemon import Caller
from motcua.caller.retention import erase_recordings

from motcua.config import load_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "liem-chung.toml"


def recorded(directory: Path, name: str, at: datetime) -> Path:
    path = directory / name
    path.write_bytes(b"RIFF")
    os.utime(path, (at.timestamp(), at.timestamp()))
    return path


def test_recordings_before_the_day_are_deleted_and_later_ones_kept(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    tz, starts = config.site.tz, config.site.day_starts_at
    day_start = datetime.combine(date(2026, 11, 20), starts, tz)
    old = recorded(tmp_path, "0001-a.wav", day_start - timedelta(seconds=1))
    partial = recorded(tmp_path, "0002-b.part", day_start - timedelta(days=3))
    kept = recorded(tmp_path, "0003-c.wav", day_start + timedelta(seconds=1))
    other = recorded(tmp_path, "notes.txt", day_start - timedelta(days=30))
    assert erase_recordings(tmp_path, "2026-11-20", tz, starts) == 2
    assert not old.exists() and not partial.exists()
    assert kept.exists() and other.exists()


def test_the_caller_erases_recordings_with_the_names(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    keep = config.caller.erase_names_after_days
    today = date(2026, 11, 28)
    cutoff = datetime.combine(today - timedelta(days=keep), config.site.day_starts_at, config.site.tz)
    old = recorded(sounds, "0001-old.wav", cutoff - timedelta(hours=1))
    recent = recorded(sounds, "0002-recent.wav", cutoff + timedelta(hours=1))
    caller = Caller(config, db=tmp_path / "caller.db", audio=f"wav:{sounds}")
    try:
        caller.erase_old_names(today.isoformat())
    finally:
        caller.store.close()
    assert not old.exists() and recent.exists()
