"""Drawing the board with pygame: only the regions whose content changed are redrawn.

Each region (the clock, one counter's row, one call, …) remembers the content it last
drew; :meth:`BoardPainter.paint` redraws the regions whose content differs and returns
their rectangles, so the loop flips only those (``pygame.display.update(rects)``). In a
quiet office that is the clock once a second and the ticker strip.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import partial
from typing import Any

from motcua.config import SiteConfig
from motcua.protocol import CounterStatus

from .fonts import FontBook
from .layout import (
    MIN_FONT,
    BoardLayout,
    CounterLayout,
    Rect,
    board_layout,
    counter_layout,
    fit,
    font_size,
)
from .state import LABELS, BoardView, CallRow, CounterRow, WaitRow

# What a counter's number cell says when no ticket is served there.
STATUS_LABELS: dict[str, str] = {CounterStatus.PAUSED: LABELS["paused"], CounterStatus.IDLE: LABELS["idle"]}

Colour = tuple[int, int, int]
BACKGROUND: Colour = (8, 32, 74)
HEADER: Colour = (4, 20, 50)
PANEL: Colour = (18, 54, 112)
TEXT: Colour = (255, 255, 255)
DIM: Colour = (165, 185, 220)
NUMBER: Colour = (255, 222, 80)
HEADING: Colour = (120, 200, 255)
HIGHLIGHT: Colour = (255, 196, 0)       # the newest call's row while it blinks
ON_HIGHLIGHT: Colour = (20, 20, 20)
PAUSED: Colour = (255, 150, 60)
OFFLINE: Colour = (210, 30, 30)
NOTICE: Colour = (255, 210, 120)
TICKER_BG: Colour = (150, 16, 16)
TICKER_GAP_EM = 4                       # space between two passes of the ticker, in text heights


class Painter:
    """Regions with remembered content, and text fitted into boxes."""

    def __init__(self, surface: Any, fonts: FontBook, *, min_text: int = MIN_FONT) -> None:
        self.surface = surface
        self.fonts = fonts
        self.min_text = min_text          # no text is drawn smaller (docs/board.md)
        self._drawn: dict[str, Hashable] = {}
        self._dirty: list[Rect] = []

    def region(self, name: str, rect: Rect, content: Hashable, draw: Callable[[Rect], None]) -> bool:
        """Draw ``rect`` if its content changed since last time; True if it was drawn."""
        if self._drawn.get(name, _NOTHING) == content:
            return False
        self._drawn[name] = content
        draw(rect)
        self._dirty.append(rect)
        return True

    def forget(self, prefix: str) -> None:
        """Regions inside one that was just repainted must draw again."""
        for name in [n for n in self._drawn if n.startswith(prefix)]:
            del self._drawn[name]

    def take_dirty(self) -> list[Rect]:
        dirty, self._dirty = self._dirty, []
        return dirty

    def fill(self, rect: Rect, colour: Colour, radius: int = 0) -> None:
        if radius:
            import pygame

            pygame.draw.rect(self.surface, colour, rect, border_radius=radius)
        else:
            self.surface.fill(colour, rect)

    def text(self, text: str, rect: Rect, colour: Colour, *, size: int | None = None,
             bold: bool = False, align: str = "left") -> None:
        if not text:
            return
        wanted = size if size is not None else font_size(rect)
        measure = lambda t, s: self.fonts.width(t, s, bold=bold)  # noqa: E731
        fitted = fit(text, rect, min(wanted, font_size(rect, 0.95)), measure, self.min_text)
        text = shorten(text, rect[2], fitted, measure)
        image = self.fonts.get(fitted, bold=bold).render(text, True, colour)
        x, y, w, h = rect
        left = {"left": x, "center": x + (w - image.get_width()) // 2,
                "right": x + w - image.get_width()}[align]
        self.surface.blit(image, (left, y + (h - image.get_height()) // 2))


_NOTHING = object()


def shorten(text: str, width: int, size: int, measure: Callable[[str, int], int]) -> str:
    """Text that does not fit at the smallest legible size loses its end to "…", rather than
    shrinking into a smudge nobody reads from the chairs."""
    if measure(text, size) <= width:
        return text
    words = text.split(" ")
    while len(words) > 1:                        # whole words first
        words.pop()
        candidate = " ".join(words).rstrip(" ·–,") + "…"
        if measure(candidate, size) <= width:
            return candidate
    cut = text
    while len(cut) > 1 and measure(cut + "…", size) > width:
        cut = cut[:-1]
    return cut + "…"


class BoardPainter(Painter):
    """The waiting-room board."""

    def __init__(self, surface: Any, config: SiteConfig, fonts: FontBook) -> None:
        width, height = surface.get_size()
        self.layout: BoardLayout = board_layout(
            width, height, counters=len(config.counters), calls=config.board.recent_calls,
            services=len(config.services), ticker=bool(config.board.ticker))
        super().__init__(surface, fonts, min_text=self.layout.min_text)
        self.ticker_speed = config.board.ticker_speed
        self._ticker_image: Any = None
        self._radius = max(2, min(width, height) // 120)

    def paint(self, view: BoardView, *, ticker_s: float = 0.0) -> list[Rect]:
        """Bring the surface up to ``view``; the rectangles that changed. ``ticker_s``: seconds
        of scrolling so far (the ticker's position)."""
        lay = self.layout
        if self.region("screen", (0, 0, *lay.size), (view.title, view.subtitle),
                       lambda rect: self._screen(rect, view)):
            self.forget("clock")
            self.forget("notice")
            self.forget("counter")
            self.forget("call")
            self.forget("wait")
            self.forget("ticker")
        self.region("clock", _union(lay.time, lay.date), (view.time, view.date),
                    lambda rect: self._clock(rect, view))
        self.region("notice", lay.notice, (view.notice, view.offline),
                    lambda rect: self._notice(rect, view))
        for i, (cells, row) in enumerate(zip(lay.counter_rows, view.counters, strict=False)):
            self.region(f"counter{i}", cells.row, row, _whole(partial(self._counter, cells, row)))
        for i, call_cells in enumerate(lay.call_rows):
            call = view.calls[i] if i < len(view.calls) else None
            lit = i == 0 and view.highlight
            self.region(f"call{i}", call_cells.row, (call, lit),
                        _whole(partial(self._call, call_cells, call, lit)))
        for i, (wait_cells, wait_row) in enumerate(zip(lay.wait_rows, view.waiting, strict=False)):
            self.region(f"wait{i}", wait_cells.row, wait_row,
                        _whole(partial(self._wait, wait_cells, wait_row)))
        if lay.ticker is not None:
            offset = self._ticker_offset(ticker_s)
            self.region("ticker", lay.ticker, (view.ticker, offset),
                        lambda rect: self._ticker(rect, view.ticker, offset))
        return self.take_dirty()

    # -- regions -----------------------------------------------------------------
    def _screen(self, rect: Rect, view: BoardView) -> None:
        lay = self.layout
        self.fill(rect, BACKGROUND)
        self.fill(lay.header, HEADER)
        self.text(view.title, lay.title, TEXT, bold=True)
        self.text(view.subtitle, lay.subtitle, DIM)
        for panel, heading, label in ((lay.counters, lay.counters_heading, LABELS["serving"]),
                                      (lay.calls, lay.calls_heading, LABELS["calls"]),
                                      (lay.waiting, lay.waiting_heading, LABELS["waiting"])):
            self.fill(panel, PANEL, self._radius)
            self.text(label, _pad(heading, self._radius * 2), HEADING, bold=True)

    def _clock(self, rect: Rect, view: BoardView) -> None:
        self.fill(rect, HEADER)
        self.text(view.time, self.layout.time, TEXT, bold=True, align="right")
        self.text(view.date, self.layout.date, DIM, align="right")

    def _notice(self, rect: Rect, view: BoardView) -> None:
        self.fill(rect, OFFLINE if view.offline and view.notice else BACKGROUND)
        self.text(view.notice, rect, TEXT if view.offline else NOTICE, bold=view.offline,
                  align="center")

    def _counter(self, cells: Any, row: CounterRow) -> None:
        self.fill(cells.row, PANEL)
        self.text(row.name, cells.name, TEXT, bold=True, size=font_size(cells.name, 0.5))
        if row.number:
            self.text(row.number, cells.number, NUMBER, bold=True, align="center")
            self.text(row.person or "", cells.person, TEXT, size=font_size(cells.person, 0.4))
        else:
            label = STATUS_LABELS.get(row.status, "—")
            self.text(label, cells.number, PAUSED if row.status == CounterStatus.PAUSED else DIM,
                      size=font_size(cells.number, 0.4), align="center")

    def _call(self, cells: Any, call: CallRow | None, lit: bool) -> None:
        self.fill(cells.row, HIGHLIGHT if lit else PANEL)
        if call is None:
            return
        ink = ON_HIGHLIGHT if lit else TEXT
        self.text(call.number, cells.number, ON_HIGHLIGHT if lit else NUMBER, bold=True,
                  align="center")
        self.text(f"→ {call.counter_name}", cells.counter, ink, bold=True,
                  size=font_size(cells.counter, 0.85))
        detail = " · ".join(part for part in (call.person, call.service_name) if part)
        if call.recall:
            detail = f"({LABELS['recall']}) {detail}"
        self.text(detail, cells.detail, ink if lit else DIM)

    def _wait(self, cells: Any, row: WaitRow) -> None:
        self.fill(cells.row, PANEL)
        size = font_size(cells.name, 0.55)
        self.text(row.service_name, cells.name, TEXT, size=size)
        count = f"{row.count}" + (f"  {row.estimate}" if row.estimate else "")
        self.text(count, cells.count, NUMBER, bold=True, size=size, align="right")

    def _ticker_offset(self, seconds: float) -> int:
        rect = self.layout.ticker
        assert rect is not None
        size = font_size(rect, 0.6)
        if self._ticker_image is None:
            return 0
        period = self._ticker_image.get_width() + TICKER_GAP_EM * size
        return int(seconds * self.ticker_speed * size) % period

    def _ticker(self, rect: Rect, text: str, offset: int) -> None:
        size = font_size(rect, 0.6)
        if self._ticker_image is None:
            self._ticker_image = self.fonts.get(size).render(text, True, TEXT)
        image = self._ticker_image
        self.fill(rect, TICKER_BG)
        period = image.get_width() + TICKER_GAP_EM * size
        x = rect[0] + rect[2] // 3 - offset      # the first pass starts inside the strip
        y = rect[1] + (rect[3] - image.get_height()) // 2
        self.surface.set_clip(rect)
        while x > rect[0]:
            x -= period
        while x < rect[0] + rect[2]:
            self.surface.blit(image, (x, y))
            x += period
        self.surface.set_clip(None)


class CounterPainter(Painter):
    """One counter's small screen: the number it serves, as large as the screen allows."""

    def __init__(self, surface: Any, fonts: FontBook) -> None:
        super().__init__(surface, fonts)
        self.layout: CounterLayout = counter_layout(*surface.get_size())

    def paint(self, row: CounterRow, view: BoardView) -> list[Rect]:
        lay = self.layout
        if self.region("screen", (0, 0, *lay.size), row.name, lambda rect: self._screen(rect, row)):
            self.forget("number")
            self.forget("footer")
        self.region("number", _union(lay.number, lay.person), (row.number, row.person, row.status),
                    lambda rect: self._number(rect, row))
        self.region("footer", lay.footer, (view.time, view.notice, view.offline),
                    lambda rect: self._footer(rect, view))
        return self.take_dirty()

    def _screen(self, rect: Rect, row: CounterRow) -> None:
        self.fill(rect, BACKGROUND)
        self.fill(self.layout.name, HEADER)
        self.text(row.name, self.layout.name, TEXT, bold=True, align="center")

    def _number(self, rect: Rect, row: CounterRow) -> None:
        self.fill(rect, BACKGROUND)
        if row.number:
            self.text(row.number, self.layout.number, NUMBER, bold=True, align="center",
                      size=font_size(self.layout.number, 0.9))
            self.text(row.person or "", self.layout.person, TEXT, align="center")
        else:
            label = STATUS_LABELS.get(row.status, "—")
            self.text(label, self.layout.number, PAUSED if row.status == CounterStatus.PAUSED else DIM,
                      size=font_size(self.layout.number, 0.4), align="center")

    def _footer(self, rect: Rect, view: BoardView) -> None:
        self.fill(rect, OFFLINE if view.offline and view.notice else HEADER)
        self.text(view.time, self.layout.time, DIM)
        self.text(view.notice, self.layout.notice, TEXT, align="right")


def _whole(draw: Callable[[], None]) -> Callable[[Rect], None]:
    """A region's drawing that needs no rectangle (a row draws into its own cells)."""
    return lambda _rect: draw()


def _union(a: Rect, b: Rect) -> Rect:
    x, y = min(a[0], b[0]), min(a[1], b[1])
    return x, y, max(a[0] + a[2], b[0] + b[2]) - x, max(a[1] + a[3], b[1] + b[3]) - y


def _pad(rect: Rect, dx: int) -> Rect:
    return rect[0] + dx, rect[1], max(1, rect[2] - 2 * dx), rect[3]
