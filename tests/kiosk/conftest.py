"""Kiosk fixtures: start_kiosk runs the real kiosk wiring in-process on mock GPIO."""

from __future__ import annotations

from pathlib import Path

import pytest
from kiosk_rig import RunningKiosk, kiosk_config

from motcua.config import load_config


@pytest.fixture
def start_kiosk(tmp_path: Path, broker, printer, mock_factory):
    """start_kiosk(kiosk_keys="...", **serve_options) -> RunningKiosk, stopped after the test."""
    running: list[RunningKiosk] = []

    def start(kiosk_keys: str = "hold_off_ms = 0", **options) -> RunningKiosk:
        path = kiosk_config(tmp_path, broker.url, printer.spec, kiosk_keys)
        kiosk = RunningKiosk(load_config(path), mock_factory, **options)
        running.append(kiosk)
        return kiosk

    yield start
    for kiosk in running:
        if kiosk.thread.is_alive():
            kiosk.stop()
