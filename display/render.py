"""Drawing the board with pygame (the only module here that imports it)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from motcua.errors import require
from motcua.fonts import find_font

from .layout import Layout, Rect, board_layout
from .view import BoardView

BACKGROUND = (10, 35, 80)
PANEL = (20, 60, 120)
HIGHLIGHT = (250, 200, 20)
TEXT = (255, 255, 255)
DIM = (170, 190, 220)
NUMBER = (255, 230, 90)
OFFLINE = (220, 40, 40)
TICKER_BG = (150, 20, 20)


def pygame_module() -> Any:
    return require("pygame", "display", "python3-pygame")


@cache
def font(size: int, bold: bool) -> Any:
    pygame = pygame_module()
    pygame.font.init()
    return pygame.font.Font(str(find_font(bold)), max(8, size))


def fitted(text: str, rect: Rect, *, bold: bool = False, share: float = 0.8) -> Any:
    """The largest font (up to ``share`` of the rect's height) at which text fits its width."""
    size = int(rect[3] * share)
    while size > 8 and font(size, bold).size(text)[0] > rect[2] * 0.95:
        size = int(size * 0.9)
    return font(size, bold)


def blit_text(surface: Any, text: str, rect: Rect, color: tuple[int, int, int], *,
              bold: bool = False, share: float = 0.8, align: str = "center") -> None:
    face = fitted(text, rect, bold=bold, share=share)
    image = face.render(text, True, color)
    x, y, w, h = rect
    left = {"center": x + (w - image.get_width()) // 2, "left": x + int(w * 0.03),
            "right": x + w - image.get_width() - int(w * 0.03)}[align]
    surface.blit(image, (left, y + (h - image.get_height()) // 2))


def rows(rect: Rect, count: int) -> list[Rect]:
    x, y, w, h = rect
    step = h // max(count, 1)
    return [(x, y + i * step, w, step) for i in range(count)]


class BoardPainter:
    """Paints a BoardView on a pygame surface."""

    def __init__(self, surface: Any) -> None:
        self.surface = surface
        self.layout: Layout | None = None

    def paint(self, view: BoardView, now: datetime, *, blink_on: bool = True,
              ticker_text: str = "", ticker_offset: int = 0) -> None:
        pygame = pygame_module()
        width, height = self.surface.get_size()
        layout = self.layout = board_layout(width, height, len(view.counters))
        self.surface.fill(BACKGROUND)
        hx, hy, hw, hh = layout.header
        blit_text(self.surface, view.title, (hx, hy, hw * 3 // 4, hh * 3 // 5), TEXT, bold=True)
        blit_text(self.surface, view.subtitle, (hx, hy + hh * 3 // 5, hw * 3 // 4, hh * 2 // 5), DIM)
        sx, sy, sw, sh = layout.status
        blit_text(self.surface, now.strftime("%H:%M:%S"), (sx, sy, sw, sh * 3 // 5), TEXT, bold=True)
        if view.online:
            blit_text(self.surface, now.strftime("%d/%m/%Y"), (sx, sy + sh * 3 // 5, sw, sh * 2 // 5), DIM)
        else:
            since = f"MẤT KẾT NỐI · cập nhật {view.updated or '—'}"
            blit_text(self.surface, since, (sx, sy + sh * 3 // 5, sw, sh * 2 // 5), OFFLINE, bold=True)
        for cell, rect in zip(view.counters, layout.counters, strict=True):
            lit = cell.highlight and blink_on
            pygame.draw.rect(self.surface, HIGHLIGHT if lit else PANEL, rect, border_radius=8)
            x, y, w, h = rect
            ink = BACKGROUND if lit else TEXT
            blit_text(self.surface, cell.name, (x, y, w, h // 4), ink, bold=True)
            blit_text(self.surface, cell.number, (x, y + h // 4, w, h // 2),
                      BACKGROUND if lit else NUMBER, bold=True, share=0.9)
            note = cell.citizen or ("Tạm dừng" if cell.status == "paused" else "")
            if note:
                blit_text(self.surface, note, (x, y + h * 3 // 4, w, h // 4), ink)
        self._list(layout.calls, "Vừa gọi", [f"{number}  →  {counter}" for number, counter in view.calls])
        self._list(layout.waiting, "Đang chờ", [f"{name}: {count}" for name, count in view.waiting])
        self.paint_ticker(ticker_text, ticker_offset)

    def paint_ticker(self, text: str, offset: int) -> Rect:
        """The scrolling line; the only part redrawn between the once-a-second frames."""
        pygame = pygame_module()
        assert self.layout is not None
        tx, ty, tw, th = rect = self.layout.ticker
        pygame.draw.rect(self.surface, TICKER_BG, rect)
        if text:
            image = font(int(th * 0.6), False).render(text, True, TEXT)
            self.surface.set_clip(rect)
            self.surface.blit(image, (tx + tw - offset % (tw + image.get_width()),
                                      ty + (th - image.get_height()) // 2))
            self.surface.set_clip(None)
        return rect

    def _list(self, rect: Rect, heading: str, lines: list[str]) -> None:
        pygame = pygame_module()
        pygame.draw.rect(self.surface, PANEL, rect, border_radius=8)
        slots = rows(rect, max(len(lines), 4) + 1)
        blit_text(self.surface, heading, slots[0], HIGHLIGHT, bold=True, align="left")
        for line, slot in zip(lines, slots[1:], strict=False):
            blit_text(self.surface, line, slot, TEXT, align="left", share=0.7)


def paint_counter(surface: Any, name: str, number: str, citizen: str | None, online: bool) -> None:
    """Counter mode: one counter's number, as large as the screen allows."""
    width, height = surface.get_size()
    surface.fill(BACKGROUND)
    blit_text(surface, name, (0, 0, width, height // 5), TEXT, bold=True)
    blit_text(surface, number, (0, height // 5, width, height * 3 // 5), NUMBER, bold=True, share=0.95)
    footer = citizen or ""
    if not online:
        footer = "MẤT KẾT NỐI"
    if footer:
        blit_text(surface, footer, (0, height * 4 // 5, width, height // 5),
                  OFFLINE if not online else DIM)
