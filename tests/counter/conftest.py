"""Counter fixtures: the example office on the test broker; pads and bridges stopped after each test."""

from __future__ import annotations

from pathlib import Path

import pytest
from counter_rig import Running, counter_config

from motcua.config import SiteConfig, load_config


@pytest.fixture
def make_config(tmp_path: Path, broker):
    """make_config(pins="", pad_keys="", extra="") -> SiteConfig for the test broker and a tmp state dir."""
    def make(pins: str = "", pad_keys: str = "", extra: str = "") -> SiteConfig:
        return load_config(counter_config(tmp_path, broker.url, pins=pins, pad_keys=pad_keys, extra=extra))
    return make


@pytest.fixture
def running():
    """Register Running daemons here; each still running is stopped after the test."""
    started: list[Running] = []
    yield started
    for daemon in started:
        if daemon.thread.is_alive():
            daemon.stop()
