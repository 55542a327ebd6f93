"""Where everything goes on the screen, and how big, from its size and the content (pure).

Rectangles are ``(x, y, width, height)`` in pixels; font sizes are pixel heights. The
same function lays out a 1280×720 TV, a 1920×1080 one, a portrait 1080×1920 one, or a
small screen above a counter: every size follows from the screen's size and how many
counters, calls and services there are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Rect = tuple[int, int, int, int]
Measure = Callable[[str, int], int]   # (text, font size) -> width in pixels

MIN_FONT = 8
MIN_ROW = 3 * MIN_FONT    # a row of a list must hold two lines of the smallest text
LEGIBLE_SHARE = 36        # board text is at least 1/36 of the screen's shorter side (docs/board.md)


def legible_px(width: int, height: int) -> int:
    """The smallest font size (pixels) on the waiting-room board: 20 px on a 720p TV, what a
    citizen reads from 5 m on a 43-inch screen (the rule and its arithmetic: docs/board.md)."""
    return max(MIN_FONT, round(min(width, height) / LEGIBLE_SHARE))


@dataclass(frozen=True)
class CounterCells:
    row: Rect
    name: Rect
    number: Rect
    person: Rect


@dataclass(frozen=True)
class CallCells:
    row: Rect
    number: Rect
    counter: Rect
    detail: Rect


@dataclass(frozen=True)
class WaitCells:
    row: Rect
    name: Rect
    count: Rect


@dataclass(frozen=True)
class BoardLayout:
    size: tuple[int, int]
    portrait: bool
    header: Rect
    title: Rect
    subtitle: Rect
    date: Rect
    time: Rect
    notice: Rect
    counters: Rect
    counters_heading: Rect
    counter_rows: tuple[CounterCells, ...]
    calls: Rect
    calls_heading: Rect
    call_rows: tuple[CallCells, ...]
    waiting: Rect
    waiting_heading: Rect
    wait_rows: tuple[WaitCells, ...]
    ticker: Rect | None
    min_text: int = MIN_FONT      # no text on this board is drawn smaller

    def panels(self) -> list[Rect]:
        """The big areas, which never overlap."""
        found = [self.header, self.notice, self.counters, self.calls, self.waiting]
        return found + ([self.ticker] if self.ticker else [])


@dataclass(frozen=True)
class CounterLayout:
    """One counter's small screen: its name, the number it serves (large), the person."""

    size: tuple[int, int]
    name: Rect
    number: Rect
    person: Rect
    footer: Rect
    time: Rect
    notice: Rect

    def panels(self) -> list[Rect]:
        return [self.name, self.number, self.person, self.footer]


# Rows of the board's lists, in legible text heights: a call has two lines of text.
COUNTER_ROW, CALL_ROW, WAIT_ROW = 1.6, 2.5, 1.6


def font_size(rect: Rect, share: float = 0.72) -> int:
    """A font size that fills ``share`` of a box's height (text is then fitted to its width)."""
    return max(MIN_FONT, int(rect[3] * share))


def fit(text: str, rect: Rect, size: int, measure: Measure, floor: int = MIN_FONT) -> int:
    """The largest font size up to ``size``, and not below ``floor``, at which ``text`` fits
    the box's width (at ``floor`` it may still not fit: the painter then shortens it)."""
    floor = max(MIN_FONT, floor)
    size = max(floor, size)
    width = measure(text, size) if text else 0
    if width <= rect[2]:
        return size
    size = max(floor, int(size * rect[2] / width))
    while size > floor and measure(text, size) > rect[2]:
        size -= 1
    return size


