"""Counter fixtures: the example office on the test broker; pads and bridges stopped after each test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from counter_rig import Running, counter_config
from rig import Mosquitto

from motcua.config import SiteConfig, load_config


@pytest.fixture
def broker(tmp_path: Path):
    """The shared broker fixture, but able to save its sessions when tests run as root.

    As root, mosquitto drops to the 'mosquitto' user, which cannot write into pytest's
    0700 tmp dirs ("Error saving in-memory database ... Permission denied"): persistent
    sessions would then vanish on broker.restart() and the subscriber's copies with them.
    """
    server = Mosquitto(tmp_path / "mosquitto", extra_config="user root" if os.geteuid() == 0 else "")
    server.start()
    yield server
    server.stop()


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
