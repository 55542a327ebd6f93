"""A small ESC/POS decoder for tests: the commands a ticket uses, back into items and a paper image.

Written from the ESC/POS command reference, independent of motcua.kiosk.ticket, so the
tests check what a printer would do with the bytes, not what the encoder meant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image, ImageDraw


@dataclass
class Text:
    text: str
    width: int          # GS ! magnification
    height: int
    bold: bool
    align: int


@dataclass
class Raster:
    image: Image.Image  # "L", 0 = ink
    align: int


@dataclass
class Qr:
    data: bytes
    module: int = 3
    model: int = 2
    level: str = "L"
    printed: bool = False


@dataclass
class Decoded:
    items: list = field(default_factory=list)     # Text | Raster | Qr | ("feed", dots) | ("cut",)
    status_requests: list[int] = field(default_factory=list)
    initialised: int = 0

    def of(self, kind: type) -> list:
        return [item for item in self.items if isinstance(item, kind)]

    @property
    def cuts(self) -> int:
        return sum(1 for item in self.items if item == ("cut",))


def decode(data: bytes) -> Decoded:
    """Decode a byte stream; an unknown command is an error (the encoder sent something unexpected)."""
    out = Decoded()
    i, align, size, bold, text = 0, 0, 0, False, bytearray()
    qr = Qr(b"")

    def flush_text() -> None:
        if text:
            out.items.append(Text(text.decode("ascii"), (size >> 4) + 1, (size & 0x0F) + 1, bold, align))
            text.clear()

    while i < len(data):
        b = data[i]
        if data.startswith(b"\x10\x04", i):
            out.status_requests.append(data[i + 2])
            i += 3
        elif b == 0x0A:
            flush_text()
            i += 1
        elif data.startswith(b"\x1b@", i):
            out.initialised += 1
            align, size, bold = 0, 0, False
            i += 2
        elif data.startswith(b"\x1ba", i):
            flush_text()
            align = data[i + 2] % 48
            i += 3
        elif data.startswith(b"\x1bE", i):
            flush_text()
            bold = bool(data[i + 2] & 1)
            i += 3
        elif data.startswith(b"\x1bJ", i):
            flush_text()
            out.items.append(("feed", data[i + 2]))
            i += 3
        elif data.startswith(b"\x1bd", i):
            flush_text()
            out.items.append(("feed", data[i + 2] * 30))
            i += 3
        elif data.startswith(b"\x1d!", i):
            flush_text()
            size = data[i + 2]
            i += 3
        elif data.startswith(b"\x1dV", i):
            flush_text()
            out.items.append(("cut",))
            i += 3 if data[i + 2] in (0, 1, 48, 49) else 4
        elif data.startswith(b"\x1dv0", i):
            flush_text()
            x = int.from_bytes(data[i + 4:i + 6], "little")
            y = int.from_bytes(data[i + 6:i + 8], "little")
            bits = data[i + 8:i + 8 + x * y]
            assert len(bits) == x * y, "raster data cut short"
            image = Image.frombytes("1", (x * 8, y), bits)   # 1 bits = dots = white in PIL "1"
            out.items.append(Raster(image.convert("L").point(lambda v: 255 - v), align))
            i += 8 + x * y
        elif data.startswith(b"\x1d(k", i):
            flush_text()
            length = int.from_bytes(data[i + 3:i + 5], "little")
            body = data[i + 5:i + 5 + length]
            assert body[0:1] == b"1", "only QR codes (cn = 49)"
            fn, params = body[1:2], body[2:]
            if fn == b"A":
                qr.model = params[0] - 48
            elif fn == b"C":
                qr.module = params[0]
            elif fn == b"E":
                qr.level = "LMQH"[params[0] - 48]
            elif fn == b"P":
                qr.data = params[1:]
            elif fn == b"Q":
                qr.printed = True
                out.items.append(qr)
                qr = Qr(b"", qr.module, qr.model, qr.level)
            i += 5 + length
        elif 0x20 <= b < 0x7F:
            text.append(b)
            i += 1
        else:
            raise AssertionError(f"unexpected byte {b:#04x} at {i}: {data[i:i + 8]!r}")
    flush_text()
    return out


def paper_image(decoded: Decoded, width: int) -> Image.Image:
    """The items laid out as a printer would: text as filled 12x24 cells (ink where letters are)."""
    rows: list[Image.Image] = []
    for item in decoded.items:
        if isinstance(item, Raster):
            picture = item.image
        elif isinstance(item, Text):
            picture = Image.new("L", (12 * item.width * len(item.text), 24 * item.height), 255)
            draw = ImageDraw.Draw(picture)
            for n, char in enumerate(item.text):
                if not char.isspace():
                    left = n * 12 * item.width
                    draw.rectangle((left + item.width, item.height * 4, left + 11 * item.width,
                                    item.height * 20), fill=0)
        elif isinstance(item, Qr):
            side = 25 * item.module          # a placeholder square the size of a version 2 code
            picture = Image.new("L", (side, side), 0)
        elif item[0] == "feed":
            picture = Image.new("L", (width, item[1]), 255)
        else:
            continue
        row = Image.new("L", (width, picture.height), 255)
        align = getattr(item, "align", 1)
        x = {0: 0, 1: (width - picture.width) // 2, 2: width - picture.width}[align]
        row.paste(picture, (x, 0))
        rows.append(row)
    paper = Image.new("L", (width, sum(r.height for r in rows) or 1), 255)
    y = 0
    for row in rows:
        paper.paste(row, (0, y))
        y += row.height
    return paper
