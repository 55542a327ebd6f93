from __future__ import annotations

import pygame
import pytest


@pytest.fixture(autouse=True, scope="module")
def pygame_fonts():
    pygame.font.init()
    yield
