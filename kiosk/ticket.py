"""The ticket: what goes on it (pure), then ESC/POS bytes or a PNG of the paper (Pillow).

Three steps, each testable alone:

1. :func:`layout` decides which lines a ticket has, from a :class:`TicketView` (pure).
2. :func:`blocks` turns the lines into printable blocks for a paper width. ASCII
   text (the number, the date and time) stays text for the printer's own font, sized with
   ``GS !``; text with Vietnamese letters becomes a 1-bit bitmap strip drawn with Pillow,
   cropped to its ink so no blank bytes go on the wire; the QR code is the printer's own
   (``GS ( k``), so only the ticket id is sent, never its picture.
3. :func:`escpos_bytes` encodes the blocks for any ESC/POS printer; :func:`render_image`
   draws them as the paper would look (``png:DIR``, reviews, tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

from motcua.waits import wait_phrase

from .fonts import load_font

PAPER_DOTS = {"58mm": 384, "80mm": 576}   # printable width in dots (8 dots/mm)
FONT_A = (12, 24)                          # the printer's native character cell, in dots
MAX_SCALE = 8                              # GS ! magnifies 1..8 times
PRIORITY_MARK = "ƯU TIÊN"

ESC, GS, LF = b"\x1b", b"\x1d", b"\n"
INIT = ESC + b"@"
CENTER = ESC + b"a\x01"
CUT = ESC + b"d\x05" + GS + b"V\x00"       # feed past the cutter, full cut (as python-escpos cut())


@dataclass(frozen=True)
class TicketView:
    """Everything printed on one ticket; built by the kiosk daemon."""

    office: str
    unit: str
    service_name: str
    number: str
    priority: bool
    waiting_ahead: int | None
    wait_estimate_min: int | None
    name: str | None
    issued_at: datetime
    ticket_id: str
    footer: str
    paper: str                  # "58mm" | "80mm"
    link: str | None = None     # the ticket's web page ([web] url): the QR code holds it, not the id


@dataclass(frozen=True)
class Line:
    """One line of the layout: its role picks the style."""

    role: str                   # office unit service number priority waiting estimate name time qr footer
    text: str


def layout(view: TicketView) -> list[Line]:
    """The lines of the ticket, top to bottom; unknown waiting figures and a missing name are left out."""
    lines = [Line("office", view.office), Line("unit", view.unit), Line("service", view.service_name),
             Line("number", view.number)]
    if view.priority:
        lines.append(Line("priority", PRIORITY_MARK))
    if view.waiting_ahead is not None:
        lines.append(Line("waiting", f"Số người chờ trước: {view.waiting_ahead}"))
    if view.wait_estimate_min is not None:
        lines.append(Line("estimate", f"Dự kiến chờ: {wait_phrase(view.wait_estimate_min)}"))
    if view.name:
        lines.append(Line("name", f"Họ tên: {view.name}"))
    lines.append(Line("time", view.issued_at.strftime("%d/%m/%Y %H:%M")))
    lines.append(Line("qr", view.link or view.ticket_id))
    if view.footer:
        lines.append(Line("footer", view.footer))
    return [line for line in lines if line.text]


@dataclass(frozen=True)
class Style:
    size: int                   # font height in dots (bitmap text); native text uses size // 24 times font A
    bold: bool = False
    inverted: bool = False      # white on black
    gap: int = 8                # dots fed before the line


STYLES = {
    "80mm": {"office": Style(26, bold=True, gap=0), "unit": Style(22),
             "service": Style(30, bold=True, gap=16), "priority": Style(34, bold=True, inverted=True, gap=12),
             "waiting": Style(22, gap=14), "estimate": Style(22, gap=4), "name": Style(24, bold=True, gap=12),
             "time": Style(24, gap=12), "footer": Style(20, gap=10)},
    "58mm": {"office": Style(24, bold=True, gap=0), "unit": Style(20),
             "service": Style(28, bold=True, gap=12), "priority": Style(30, bold=True, inverted=True, gap=10),
             "waiting": Style(20, gap=10), "estimate": Style(20, gap=2), "name": Style(22, bold=True, gap=10),
             "time": Style(24, gap=10), "footer": Style(18, gap=8)},
}
QR_MODULE = {"80mm": 6, "58mm": 5}          # dots per QR module
NUMBER_GAP = 16
MARGIN = 8                                  # dots kept clear at each side of bitmap text
INVERTED_PAD = 12


# -- blocks ------------------------------------------------------------------------

@dataclass(frozen=True)
class Feed:
    dots: int


@dataclass(frozen=True)
class NativeText:
    """ASCII text in the printer's font A, magnified ``scale`` times both ways."""

    text: str
    scale: int = 1
    bold: bool = False


