"""The ticket's ESC/POS bytes decoded back (escpos_decoder) and checked as a printer would see them."""

from __future__ import annotations

import unicodedata

import pytest
from escpos_decoder import Qr, Raster, Text, decode, paper_image
from motcua.kiosk.ticket import PAPER_DOTS, STYLES, escpos_bytes, qr_command
from PIL import Image, ImageDraw, ImageFont, ImageOps

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans{}.ttf"


def ink(image: Image.Image) -> Image.Image:
    """The image cropped to its ink ("L", 0 = ink)."""
    box = ImageOps.invert(image.convert("L")).getbbox()
    assert box, "no ink at all"
    return image.convert("L").crop(box)


def pillow_text(text: str, size: int, bold: bool) -> Image.Image:
    """``text`` drawn straight with Pillow and thresholded, cropped to its ink."""
    font = ImageFont.truetype(DEJAVU.format("-Bold" if bold else ""), size)
    canvas = Image.new("L", (int(font.getlength(text)) + 4 * size, 4 * size), 255)
    ImageDraw.Draw(canvas).text((size, 2 * size), text, font=font, fill=0, anchor="ls")
    return ink(canvas.point(lambda v: 255 if v >= 128 else 0))


def strip_marks(text: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return base.replace("đ", "d").replace("Đ", "D")


@pytest.mark.parametrize("paper", ["58mm", "80mm"])
def test_the_bytes_decode_to_the_whole_ticket(make_view, paper) -> None:
    view = make_view(paper=paper, priority=True, waiting_ahead=4, wait_estimate_min=18, name="PHẠM THỊ HỒNG")
    decoded = decode(escpos_bytes(view))
    assert decoded.initialised == 1 and decoded.cuts == 1 and decoded.items[-1] == ("cut",)
    texts = decoded.of(Text)
    number = next(t for t in texts if t.text == "1001")
    scale = 8 if paper == "80mm" else 6
    assert (number.width, number.height, number.bold, number.align) == (scale, scale, True, 1)
    assert any(t.text == "06/05/2025 08:05" and t.width == 1 for t in texts)
    assert [t.text for t in texts] == ["1001", "06/05/2025 08:05"]      # nothing else in the printer's font
    rasters = decoded.of(Raster)
    assert len(rasters) == 8 and all(r.align == 1 for r in rasters)
    assert all(r.image.width <= PAPER_DOTS[paper] for r in rasters)
    assert all(ImageOps.invert(r.image).getbbox() for r in rasters), "every strip has ink"
    [qr] = decoded.of(Qr)
    assert qr.data == view.ticket_id.encode() and qr.printed and qr.model == 2 and qr.level == "L"
    paper_picture = paper_image(decoded, PAPER_DOTS[paper])
    assert paper_picture.width == PAPER_DOTS[paper] and paper_picture.height > 500


def test_the_strips_carry_the_vietnamese_letters_pixel_for_pixel(make_view) -> None:
    view = make_view(priority=False, name="ĐỖ THỊ NGỌC ÁNH")
    rasters = decode(escpos_bytes(view)).of(Raster)
    styles = STYLES["80mm"]
    expected = [(view.office, styles["office"]), (view.unit, styles["unit"]),
                (view.service_name, styles["service"]), ("Họ tên: ĐỖ THỊ NGỌC ÁNH", styles["name"]),
                (view.footer, styles["footer"])]
    assert len(rasters) == len(expected)
    for raster, (text, style) in zip(rasters, expected, strict=True):
        got = ink(raster.image)
        want = pillow_text(text, style.size, style.bold)
        assert (got.size, got.tobytes()) == (want.size, want.tobytes()), text
        plain = pillow_text(strip_marks(text), style.size, style.bold)
        assert got.size != plain.size or got.tobytes() != plain.tobytes(), \
            f"{text!r} looks the same without its marks"


def test_the_priority_mark_is_white_on_black(make_view) -> None:
    rasters = decode(escpos_bytes(make_view(priority=True))).of(Raster)
    mark = rasters[3].image                # office, unit, service, then the mark
    black = mark.convert("L").histogram()[0] / (mark.width * mark.height)
    assert black > 0.6
    assert ink(ImageOps.invert(mark)).size == pillow_text("ƯU TIÊN", STYLES["80mm"]["priority"].size,
                                                          True).size


def test_native_qr_matches_python_escpos() -> None:
    from escpos.printer import Dummy

    reference = Dummy()
    reference.qr("4f0c2a9be1d84b7e9a3c5d6e7f801234", size=6, native=True)
    assert qr_command("4f0c2a9be1d84b7e9a3c5d6e7f801234", 6) == reference.output


def test_only_ascii_goes_out_as_text(make_view) -> None:
    view = make_view(service_name="Tư pháp – Hộ tịch", footer="Hẹn gặp lại")
    data = escpos_bytes(view)
    assert "Tư pháp".encode() not in data and "Hẹn".encode() not in data
    assert all(t.text.isascii() for t in decode(data).of(Text))
