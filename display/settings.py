"""The ``[board]`` section: what the waiting-room TV shows."""

from __future__ import annotations

from dataclasses import dataclass

from motcua import sections
from motcua.config_reader import Table


@dataclass(frozen=True)
class BoardSettings:
    title: str | None          # header text; the site's name when absent
    ticker: str                # the scrolling line at the bottom; none when empty
    recent_calls: int          # how many of the latest calls are listed
    highlight_s: float         # the newest call blinks this long
    ticker_speed: float = 3.0  # ticker scroll speed, in text heights per second
    fps: int = 25              # frames per second while something moves (ticker, blink)
    fullscreen: bool = True    # without --size: full screen (a TV); false: a window
    font: str | None = None    # a TrueType font tried before the built-in search list
    bold_font: str | None = None


def parse(root: Table) -> BoardSettings:
    table = root.table("board")
    settings = BoardSettings(
        title=table.get_str("title", None),
        ticker=table.get_str("ticker", "", nonempty=False),
        recent_calls=table.get_int("recent_calls", 6, min=1, max=20),
        highlight_s=table.get_float("highlight_s", 8.0, min=0.0, max=120.0),
        ticker_speed=table.get_float("ticker_speed", BoardSettings.ticker_speed, min=0.1, max=50.0),
        fps=table.get_int("fps", BoardSettings.fps, min=1, max=60),
        fullscreen=table.get_bool("fullscreen", BoardSettings.fullscreen),
        font=table.get_str("font", None),
        bold_font=table.get_str("bold_font", None),
    )
    table.finish()
    return settings


# The site config reads this section through the registry (motcua/sections.py).
sections.register("board", lambda root, site: parse(root))