@dataclass(frozen=True)
class Raster:
    """A 1-bit strip ("1" mode, black = ink), its width a multiple of 8."""

    image: Image.Image


@dataclass(frozen=True)
class QrCode:
    data: str
    module: int


Block = Feed | NativeText | Raster | QrCode


def is_native(text: str) -> bool:
    """Text every ESC/POS printer prints right in its own font."""
    return text.isascii() and text.isprintable()


def number_scale(number: str, paper: str) -> int:
    """The largest magnification that leaves a character's width free beside the number."""
    return max(1, min(MAX_SCALE, PAPER_DOTS[paper] // (FONT_A[0] * (len(number) + 1))))


def blocks(view: TicketView) -> list[Block]:
    """The ticket as printable blocks for ``view.paper``."""
    if view.paper not in PAPER_DOTS:
        raise ValueError(f"paper must be one of {', '.join(PAPER_DOTS)}, not {view.paper!r}")
    width, styles = PAPER_DOTS[view.paper], STYLES[view.paper]
    out: list[Block] = []
    for line in layout(view):
        if line.role == "number":
            out += [Feed(NUMBER_GAP), NativeText(line.text, number_scale(line.text, view.paper), bold=True)]
        elif line.role == "qr":
            out += [Feed(12), QrCode(line.text, QR_MODULE[view.paper])]
        else:
            style = styles[line.role]
            if style.gap:
                out.append(Feed(style.gap))
            out += text_blocks(line.text, style, width)
    return out


def text_blocks(text: str, style: Style, width: int) -> list[Block]:
    """A line of text, wrapped to the paper: native when ASCII, bitmap strips otherwise."""
    if is_native(text) and not style.inverted:
        scale = max(1, style.size // FONT_A[1])
        per_line = width // (FONT_A[0] * scale)
        return [NativeText(part, scale, style.bold) for part in wrap(text, lambda s: len(s) <= per_line)]
    font = load_font(style.size, style.bold)
    room = width - 2 * MARGIN - (2 * INVERTED_PAD if style.inverted else 0)
    return [Raster(text_strip(part, style)) for part in wrap(text, lambda s: font.getlength(s) <= room)]


def wrap(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedy word wrap; a word too long for a line is split between characters."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:
            if current and not fits(current + char):
                lines.append(current)
                current = ""
            current += char
    if current:
        lines.append(current)
    return lines


@cache
def _line_box(size: int, bold: bool) -> tuple[int, int]:
    """(top, height) around the baseline that holds every Vietnamese letter, stacked marks included."""
    _, top, _, bottom = load_font(size, bold).getbbox("ẤẦẪỖỮỸỆgjpqyỵ", anchor="ls")
    # FreeType measures whole pixels; Pillow types every font's box as float.
    return int(top), int(bottom - top)


def text_strip(text: str, style: Style) -> Image.Image:
    """``text`` drawn black on white ("1" mode), cropped to its ink and padded to whole bytes."""
    font = load_font(style.size, style.bold)
    top, height = _line_box(style.size, style.bold)
    canvas = Image.new("L", (int(font.getlength(text)) + 2 * style.size, height), 255)
    ImageDraw.Draw(canvas).text((style.size, -top), text, font=font, fill=0, anchor="ls")
    ink = ImageOps.invert(canvas).getbbox()
    left, right = (ink[0], ink[2]) if ink else (0, 1)
    if style.inverted:
        left, right = left - INVERTED_PAD, right + INVERTED_PAD
    strip = canvas.crop((left, 0, right, height))
    if style.inverted:
        strip = ImageOps.invert(strip)
    padded = Image.new("L", ((strip.width + 7) // 8 * 8, height), 0 if style.inverted else 255)
    padded.paste(strip, ((padded.width - strip.width) // 2, 0))
    return padded.point(lambda v: 255 if v >= 128 else 0).convert("1")


# -- ESC/POS -----------------------------------------------------------------------

def escpos_bytes(view: TicketView) -> bytes:
    """The whole ticket as ESC/POS: reset, centred blocks, feed and cut."""
    out = bytearray(INIT + CENTER)
    for block in blocks(view):
        out += encode_block(block)
    out += CUT
    return bytes(out)


def encode_block(block: Block) -> bytes:
    if isinstance(block, Feed):
        return ESC + b"J" + bytes([min(block.dots, 255)])
    if isinstance(block, NativeText):
        size = (block.scale - 1) << 4 | (block.scale - 1)
        return (GS + b"!" + bytes([size]) + ESC + b"E" + bytes([block.bold]) + block.text.encode("ascii")
                + LF + GS + b"!\x00" + ESC + b"E\x00")
    if isinstance(block, Raster):
        return raster_command(block.image)
    return qr_command(block.data, block.module)


def raster_command(image: Image.Image) -> bytes:
    """``GS v 0``: a raster bit image, 1 = a black dot, the leftmost dot in the high bit."""
    bits = ImageOps.invert(image.convert("L")).convert("1").tobytes()
    row_bytes = image.width // 8
    return GS + b"v0\x00" + row_bytes.to_bytes(2, "little") + image.height.to_bytes(2, "little") + bits


def qr_command(data: str, module: int) -> bytes:
    """The printer's own QR code (``GS ( k``): model 2, ``module`` dots per module, level L; as
    python-escpos ``qr(data, size=module, native=True)`` sends it."""
    def function(fn: bytes, params: bytes) -> bytes:
        return GS + b"(k" + (len(params) + 2).to_bytes(2, "little") + b"1" + fn + params

    return (function(b"A", b"2\x00") + function(b"C", bytes([module])) + function(b"E", b"0")
            + function(b"P", b"0" + data.encode()) + function(b"Q", b"0"))


def slip_blocks(lines: list[str], paper: str) -> list[Block]:
    """A plain slip of text lines (the end-of-day summary); an empty line is a gap."""
    style = Style(20, gap=2)
    out: list[Block] = []
    for text in lines:
        out.append(Feed(style.gap if text.strip() else 16))
        if text.strip():
            out += text_blocks(text, style, PAPER_DOTS[paper])
    return out


def slip_bytes(lines: list[str], paper: str) -> bytes:
    """The slip as ESC/POS, left-aligned, then feed and cut."""
    out = bytearray(INIT + ESC + b"a\x00")
    for block in slip_blocks(lines, paper):
        out += encode_block(block)
    out += CUT
    return bytes(out)


# -- the paper as an image -----------------------------------------------------------

def render_image(view: TicketView) -> Image.Image:
    """What the printed ticket looks like ("1" mode, one pixel per dot)."""
    return render_blocks(blocks(view), PAPER_DOTS[view.paper])


def render_blocks(printable: list[Block], width: int) -> Image.Image:
    """Blocks drawn as the paper would show them, each centred."""
    pieces: list[Image.Image] = [Image.new("L", (width, 16), 255)]
    for block in printable:
        if isinstance(block, Feed):
            pieces.append(Image.new("L", (width, block.dots), 255))
        else:
            picture = block_image(block)
            row = Image.new("L", (width, picture.height), 255)
            row.paste(picture, ((width - picture.width) // 2, 0))
            pieces.append(row)
    pieces.append(Image.new("L", (width, 48), 255))
    paper = Image.new("L", (width, sum(p.height for p in pieces)), 255)
    y = 0
    for piece in pieces:
        paper.paste(piece, (0, y))
        y += piece.height
    return paper.point(lambda v: 255 if v >= 128 else 0).convert("1")


def block_image(block: NativeText | Raster | QrCode) -> Image.Image:
    if isinstance(block, Raster):
        return block.image.convert("L")
    if isinstance(block, QrCode):
        import qrcode

        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, box_size=block.module,
                             border=0)
        code.add_data(block.data)
        code.make(fit=True)
        return code.make_image().get_image().convert("L")
    return native_text_image(block)


def native_text_image(block: NativeText) -> Image.Image:
    """Font A as the printer draws it: 12 x 24 cells, magnified by whole dots."""
    cell_w, cell_h = FONT_A
    font = _mono_font(block.bold)
    line = Image.new("L", (cell_w * len(block.text), cell_h), 255)
    draw = ImageDraw.Draw(line)
    for i, char in enumerate(block.text):
        draw.text((i * cell_w + cell_w // 2, cell_h - 4), char, font=font, fill=0, anchor="ms")
    return line.resize((line.width * block.scale, cell_h * block.scale), Image.Resampling.NEAREST)


@cache
def _mono_font(bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    try:
        return ImageFont.truetype(f"/usr/share/fonts/truetype/dejavu/{name}", 20)
    except OSError:
        return ImageFont.load_default(20)

