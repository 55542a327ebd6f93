"""Board tests: the example office, its fonts, hand-moved clocks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from board_samples import Clocks

from motcua.config import SiteConfig, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "liem-chung.toml"


@pytest.fixture(scope="session")
def office() -> SiteConfig:
    return load_config(EXAMPLE)


@pytest.fixture(scope="session")
def fonts():
    from motcua.display.fonts import FontBook

    return FontBook.find()


@pytest.fixture
def clocks(office: SiteConfig) -> Clocks:
    return Clocks(datetime(2026, 11, 30, 9, 30, 0, tzinfo=office.site.tz))
