"""The board drawn at TV sizes, checked by pixel regions; only what changed is redrawn."""

from __future__ import annotations

from dataclasses import replace

import pygame
import pytest
from board_samples import make_board
from motcua.display import render
from motcua.display.daemon import BoardApp
from motcua.display.layout import Rect
from motcua.display.state import BLINK_S

from motcua.mqtt import Inbound, LinkDown, LinkUp
from motcua.protocol import Topics, encode

SIZES = [(1280, 720), (1920, 1080), (1080, 1920)]
BOARD_TOPIC = Topics("liem-chung").board


def new_app(office, fonts, clocks, size=(1920, 1080), counter=None) -> BoardApp:
    app = BoardApp(office, pygame.Surface(size), fonts, counter=counter, mono=clocks.mono,
                   wall=clocks.wall)
    app.handle(LinkUp(session_present=False))
    return app


def send(app: BoardApp, board, *, retain: bool = False) -> None:
    app.handle(Inbound(topic=BOARD_TOPIC, payload=encode(board), mid=1, qos=1, retain=retain))


def pixels(surface, rect: Rect) -> bytes:
    return pygame.image.tobytes(surface.subsurface(rect), "RGB")


def count_colour(surface, rect: Rect, colour) -> int:
    data, wanted = pixels(surface, rect), bytes(colour)
    return sum(1 for i in range(0, len(data), 3) if data[i:i + 3] == wanted)


def only_colour(surface, rect: Rect, colour) -> bool:
    return rect[2] <= 0 or rect[3] <= 0 or count_colour(surface, rect, colour) == rect[2] * rect[3]


def gaps_between(row: Rect, cells: list[Rect]) -> list[Rect]:
    """The strips of a row left and right of its cells (where no text may spill)."""
    x, y, w, h = row
    edges = sorted((c[0], c[0] + c[2]) for c in cells)
    strips, left = [], x
    for start, end in edges:
        strips.append((left, y, start - left, h))
        left = end
    strips.append((left, y, x + w - left, h))
    return [s for s in strips if s[2] > 0]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_counters_number_region_follows_its_number(office, fonts, clocks, size) -> None:
    app = new_app(office, fonts, clocks, size)
    rows = app.painter.layout.counter_rows
    send(app, make_board(clocks.now, seq=1))
    app.frame()
    first = [pixels(app.surface, cells.number) for cells in rows]
    assert count_colour(app.surface, rows[0].number, render.NUMBER) > 50, "1012 is drawn in yellow"
    send(app, make_board(clocks.now, seq=2, serving={"1": "1013", "2": "C007", "3": "3017"}))
    app.frame()
    second = [pixels(app.surface, cells.number) for cells in rows]
    assert first[0] != second[0], "counter 1 now shows 1013"
    assert first[1:] == second[1:], "the other counters did not change"
    for cells in rows:      # no text spills out of its cell
        assert all(only_colour(app.surface, strip, render.PANEL)
                   for strip in gaps_between(cells.row, [cells.name, cells.number, cells.person]))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_newest_call_is_highlighted_and_blinks(office, fonts, clocks, size) -> None:
    app = new_app(office, fonts, clocks, size)
    send(app, make_board(clocks.now))
    app.frame()
    newest, older = app.painter.layout.call_rows[0], app.painter.layout.call_rows[1]
    area = newest.row[2] * newest.row[3]
    assert count_colour(app.surface, newest.row, render.HIGHLIGHT) > area // 2
    assert count_colour(app.surface, older.row, render.HIGHLIGHT) == 0
    clocks.advance(BLINK_S * 1.2)
    app.frame()
    assert count_colour(app.surface, newest.row, render.HIGHLIGHT) == 0, "blink: off"
    clocks.advance(office.board.highlight_s)
    app.frame()
    assert count_colour(app.surface, newest.row, render.HIGHLIGHT) == 0, "over after highlight_s"
    assert count_colour(app.surface, newest.number, render.NUMBER) > 0, "the number stays"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_everything_is_drawn_inside_the_screen(office, fonts, clocks, size) -> None:
    app = new_app(office, fonts, clocks, size)
    send(app, make_board(clocks.now))
    app.frame()
    lay = app.painter.layout
    assert lay.ticker is not None and lay.ticker[1] + lay.ticker[3] == size[1]
    assert count_colour(app.surface, lay.ticker, render.TEXT) > 0, "the ticker's text shows"
    assert count_colour(app.surface, lay.wait_rows[-1].count, render.NUMBER) > 0, "last service's count"
    assert count_colour(app.surface, lay.time, render.TEXT) > 0, "the clock"
    for cells in lay.call_rows[1:3]:
        assert all(only_colour(app.surface, strip, render.PANEL)
                   for strip in gaps_between(cells.row, [cells.number, cells.counter]))


