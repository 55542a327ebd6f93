"""Shared fixtures: real broker, fake printer, gpiozero's MockFactory, SDL dummy drivers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# pygame must never open a real window or sound card in tests.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from hypothesis import HealthCheck, settings
from rig import FakePrinter, Mosquitto, write_site_config

from motcua.cli import load_rooms

# The tests are a program's edge like the motcua command: every room's config section is read.
load_rooms()

# Speed is measured in bench/, not asserted by tests: on a loaded 2-core machine (or tests run
# side by side) hypothesis' per-example deadline and its "generation too slow" check fail on
# timing alone. What each example asserts is unchanged.
settings.register_profile("motcua", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("motcua")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="also run long soak tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test that starts the real broker carries the marker, so `-m "not broker"` runs the
    # direct tests alone (the base of the pyramid).
    for item in items:
        if "broker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.broker)
    if config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="soak test: run with --soak")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """True with --soak: fault tests then run at the issue's full sizes."""
    return bool(request.config.getoption("--soak"))


@pytest.fixture
def broker(tmp_path: Path):
    """A real mosquitto on a free loopback port, stopped after the test."""
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def printer():
    fake = FakePrinter()
    yield fake
    fake.close()


@pytest.fixture
def mock_factory():
    """gpiozero's MockFactory, saved, reset and restored as gpiozero's own tests do."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    saved = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        yield Device.pin_factory
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = saved


@pytest.fixture
def site_config(tmp_path: Path, broker: Mosquitto, printer: FakePrinter) -> Path:
    return write_site_config(tmp_path, broker_url=broker.url, printer=printer.spec)


def have(program: str) -> bool:
    return shutil.which(program) is not None
