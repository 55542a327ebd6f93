"""The ``[board]`` section: what the waiting-room TV shows."""

from __future__ import annotations

from dataclasses import dataclass

from motcua.config_reader import Table


@dataclass(frozen=True)
class BoardSettings:
    title: str | None
    ticker: str
    recent_calls: int
    highlight_s: float


def parse(root: Table) -> BoardSettings:
    table = root.table("board")
    settings = BoardSettings(
        title=table.str("title", None),
        ticker=table.str("ticker", "", nonempty=False),
        recent_calls=table.int("recent_calls", 6, min=1, max=20),
        highlight_s=table.float("highlight_s", 8.0, min=0.0, max=120.0),
    )
    table.finish()
    return settings
