"""The board drawn at TV sizes, checked by pixel regions; every config character has a glyph."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pygame
import pytest
from motcua.display.layout import board_layout, inside
from motcua.display.render import HIGHLIGHT, NUMBER, BoardPainter
from motcua.display.view import board_view

from motcua.config import load_config
from motcua.fonts import find_font
from motcua.protocol import Board, BoardCall, BoardCounter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "liem-chung.toml"
CONFIG = load_config(EXAMPLE)
NOW = datetime(2026, 11, 28, 9, 30, tzinfo=CONFIG.site.tz)
SIZES = [(1280, 720), (1920, 1080), (1080, 1920)]


def board(number: str = "1012", at: datetime = NOW) -> Board:
    return Board(seq=3, updated_at=at.isoformat(), day="2026-11-28",
                 calls=[BoardCall(counter="3", number=number, service="ldtbxh", at=at.isoformat(),
                                  name="Nguyễn V. A.")],
                 counters=[BoardCounter(counter="3", status="serving", number=number,
                                        name="Nguyễn V. A.")],
                 waiting={"dat-dai": 4, "tu-phap": 2})


def draw(size: tuple[int, int], data: Board | None, *, now: datetime = NOW,
         online: bool = True) -> pygame.Surface:
    surface = pygame.Surface(size)
    view = board_view(CONFIG, data, now=now, online=online, received_at=now)
    BoardPainter(surface).paint(view, now, ticker_text=CONFIG.board.ticker)
    return surface


def region(surface: pygame.Surface, rect: tuple[int, int, int, int]) -> bytes:
    return pygame.image.tobytes(surface.subsurface(rect), "RGB")


def count_colour(surface: pygame.Surface, rect: tuple[int, int, int, int],
                 colour: tuple[int, int, int]) -> int:
    data = region(surface, rect)
    wanted = bytes(colour)
    return sum(1 for i in range(0, len(data), 3) if data[i:i + 3] == wanted)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_layout_stays_on_screen(size: tuple[int, int]) -> None:
    layout = board_layout(*size, counters=len(CONFIG.counters))
    for rect in [layout.header, layout.calls, layout.waiting, layout.ticker, *layout.counters]:
        assert inside(rect, *size), rect


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_called_number_shows_in_its_counter_cell(size: tuple[int, int]) -> None:
    layout = board_layout(*size, counters=len(CONFIG.counters))
    cell3, cell1 = layout.counters[2], layout.counters[0]
    before = draw(size, None)
    after = draw(size, board("1012"))
    other = draw(size, board("1013"))
    assert region(before, cell3) != region(after, cell3)
    assert region(after, cell3) != region(other, cell3), "a different number draws differently"
    assert region(before, cell1) == region(after, cell1), "other counters are untouched"
    assert count_colour(after, cell3, HIGHLIGHT) > cell3[2] * cell3[3] // 4, "the new call is lit"


def test_highlight_ends_after_highlight_s() -> None:
    later = NOW + timedelta(seconds=CONFIG.board.highlight_s + 1)
    cell3 = board_layout(1920, 1080, len(CONFIG.counters)).counters[2]
    old = draw((1920, 1080), board(), now=later)
    assert count_colour(old, cell3, HIGHLIGHT) == 0
    assert count_colour(old, cell3, NUMBER) > 0, "the number stays, in the normal colour"


def test_offline_mark_in_the_header() -> None:
    layout = board_layout(1920, 1080, len(CONFIG.counters))
    online = draw((1920, 1080), board())
    offline = draw((1920, 1080), board(), online=False)
    assert region(online, layout.status) != region(offline, layout.status)
    assert count_colour(offline, layout.status, (220, 40, 40)) > 0


def config_texts() -> str:
    texts = [CONFIG.site.name, CONFIG.site.unit, CONFIG.board.ticker, "Vừa gọi", "Đang chờ",
             "MẤT KẾT NỐI · cập nhật", "Tạm dừng", "Nguyễn V. A. →—"]
    texts += [s.name for s in CONFIG.services] + [c.name for c in CONFIG.counters]
    return "".join(texts)


def missing_glyphs(text: str, bold: bool) -> set[str]:
    """Characters the board's font has no glyph for (freetype says None for those)."""
    import pygame.freetype

    pygame.freetype.init()
    face = pygame.freetype.Font(str(find_font(bold)), 40)
    chars = sorted(set(text) - {" "})
    return {char for char, metrics in zip(chars, face.get_metrics("".join(chars)), strict=True)
            if metrics is None}


@pytest.mark.parametrize("bold", [False, True])
def test_every_character_of_the_example_has_a_glyph(bold: bool) -> None:
    assert missing_glyphs(config_texts(), bold) == set()
    assert missing_glyphs("Quầy 漢", bold) == {"漢"}, "the check does see a missing glyph"
