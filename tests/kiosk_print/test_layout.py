"""The ticket's layout and blocks, pure: which lines, in which form, for 58 and 80 mm paper."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from motcua.kiosk.ticket import (
    PAPER_DOTS,
    Feed,
    NativeText,
    QrCode,
    Raster,
    blocks,
    escpos_bytes,
    is_native,
    layout,
    number_scale,
    wait_phrase,
    wrap,
)

from motcua.config import load_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "liem-chung.toml"
ROLE_ORDER = ["office", "unit", "service", "number", "priority", "waiting", "estimate", "name", "time", "qr",
              "footer"]


COMBINATIONS = list(itertools.product((False, True), (None, 0, 7), (None, 0, 25), (None, "TRẦN THỊ BÌNH"),
                                      ("", "Xin cảm ơn!")))


@pytest.mark.parametrize(("priority", "waiting", "estimate", "name", "footer"), COMBINATIONS)
def test_every_combination_has_its_lines_in_order(make_view, priority, waiting, estimate, name,
                                                  footer) -> None:
    view = make_view(priority=priority, waiting_ahead=waiting, wait_estimate_min=estimate, name=name,
                     footer=footer)
    lines = {line.role: line.text for line in layout(view)}
    expected = ["office", "unit", "service", "number", "time", "qr"]
    expected += ["priority"] * priority + ["waiting"] * (waiting is not None)
    expected += ["estimate"] * (estimate is not None) + ["name"] * (name is not None)
    expected += ["footer"] * bool(footer)
    assert list(lines) == [role for role in ROLE_ORDER if role in expected]
    assert lines["office"] == "UBND xã Liêm Chung" and lines["service"] == "Đất đai"
    assert lines["number"] == "1001" and lines["time"] == "06/05/2025 08:05"
    assert lines["qr"] == "4f0c2a9be1d84b7e9a3c5d6e7f801234"
    if priority:
        assert lines["priority"] == "ƯU TIÊN"
    if waiting is not None:
        assert lines["waiting"] == f"Số người chờ trước: {waiting}"
    if estimate is not None:
        assert lines["estimate"].startswith("Dự kiến chờ: ")
    if name:
        assert lines["name"] == "Họ tên: TRẦN THỊ BÌNH"


@pytest.mark.parametrize(("minutes", "phrase"), [(0, "dưới 1 phút"), (1, "khoảng 1 phút"),
                                                 (59, "khoảng 59 phút"), (60, "khoảng 1 giờ"),
                                                 (135, "khoảng 2 giờ 15 phút")])
def test_wait_phrases(minutes, phrase) -> None:
    assert wait_phrase(minutes) == phrase


def test_date_and_time_are_day_month_year() -> None:
    assert is_native("31/12/2025 23:59")
    assert not is_native("Đất đai") and not is_native("a\x1bb")


@pytest.mark.parametrize(("number", "paper", "scale"), [("1001", "80mm", 8), ("C001", "80mm", 8),
                                                        ("1001", "58mm", 6), ("A1001", "80mm", 8),
                                                        ("A1001", "58mm", 5), ("12", "58mm", 8)])
def test_the_number_is_as_large_as_the_paper_allows(number, paper, scale) -> None:
    assert number_scale(number, paper) == scale
    assert 12 * scale * (len(number) + 1) <= PAPER_DOTS[paper]


@pytest.mark.parametrize("paper", ["58mm", "80mm"])
def test_blocks_ascii_native_vietnamese_bitmap_qr_native(make_view, paper) -> None:
    view = make_view(paper=paper, priority=True, waiting_ahead=3, wait_estimate_min=12, name="LÊ VĂN AN")
    out = blocks(view)
    native = [b for b in out if isinstance(b, NativeText)]
    assert [(b.text, b.scale, b.bold) for b in native] == [("1001", number_scale("1001", paper), True),
                                                          ("06/05/2025 08:05", 1, False)]
    rasters = [b.image for b in out if isinstance(b, Raster)]
    assert len(rasters) == 8          # office unit service priority waiting estimate name footer
    for image in rasters:
        assert image.mode == "1" and image.width % 8 == 0 and image.width <= PAPER_DOTS[paper]
    assert [b for b in out if isinstance(b, QrCode)] == [QrCode(view.ticket_id, 6 if paper == "80mm" else 5)]
    assert all(b.dots > 0 for b in out if isinstance(b, Feed))


def test_ascii_text_stays_native_and_wraps_to_the_paper(make_view) -> None:
    view = make_view(paper="58mm",
                     footer="Thank you for waiting, please keep this ticket until you are served")
    footer = [b for b in blocks(view) if isinstance(b, NativeText)][2:]
    assert " ".join(b.text for b in footer) == view.footer
    assert len(footer) == 3 and all(len(b.text) <= 32 for b in footer)


def test_a_long_service_name_wraps_into_strips_that_fit(make_view) -> None:
    view = make_view(service_name="Lao động – Thương binh và Xã hội, Bảo trợ xã hội, Trẻ em, Bình đẳng giới",
                     paper="58mm")
    strips = [b.image for b in blocks(view) if isinstance(b, Raster)]
    assert len(strips) >= 5         # office, unit, at least three service lines, footer
    assert all(s.width <= PAPER_DOTS["58mm"] for s in strips)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậềểễếệỳỷỹýỵ", min_size=1,
                        max_size=30), min_size=1, max_size=12),
       st.integers(min_value=3, max_value=40))
def test_wrapping_keeps_every_letter_and_respects_the_width(words, room) -> None:
    lines = wrap(" ".join(words), lambda s: len(s) <= room)
    assert all(len(line) <= room for line in lines)
    assert "".join("".join(lines).split()) == "".join(words)


def test_an_80mm_ticket_of_the_example_office_stays_under_12_kb() -> None:
    """The bench target, held here as a byte count: the longest service name, every optional line."""
    from motcua.kiosk.ticket import TicketView

    config = load_config(EXAMPLE)
    service = max(config.services, key=lambda s: len(s.name))
    view = TicketView(config.site.name, config.site.unit, service.name, "1999", True, 120, 95,
                      "NGUYỄN THỊ THANH HƯƠNG", datetime(2025, 12, 31, 16, 59), "f" * 32,
                      config.kiosks[0].footer, "80mm")
    assert len(escpos_bytes(view)) <= 12 * 1024
