"""Finding a TrueType font with Vietnamese letters, for tickets and the board."""

from __future__ import annotations

from pathlib import Path

from .errors import MotcuaError

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