def test_the_offline_mark(office, fonts, clocks) -> None:
    app = new_app(office, fonts, clocks)
    send(app, make_board(clocks.now))
    app.frame()
    notice = app.painter.layout.notice
    assert count_colour(app.surface, notice, render.OFFLINE) == 0
    app.handle(LinkDown(reason="test"))
    assert notice in app.frame()
    assert count_colour(app.surface, notice, render.OFFLINE) > notice[2] * notice[3] // 2
    assert count_colour(app.surface, notice, render.TEXT) > 0, "with the time of the last update"
    number = app.painter.layout.counter_rows[0].number
    assert count_colour(app.surface, number, render.NUMBER) > 0, "the last data stays"


def test_only_what_changed_is_redrawn(office, fonts, clocks) -> None:
    app = new_app(office, fonts, clocks)
    lay = app.painter.layout
    send(app, make_board(clocks.now, seq=1))
    assert app.frame()[0] == (0, 0, 1920, 1080)
    assert app.frame() == [], "nothing moved, nothing drawn"
    clocks.advance(office.board.highlight_s + 1)
    app.frame()
    clocks.advance(1.0)
    dirty = app.frame()
    assert lay.ticker in dirty and len(dirty) == 2, "the clock and the ticker"
    send(app, make_board(clocks.now, seq=2, serving={"1": "1013", "2": "C007", "3": "3017"},
                         calls=[("1", "1013", "dat-dai"), ("3", "3017", "ldtbxh"),
                                ("1", "1012", "dat-dai"), ("2", "C007", "chung-thuc")]))
    dirty = app.frame()
    assert lay.counter_rows[0].row in dirty
    assert not {cells.row for cells in lay.counter_rows[1:]} & set(dirty)
    assert {cells.row for cells in lay.call_rows[:4]} <= set(dirty)
    assert not {cells.row for cells in lay.wait_rows} & set(dirty), "waiting counts did not change"


def test_a_quiet_board_sleeps_until_the_next_second(office, fonts, clocks) -> None:
    quiet = replace(office, board=replace(office.board, ticker=""))
    app = new_app(quiet, fonts, clocks)
    assert app.painter.layout.ticker is None
    clocks.now = clocks.now.replace(microsecond=250_000)
    assert 0.7 < app.wait_s() < 0.8
    send(app, make_board(clocks.now))
    assert app.wait_s() <= BLINK_S, "while the newest call blinks"
    ticking = new_app(office, fonts, clocks)
    assert ticking.wait_s() == pytest.approx(1 / office.board.fps)


@pytest.mark.parametrize("size", [(800, 480), (480, 800)], ids=["landscape", "portrait"])
def test_counter_mode_shows_that_counters_number_large(office, fonts, clocks, size) -> None:
    app = new_app(office, fonts, clocks, size, counter="3")
    send(app, make_board(clocks.now, seq=1))
    app.frame()
    lay = app.painter.layout
    before = pixels(app.surface, lay.number)
    assert count_colour(app.surface, lay.number, render.NUMBER) > lay.number[2] * lay.number[3] // 20
    send(app, make_board(clocks.now, seq=2, serving={"3": "3018"}))
    app.frame()
    assert pixels(app.surface, lay.number) != before
    send(app, make_board(clocks.now, seq=3, serving={}))
    app.frame()
    assert count_colour(app.surface, lay.number, render.NUMBER) == 0, "idle: no number"