def board_layout(width: int, height: int, *, counters: int, calls: int, services: int,
                 ticker: bool) -> BoardLayout:
    """The waiting-room board for a screen of ``width`` × ``height``."""
    portrait = height > width
    legible = legible_px(width, height)
    margin = max(2, round(min(width, height) * 0.015))
    # A heading holds one line of at least the legible size (font_size takes 72 % of a box).
    heading_h = max(MIN_FONT + 2, round(min(height, width * 1.2) * 0.045), round(legible / 0.72) + 1)
    header_h = round(height * (0.085 if portrait else 0.13))
    notice_h = round(height * (0.03 if portrait else 0.05))
    ticker_h = round(height * (0.045 if portrait else 0.075)) if ticker else 0
    header = (0, 0, width, header_h)
    notice = (0, header_h, width, notice_h)
    ticker_rect = (0, height - ticker_h, width, ticker_h) if ticker else None
    body_top = header_h + notice_h
    body_h = height - ticker_h - body_top

    if portrait:
        title = _inset((0, 0, width, round(header_h * 0.55)), margin, 0, top=margin // 2)
        band = (0, title[1] + title[3], width, header_h - title[1] - title[3])
        words, clock_box = _split_w(band, 0.55)
        subtitle = _inset(words, margin, 0, bottom=margin // 2)
        time, date = (_inset(box, margin, 0) for box in _split_h(clock_box, 0.6))
        heights = _shares(body_h, (0.40, 0.35, 0.25))
        y = body_top
        panels = []
        for h in heights:
            panels.append(_inset((0, y, width, h), margin, margin // 2))
            y += h
        counters_rect, calls_rect, waiting_rect = panels
    else:
        title = _inset((0, 0, round(width * 0.63), round(header_h * 0.64)), margin, 0,
                       top=margin // 2)
        subtitle = _inset((0, title[1] + title[3], title[2] + 2 * margin,
                           header_h - title[1] - title[3]), margin, 0, bottom=margin // 2)
        clock_box = _inset((round(width * 0.63), 0, width - round(width * 0.63), header_h), margin, 0)
        time = (clock_box[0], clock_box[1] + margin // 2, clock_box[2], round(header_h * 0.6))
        date = (clock_box[0], time[1] + time[3], clock_box[2], header_h - time[1] - time[3])
        left_w = width // 2
        counters_rect = _inset((0, body_top, left_w, body_h), margin, margin // 2)
        # The waiting list takes what its rows need (within 30-50 % of the column); the
        # recent calls, two lines each, the rest.
        wait_need = heading_h + services * round(legible * WAIT_ROW) + 2 * (margin // 2)
        calls_h = body_h - min(max(wait_need, round(body_h * 0.3)), round(body_h * 0.5))
        calls_rect = _inset((left_w, body_top, width - left_w, calls_h), margin, margin // 2)
        waiting_rect = _inset((left_w, body_top + calls_h, width - left_w, body_h - calls_h),
                              margin, margin // 2)

    counters_heading, counter_rows = _rows(counters_rect, heading_h, counters, max_row=0.34,
                                           min_row=round(legible * COUNTER_ROW))
    calls_heading, call_rows = _rows(calls_rect, heading_h, calls, max_row=0.3,
                                     min_row=round(legible * CALL_ROW))
    waiting_heading, wait_rows = _rows(waiting_rect, heading_h, services, max_row=0.3,
                                       min_row=round(legible * WAIT_ROW))
    gap = max(1, margin // 2)
    return BoardLayout(
        size=(width, height), portrait=portrait, header=header, title=title, subtitle=subtitle,
        date=date, time=time, notice=_inset(notice, margin, 0), counters=counters_rect,
        counters_heading=counters_heading,
        counter_rows=tuple(_counter_cells(row, gap) for row in counter_rows),
        calls=calls_rect, calls_heading=calls_heading,
        call_rows=tuple(_call_cells(row, gap) for row in call_rows),
        waiting=waiting_rect, waiting_heading=waiting_heading,
        wait_rows=tuple(_wait_cells(row, gap) for row in wait_rows),
        ticker=ticker_rect, min_text=legible,
    )


def counter_layout(width: int, height: int) -> CounterLayout:
    """The small screen above one counter."""
    margin = max(2, round(min(width, height) * 0.03))
    heights = _shares(height, (0.2, 0.56, 0.14, 0.10))
    y = 0
    boxes = []
    for h in heights:
        boxes.append((0, y, width, h))
        y += h
    name, number, person, footer = (_inset(box, margin, 0) for box in boxes)
    time, notice = _split_w(footer, 0.3)
    return CounterLayout(size=(width, height), name=name, number=number, person=person,
                         footer=boxes[3], time=time, notice=notice)


# -- helpers --------------------------------------------------------------------------
def _inset(rect: Rect, dx: int, dy: int, *, top: int | None = None,
           bottom: int | None = None) -> Rect:
    x, y, w, h = rect
    top = dy if top is None else top
    bottom = dy if bottom is None else bottom
    return (x + dx, y + top, max(1, w - 2 * dx), max(1, h - top - bottom))


def _shares(total: int, shares: tuple[float, ...]) -> list[int]:
    sizes = [round(total * share) for share in shares[:-1]]
    return [*sizes, total - sum(sizes)]


def _split_w(rect: Rect, share: float) -> tuple[Rect, Rect]:
    x, y, w, h = rect
    left = round(w * share)
    return (x, y, left, h), (x + left, y, w - left, h)


def _split_h(rect: Rect, share: float) -> tuple[Rect, Rect]:
    x, y, w, h = rect
    top = round(h * share)
    return (x, y, w, top), (x, y + top, w, h - top)


def _rows(panel: Rect, heading_h: int, count: int, *, max_row: float,
          min_row: int = MIN_ROW) -> tuple[Rect, list[Rect]]:
    """A heading, then ``count`` equal rows (not taller than ``max_row`` of the panel, not
    lower than ``min_row``); on a screen too small for all, as many as can be read."""
    x, y, w, h = panel
    min_row = max(MIN_ROW, min_row)
    heading_h = min(heading_h, h // 3)
    heading = (x, y, w, heading_h)
    count = min(count, (h - heading_h) // min_row)
    if count <= 0:
        return heading, []
    row_h = max(min_row, min((h - heading_h) // count, round(h * max_row)))
    return heading, [(x, y + heading_h + i * row_h, w, row_h) for i in range(count)]


def _counter_cells(row: Rect, gap: int) -> CounterCells:
    gap = min(gap, row[3] // 8)    # small rows on a large screen keep room for their text
    name, rest = _split_w(row, 0.34)
    number, person = _split_w(rest, 0.42)
    return CounterCells(row=row, name=_inset(name, gap, gap), number=_inset(number, gap, gap),
                        person=_inset(person, gap, gap))


def _call_cells(row: Rect, gap: int) -> CallCells:
    gap = min(gap, row[3] // 8)    # small rows on a large screen keep room for their text
    number, rest = _split_w(row, 0.34)
    counter, detail = _split_h(rest, 0.52)
    return CallCells(row=row, number=_inset(number, gap, gap), counter=_inset(counter, gap, 0, top=gap),
                     detail=_inset(detail, gap, 0, bottom=gap))


def _wait_cells(row: Rect, gap: int) -> WaitCells:
    gap = min(gap, row[3] // 8)    # small rows on a large screen keep room for their text
    name, count = _split_w(row, 0.6)
    return WaitCells(row=row, name=_inset(name, gap, gap), count=_inset(count, gap, gap))
