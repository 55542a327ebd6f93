"""A Vietnamese-capable TrueType font for the ticket's bitmap text (Pillow)."""

from __future__ import annotations

from functools import cache

from PIL import ImageFont

from motcua.fonts import BOLD_FONTS, REGULAR_FONTS, find_font

__all__ = ["BOLD_FONTS", "REGULAR_FONTS", "find_font", "load_font"]

@cache
def load_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The ticket font at ``size`` pixels (one printer dot = one pixel), loaded once."""
    return ImageFont.truetype(str(find_font(bold)), size)
