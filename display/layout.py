"""Where things go on the board, for any screen size (pure: numbers in, rectangles out).

Landscape (a TV on the wall): the office name and the clock across the top; the
counters in a grid on the left; the latest calls and the waiting counts on the
right; the ticker along the bottom. Portrait: the same blocks stacked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Rect = tuple[int, int, int, int]    # x, y, width, height


@dataclass(frozen=True)
class Layout:
    header: Rect
    counters: list[Rect]     # one cell per counter, in config order
    calls: Rect
    waiting: Rect
    ticker: Rect
    status: Rect             # offline mark and last update time, inside the header


def _grid(area: Rect, count: int, columns: int, gap: int) -> list[Rect]:
    x, y, w, h = area
    rows = max(1, math.ceil(count / columns))
    cell_w = (w - gap * (columns - 1)) // columns
    cell_h = (h - gap * (rows - 1)) // rows
    return [(x + (i % columns) * (cell_w + gap), y + (i // columns) * (cell_h + gap), cell_w, cell_h)
            for i in range(count)]


def board_layout(width: int, height: int, counters: int) -> Layout:
    """The board's blocks for a screen of width x height pixels."""
    gap = max(4, min(width, height) // 90)
    header_h = max(40, height // (9 if width >= height else 12))
    ticker_h = max(28, height // 14 if width >= height else height // 22)
    header = (0, 0, width, header_h)
    status = (width * 3 // 4, 0, width // 4 - gap, header_h)
    ticker = (0, height - ticker_h, width, ticker_h)
    body_y = header_h + gap
    body_h = height - header_h - ticker_h - 2 * gap
    if width >= height:
        left_w = width * 3 // 5
        columns = 2 if counters > 3 else 1
        cells = _grid((gap, body_y, left_w - 2 * gap, body_h), counters, columns, gap)
        right_x = left_w + gap
        right_w = width - right_x - gap
        calls = (right_x, body_y, right_w, body_h * 3 // 5)
        waiting = (right_x, body_y + calls[3] + gap, right_w, body_h - calls[3] - gap)
    else:
        grid_h = body_h // 2
        cells = _grid((gap, body_y, width - 2 * gap, grid_h), counters, 2, gap)
        calls = (gap, body_y + grid_h + gap, width - 2 * gap, body_h // 4)
        waiting_y = calls[1] + calls[3] + gap
        waiting = (gap, waiting_y, width - 2 * gap, body_y + body_h - waiting_y)
    return Layout(header=header, counters=cells, calls=calls, waiting=waiting, ticker=ticker,
                  status=status)


def inside(rect: Rect, width: int, height: int) -> bool:
    x, y, w, h = rect
    return x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height
