"""Nothing on the board is smaller than what reads from 5 m on a 720p TV (docs/board.md).

Issue 15: the service name and "(gọi lại)" under the recent calls were about 8 px at
1280×720. Every text the board draws is recorded with the size it is drawn at, and the
recall line's ink is measured on the picture itself.
"""

from __future__ import annotations

from dataclasses import replace

import pygame
import pytest
from board_samples import make_board
from motcua.display import render
from motcua.display.daemon import BoardApp
from motcua.display.layout import legible_px

from motcua.mqtt import Inbound, LinkUp
from motcua.protocol import Topics, encode

SIZES = [(1280, 720), (1920, 1080), (1080, 1920)]


class Recorded:
    """The board's fonts, noting each text as drawn: (text, size, width of the image)."""

    def __init__(self, fonts) -> None:
        self.fonts = fonts
        self.drawn: list[tuple[str, int, int]] = []

    def get(self, size: int, *, bold: bool = False):
        font, drawn = self.fonts.get(size, bold=bold), self.drawn

        class Font:
            def render(self, text, antialias, colour):
                image = font.render(text, antialias, colour)
                drawn.append((text, size, image.get_width()))
                return image

            def __getattr__(self, name):
                return getattr(font, name)

        return Font()

    def width(self, text: str, size: int, *, bold: bool = False) -> int:
        return self.fonts.width(text, size, bold=bold)


def busy_board(clocks):
    board = make_board(clocks.now, calls=[
        ("3", "3017", "ldtbxh"), ("1", "1012", "dat-dai"), ("2", "C007", "chung-thuc"),
        ("4", "C006", "chung-thuc"), ("2", "2009", "tu-phap"), ("1", "1011", "dat-dai")],
        waiting={"dat-dai": 9, "tu-phap": 4, "ldtbxh": 2, "chung-thuc": 6})
    calls = list(board.calls)
    calls[2] = replace(calls[2], recall=True)
    return replace(board, calls=calls, wait_estimate_s={"dat-dai": 1500, "tu-phap": 720,
                                                        "ldtbxh": 300, "chung-thuc": 3540})


def draw(office, fonts, clocks, size) -> tuple[BoardApp, Recorded]:
    recorded = Recorded(fonts)
    app = BoardApp(office, pygame.Surface(size), recorded, mono=clocks.mono, wall=clocks.wall)
    app.handle(LinkUp(session_present=False))
    app.handle(Inbound(topic=Topics("liem-chung").board, payload=encode(busy_board(clocks)),
                       mid=1, qos=1, retain=True))
    app.frame()
    return app, recorded


def test_the_rule_is_20_px_on_a_720p_tv() -> None:
    assert legible_px(1280, 720) == 20 and legible_px(1920, 1080) == 30
    assert legible_px(1080, 1920) == 30            # a portrait TV: the same screen turned


@pytest.mark.parametrize("size", SIZES)
def test_no_text_is_smaller_than_the_rule_and_all_fits(office, fonts, clocks, size) -> None:
    app, recorded = draw(office, fonts, clocks, size)
    smallest = legible_px(*size)
    texts = {text for text, _, _ in recorded.drawn}
    assert any(text.startswith("(gọi lại)") for text in texts), texts
    assert {"Đất đai", "Chứng thực", "Lao động – Thương binh và Xã hội"} <= texts
    too_small = [(text, px) for text, px, _ in recorded.drawn if px < smallest]
    assert not too_small, f"below {smallest} px at {size}: {too_small}"
    assert len(app.painter.layout.call_rows) == 6, "the six recent calls still fit"
    # Shortened, not spilling off the screen (the ticker scrolls and is longer on purpose).
    assert all(drawn_width <= size[0] for text, _, drawn_width in recorded.drawn
               if text != office.board.ticker)


def test_the_recall_line_is_drawn_tall_enough_to_read(office, fonts, clocks) -> None:
    """Measured on the picture: the ink of "(gọi lại) …" stands at least 70 % of 20 px."""
    app, _ = draw(office, fonts, clocks, (1280, 720))
    cells = app.painter.layout.call_rows[2]
    x, y, w, h = cells.detail
    top = max(cells.row[1], y - 6)
    box = (x, top, w, min(cells.row[1] + cells.row[3], y + h + 6) - top)
    data = pygame.image.tobytes(app.surface.subsurface(box), "RGB")
    ink_rows = []
    for row in range(box[3]):
        line = data[row * box[2] * 3:(row + 1) * box[2] * 3]
        # The row's panel is dark blue; the recall line's text is light (DIM on PANEL).
        if any(line[i] > 120 and line[i + 2] > 160 for i in range(0, len(line), 3)):
            ink_rows.append(row)
    assert ink_rows, "the recall line is drawn"
    assert ink_rows[-1] - ink_rows[0] + 1 >= 0.7 * 20, ink_rows


def test_text_too_long_for_its_box_is_shortened_not_shrunk() -> None:
    def measure(text: str, size: int) -> int:
        return len(text) * size // 2

    assert render.shorten("Đất đai", 200, 20, measure) == "Đất đai"
    short = render.shorten("Nguyễn V. A. · Lao động – Thương binh và Xã hội", 300, 20, measure)
    assert short.endswith("…") and measure(short, 20) <= 300
    assert short.startswith("Nguyễn V. A. · Lao động")
