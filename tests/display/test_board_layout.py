"""The board's layout (pure): every size and content count keeps everything on screen, apart."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from motcua.display.layout import MIN_FONT, MIN_ROW, Rect, board_layout, counter_layout, fit


def inside(inner: Rect, outer: Rect) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return w > 0 and h > 0 and x >= ox and y >= oy and x + w <= ox + ow and y + h <= oy + oh


def overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def apart(rects: list[Rect]) -> bool:
    return not any(overlap(a, b) for i, a in enumerate(rects) for b in rects[i + 1:])


screens = st.tuples(st.integers(320, 3840), st.integers(240, 3840))


@given(screens, st.integers(1, 12), st.integers(1, 20), st.integers(1, 10), st.booleans())
def test_board_layout_fits_any_screen(size, counters, calls, services, ticker) -> None:
    width, height = size
    lay = board_layout(width, height, counters=counters, calls=calls, services=services,
                       ticker=ticker)
    screen = (0, 0, width, height)
    assert lay.portrait == (height > width)
    assert all(inside(rect, screen) for rect in lay.panels())
    assert apart(lay.panels())
    assert (lay.ticker is not None) == ticker
    for rect in (lay.title, lay.subtitle, lay.time, lay.date):
        assert inside(rect, lay.header)
    assert apart([lay.title, lay.time]) and apart([lay.subtitle, lay.time, lay.date])
    for panel, heading, rows in ((lay.counters, lay.counters_heading, lay.counter_rows),
                                 (lay.calls, lay.calls_heading, lay.call_rows),
                                 (lay.waiting, lay.waiting_heading, lay.wait_rows)):
        assert inside(heading, panel)
        assert all(inside(cells.row, panel) for cells in rows)
        assert apart([heading, *(cells.row for cells in rows)])
        assert all(cells.row[3] >= MIN_ROW for cells in rows)
    assert len(lay.counter_rows) <= counters and len(lay.call_rows) <= calls
    assert len(lay.wait_rows) <= services
    for cells in lay.counter_rows:
        parts = [cells.name, cells.number, cells.person]
        assert all(inside(part, cells.row) for part in parts) and apart(parts)
    for cells in lay.call_rows:
        parts = [cells.number, cells.counter, cells.detail]
        assert all(inside(part, cells.row) for part in parts) and apart(parts)


@given(screens)
def test_counter_layout_fits_any_screen(size) -> None:
    lay = counter_layout(*size)
    assert all(inside(rect, (0, 0, *size)) for rect in lay.panels())
    assert apart(lay.panels())
    assert inside(lay.time, lay.footer) and inside(lay.notice, lay.footer)
    assert lay.number[3] > 2 * lay.name[3], "the number is the biggest thing on a counter screen"


def test_a_tv_shows_every_row_of_the_example_office() -> None:
    for size in ((1280, 720), (1920, 1080), (1080, 1920)):
        lay = board_layout(*size, counters=4, calls=6, services=4, ticker=True)
        assert (len(lay.counter_rows), len(lay.call_rows), len(lay.wait_rows)) == (4, 6, 4)


def test_the_number_grows_with_the_screen() -> None:
    small = board_layout(1280, 720, counters=4, calls=6, services=4, ticker=True)
    large = board_layout(1920, 1080, counters=4, calls=6, services=4, ticker=True)
    assert large.counter_rows[0].number[3] > small.counter_rows[0].number[3]


def proportional(text: str, size: int) -> int:
    return len(text) * size * 6 // 10


@given(st.text(min_size=1, max_size=80), st.integers(1, 2000), st.integers(MIN_FONT, 300))
def test_fit_keeps_text_inside_its_box_or_at_the_smallest_size(text, width, size) -> None:
    fitted = fit(text, (0, 0, width, 50), size, proportional)
    assert MIN_FONT <= fitted <= size
    assert fitted == MIN_FONT or proportional(text, fitted) <= width
    if proportional(text, size) <= width:
        assert fitted == size, "text that fits keeps its size"
