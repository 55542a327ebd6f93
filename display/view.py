"""What the board says, from the board message and the config (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from motcua.config import SiteConfig
from motcua.protocol import Board


@dataclass(frozen=True)
class CounterCell:
    name: str
    number: str          # "—" when the counter serves nobody
    citizen: str | None  # masked name
    status: str
    highlight: bool      # the newest call, for highlight_s seconds


@dataclass(frozen=True)
class BoardView:
    title: str
    subtitle: str
    counters: list[CounterCell]
    calls: list[tuple[str, str]]          # (number, counter name), newest first
    waiting: list[tuple[str, int]]        # (service name, count), config order
    online: bool
    updated: str | None                   # "HH:MM:SS" of the last board


def board_view(config: SiteConfig, board: Board | None, *, now: datetime, online: bool,
               received_at: datetime | None) -> BoardView:
    """The texts of the board; a board of another (older) day shows empty counters."""
    newest = board.calls[0] if board and board.calls else None
    fresh = False
    if newest is not None:
        age = (now - datetime.fromisoformat(newest.at)).total_seconds()
        fresh = 0 <= age <= config.board.highlight_s
    by_counter = {c.counter: c for c in board.counters} if board else {}
    cells = []
    for counter in config.counters:
        state = by_counter.get(counter.id)
        number = state.number if state and state.number else "—"
        cells.append(CounterCell(
            name=counter.name, number=number, citizen=state.name if state else None,
            status=state.status if state else "idle",
            highlight=bool(fresh and newest and newest.counter == counter.id
                           and newest.number == number)))
    names = {c.id: c.name for c in config.counters}
    calls = [(call.number, names.get(call.counter, call.counter))
             for call in (board.calls if board else [])][: config.board.recent_calls]
    waiting = [(service.name, (board.waiting.get(service.id, 0) if board else 0))
               for service in config.services]
    return BoardView(
        title=config.board.title or config.site.name,
        subtitle=config.site.unit,
        counters=cells,
        calls=calls,
        waiting=waiting,
        online=online,
        updated=received_at.strftime("%H:%M:%S") if received_at else None,
    )
