"""The report's chart as a PNG, drawn with Pillow (no plotting library to import: the
report answers in well under a second, docs/report.md).

Left: waiting time per hour of issue, or per group of ``--by`` (the bar is the median,
the red mark the wait 90 % of citizens stayed under, the dashed line the target). Right:
the ratings, or "Chưa có đánh giá" when nobody rated. Labels in Vietnamese, numbers in
the Vietnamese format (1,7).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from motcua.fonts import find_font

from .figures import Figures, Spread, number_vi

SIZE = (1200, 450)
INK, GRID, BAR, P90, TARGET = (30, 30, 30), (215, 215, 215), (31, 111, 235), (209, 36, 47), (90, 90, 90)
RATING_COLOURS = ((45, 164, 78), (121, 192, 255), (240, 180, 40), (209, 36, 47))
NO_RATINGS = "Chưa có đánh giá"
NO_CALLS = "Chưa có công dân nào được gọi"

Rect = tuple[int, int, int, int]   # left, top, right, bottom


@dataclass
class Drawn:
    """Where the chart put its bars, for tests to check against the figures."""

    wait_bars: dict[str, Rect] = field(default_factory=dict)      # label -> median bar
    wait_scale: float = 0.0                                       # pixels per minute
    rating_bars: dict[str, Rect] = field(default_factory=dict)    # level -> bar
    rating_scale: float = 0.0                                     # pixels per rating
    notes: list[str] = field(default_factory=list)                # texts written instead of bars


def draw_charts(path: Path, waits: dict[str, Spread], wait_title: str, total: Figures,
                levels: Sequence[str], title: str, target_wait_s: float) -> Drawn:
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    fonts = _Fonts()
    drawn = Drawn()
    draw.text((SIZE[0] // 2, 12), title, font=fonts.bold(20), fill=INK, anchor="mt")
    _wait_panel(draw, fonts, (70, 60, 640, 390), waits, wait_title, target_wait_s, drawn)
    _rating_panel(draw, fonts, (760, 60, 1170, 390), total, levels, drawn)
    image.save(path)
    return drawn


class _Fonts:
    def __init__(self) -> None:
        self.regular_path, self.bold_path = find_font(), find_font(bold=True)

    def regular(self, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(str(self.regular_path), size)

    def bold(self, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(str(self.bold_path), size)


def _nice_top(value: float) -> float:
    """A round axis top at or above ``value`` (1, 2, 5 × a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _wait_panel(draw: ImageDraw.ImageDraw, fonts: _Fonts, box: Rect, waits: dict[str, Spread],
                title: str, target_wait_s: float, drawn: Drawn) -> None:
    left, top, right, bottom = box
    small = fonts.regular(13)
    draw.text(((left + right) // 2, top - 22), title, font=fonts.bold(16), fill=INK, anchor="mt")
    present = {label: s for label, s in waits.items() if s.count}
    if not present:
        draw.text(((left + right) // 2, (top + bottom) // 2), NO_CALLS, font=fonts.regular(18),
                  fill=INK, anchor="mm")
        drawn.notes.append(NO_CALLS)
        return
    target_min = target_wait_s / 60
    highest = max(max((s.p90 or 0) / 60 for s in present.values()), target_min)
    axis_top = _nice_top(highest * 1.05)
    scale = (bottom - top) / axis_top
    drawn.wait_scale = scale
    for i in range(6):                          # the minute grid, labelled 0 … axis top
        value = axis_top * i / 5
        y = bottom - round(value * scale)
        draw.line((left, y, right, y), fill=GRID)
        draw.text((left - 6, y), number_vi(value, 0 if axis_top >= 5 else 1), font=small,
                  fill=INK, anchor="rm")
    draw.text((left - 48, (top + bottom) // 2), "phút", font=small, fill=INK, anchor="mm")
    slot = (right - left) / len(present)
    width = max(4, round(slot * 0.6))
    label_font = fonts.regular(12 if len(present) > 8 else 13)
    for n, (label, spread) in enumerate(present.items()):
        centre = left + slot * (n + 0.5)
        height = round((spread.median or 0) / 60 * scale)
        rect = (round(centre - width / 2), bottom - height, round(centre + width / 2), bottom)
        draw.rectangle(rect, fill=BAR)
        drawn.wait_bars[label] = rect
        y90 = bottom - round((spread.p90 or 0) / 60 * scale)
        draw.line((rect[0], y90, rect[2], y90), fill=P90, width=3)
        draw.text((centre, bottom + 6), _short(label, slot, label_font), font=label_font,
                  fill=INK, anchor="mt")
    y_target = bottom - round(target_min * scale)
    for x in range(left, right, 12):            # dashed target line
        draw.line((x, y_target, min(x + 6, right), y_target), fill=TARGET, width=2)
    legend = [(BAR, "một nửa số công dân chờ dưới"), (P90, "90 % công dân chờ dưới"),
              (TARGET, f"mục tiêu {number_vi(target_min, 0)} phút")]
    x = left
    for colour, text in legend:
        draw.rectangle((x, bottom + 30, x + 14, bottom + 44), fill=colour)
        draw.text((x + 20, bottom + 37), text, font=small, fill=INK, anchor="lm")
        x += 26 + round(draw.textlength(text, font=small)) + 10


def _rating_panel(draw: ImageDraw.ImageDraw, fonts: _Fonts, box: Rect, total: Figures,
                  levels: Sequence[str], drawn: Drawn) -> None:
    left, top, right, bottom = box
    counts = [total.ratings.get(level, 0) for level in range(1, len(levels) + 1)]
    rated = sum(counts)
    title = f"Đánh giá mức độ hài lòng ({rated} lượt)" if rated else "Đánh giá mức độ hài lòng"
    draw.text(((left + right) // 2, top - 22), title, font=fonts.bold(16), fill=INK, anchor="mt")
    if not rated:
        draw.text(((left + right) // 2, (top + bottom) // 2), NO_RATINGS, font=fonts.regular(18),
                  fill=INK, anchor="mm")
        drawn.notes.append(NO_RATINGS)
        return
    scale = (bottom - top - 24) / max(counts)
    drawn.rating_scale = scale
    slot = (right - left) / len(levels)
    width = round(slot * 0.6)
    small = fonts.regular(13)
    draw.line((left, bottom, right, bottom), fill=INK)
    for n, (level, count) in enumerate(zip(levels, counts, strict=True)):
        centre = left + slot * (n + 0.5)
        height = round(count * scale)
        rect = (round(centre - width / 2), bottom - height, round(centre + width / 2), bottom)
        colour = RATING_COLOURS[min(n, len(RATING_COLOURS) - 1)] if n < len(levels) - 1 \
            else RATING_COLOURS[-1]
        if height:
            draw.rectangle(rect, fill=colour)
        drawn.rating_bars[level] = rect
        draw.text((centre, bottom - height - 4), str(count), font=small, fill=INK, anchor="mb")
        draw.text((centre, bottom + 6), _short(level, slot, small), font=small, fill=INK, anchor="mt")


def _short(text: str, room: float, font: ImageFont.FreeTypeFont) -> str:
    if font.getlength(text) <= room - 4:
        return text
    while len(text) > 1 and font.getlength(text + "…") > room - 4:
        text = text[:-1]
    return text + "…"
