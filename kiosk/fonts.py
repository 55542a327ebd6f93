"""A Vietnamese-capable TrueType font for the ticket's bitmap text (Pillow)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PIL import ImageFont

from motcua.errors import MotcuaError

# Regular and bold faces, best first. DejaVu comes with fonts-dejavu-core on Raspberry Pi OS.
REGULAR_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
BOLD_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
)


def find_font(bold: bool = False, candidates: tuple[str, ...] | None = None) -> Path:
    """The first installed font of the search list (bold falls back to regular faces)."""
    search = candidates if candidates is not None else (BOLD_FONTS + REGULAR_FONTS if bold else REGULAR_FONTS)
    for path in search:
        if Path(path).is_file():
            return Path(path)
    raise MotcuaError("no font with Vietnamese letters found (looked for " + ", ".join(search)
                      + "): sudo apt install fonts-dejavu-core")


@cache
def load_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The ticket font at ``size`` pixels (one printer dot = one pixel), loaded once."""
    return ImageFont.truetype(str(find_font(bold)), size)
