"""Every character the board may show has a glyph in the board's fonts (no missing-glyph boxes)."""

from __future__ import annotations

import pytest
from motcua.display.fonts import find_font, missing_glyphs
from motcua.display.state import LABELS, WEEKDAYS

from motcua.errors import MotcuaError
from motcua.waits import wait_phrase


def board_texts(office) -> str:
    texts = [office.site.name, office.site.unit, office.board.title or "", office.board.ticker,
             *LABELS.values(), *WEEKDAYS, "0123456789:/,·→~()–—…", "Nguyễn V. A. Trần T. B.",
             wait_phrase(0), wait_phrase(135)]
    texts += [s.name for s in office.services] + [c.name for c in office.counters]
    return "".join(texts)


@pytest.mark.parametrize("bold", [False, True], ids=["regular", "bold"])
@pytest.mark.parametrize("size", [14, 96])
def test_every_character_of_the_example_office_has_a_glyph(office, fonts, bold, size) -> None:
    font = fonts.get(size, bold=bold)
    assert missing_glyphs(font, board_texts(office)) == ""
    assert missing_glyphs(font, "Quầy 漢 số") == "漢", "the check does see a missing glyph"


@pytest.mark.parametrize("bold", [False, True], ids=["regular", "bold"])
def test_the_fonts_character_map_agrees(office, fonts, bold) -> None:
    """A second opinion from the font file itself (fontTools, when installed)."""
    ttlib = pytest.importorskip("fontTools.ttLib")
    cmap = ttlib.TTFont(str(fonts.bold if bold else fonts.regular)).getBestCmap()
    assert {c for c in board_texts(office) if not c.isspace() and ord(c) not in cmap} == set()


def test_a_font_that_does_not_exist_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(MotcuaError, match=r"board\.font"):
        find_font(preferred=str(tmp_path / "nope.ttf"))
    assert find_font().is_file()
