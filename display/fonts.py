"""The board's fonts (pygame): found on the usual paths, checked for Vietnamese glyphs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from motcua.errors import MotcuaError
from motcua.fonts import find_font as find_installed_font


def find_font(*, bold: bool = False, preferred: str | None = None) -> Path:
    """``preferred`` (board.font / board.bold_font) if it exists, else the shared search list."""
    if preferred:
        if Path(preferred).is_file():
            return Path(preferred)
        raise MotcuaError(f"the board's font {preferred} does not exist (board.font or board.bold_font)")
    return find_installed_font(bold)


def missing_glyphs(font: Any, text: str) -> str:
    """The characters of ``text`` a pygame Font would draw as its "missing" box.

    ``metrics()`` says None only for some missing glyphs (SDL_ttf maps the rest to the
    font's .notdef box), so a glyph that renders exactly like U+FFFF (never in a font)
    counts as missing too.
    """
    def pixels(char: str) -> tuple[tuple[int, int], bytes]:
        import pygame

        surface = font.render(char, True, (255, 255, 255), (0, 0, 0))
        return surface.get_size(), pygame.image.tobytes(surface, "RGB")

    box = pixels("\uffff")
    missing = []
    for char in dict.fromkeys(text):
        if char.isspace():
            continue
        metrics = font.metrics(char)
        if not metrics or metrics[0] is None or pixels(char) == box:
            missing.append(char)
    return "".join(missing)


class FontBook:
    """pygame fonts by (bold, pixel size), loaded once each."""

    def __init__(self, regular: Path, bold: Path) -> None:
        from motcua.errors import require

        self.pygame = require("pygame", "display", "python3-pygame")
        self.pygame.font.init()
        self.regular = regular
        self.bold = bold
        self._fonts: dict[tuple[bool, int], Any] = {}

    @classmethod
    def find(cls, *, regular: str | None = None, bold: str | None = None) -> FontBook:
        return cls(find_font(preferred=regular), find_font(bold=True, preferred=bold))

    def get(self, size: int, *, bold: bool = False) -> Any:
        key = (bold, max(6, int(size)))
        font = self._fonts.get(key)
        if font is None:
            font = self.pygame.font.Font(str(self.bold if bold else self.regular), key[1])
            self._fonts[key] = font
        return font

    def width(self, text: str, size: int, *, bold: bool = False) -> int:
        return self.get(size, bold=bold).size(text)[0]
