"""Numbers and ticket labels read the way Vietnamese speakers say them (pure).

    1012 -> "một nghìn không trăm mười hai"     (num2words says "một nghìn lẻ mười hai": wrong)
    1005 -> "một nghìn không trăm linh năm"
    21   -> "hai mươi mốt",  15 -> "mười lăm",  24 -> "hai mươi bốn" (or "hai mươi tư")

The regional variants are chosen in the config ([voice] thousand, zero_ten, four):
nghìn (North) / ngàn (South), linh / lẻ for a zero tens digit, bốn / tư for a final 4
after "mươi".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# How Vietnamese name the Latin letters when spelling (ticket prefixes such as "C007").
LETTERS = {
    "A": "a", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e", "F": "ép", "G": "giê",
    "H": "hát", "I": "i", "J": "gi", "K": "ca", "L": "e-lờ", "M": "em-mờ", "N": "en-nờ",
    "O": "o", "P": "pê", "Q": "quy", "R": "e-rờ", "S": "ét-xì", "T": "tê", "U": "u", "V": "vê",
    "W": "vê kép", "X": "ích-xì", "Y": "i dài", "Z": "dét",
}
MAX_NUMBER = 999_999_999


@dataclass(frozen=True)
class Variant:
    """Regional choices; the defaults are the northern, official forms."""

    thousand: str = "nghìn"   # or "ngàn"
    zero_ten: str = "linh"    # or "lẻ"
    four: str = "bốn"         # or "tư" (only for a final 4 after "mươi")


NORTH = Variant()
SOUTH = Variant(thousand="ngàn", zero_ten="lẻ", four="tư")


def _below_hundred(n: int, variant: Variant, *, after_hundreds: bool) -> list[str]:
    """0..99; ``after_hundreds`` when a hundreds digit (even "không trăm") was said before."""
    tens, units = divmod(n, 10)
    if tens == 0:
        if units == 0:
            return []
        return [variant.zero_ten, DIGITS[units]] if after_hundreds else [DIGITS[units]]
    words = ["mười"] if tens == 1 else [DIGITS[tens], "mươi"]
    if units == 1:
        words.append("một" if tens == 1 else "mốt")
    elif units == 5:
        words.append("lăm")
    elif units == 4 and tens > 1:
        words.append(variant.four)
    elif units:
        words.append(DIGITS[units])
    return words


def _below_thousand(n: int, variant: Variant, *, full: bool) -> list[str]:
    """0..999; ``full`` when a higher group was said, so "không trăm" is spoken."""
    hundreds, rest = divmod(n, 100)
    if hundreds == 0 and not full:
        return _below_hundred(rest, variant, after_hundreds=False)
    if rest == 0:
        return [DIGITS[hundreds], "trăm"]
    return [DIGITS[hundreds], "trăm", *_below_hundred(rest, variant, after_hundreds=True)]


def read_number(n: int, variant: Variant = NORTH) -> str:
    """A whole number 0..999,999,999 in words."""
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"{n} is outside 0..{MAX_NUMBER}")
    if n == 0:
        return DIGITS[0]
    millions, rest = divmod(n, 1_000_000)
    thousands, units = divmod(rest, 1000)
    words: list[str] = []
    if millions:
        words += [*_below_thousand(millions, variant, full=False), "triệu"]
    if thousands:
        words += [*_below_thousand(thousands, variant, full=bool(millions)), variant.thousand]
    elif millions and units:
        words += ["không", variant.thousand]
    if units:
        words += _below_thousand(units, variant, full=bool(millions or thousands))
    return " ".join(words)


def read_label(label: str, variant: Variant = NORTH, *, digit_by_digit: bool | None = None) -> str:
    """A ticket label read as printed: "1012" as a number, "C007" as the letter's name then
    each digit, "xê không không bảy" (the citizen holds a ticket that shows the zeros).

    ``digit_by_digit`` True reads every label digit by digit ("một không một hai"); False
    reads the digits after a prefix as a number ("xê bảy").
    """
    match = re.fullmatch(r"([A-ZĐ]*)(\d+)", label.strip().upper())
    if not match:
        return read_text(label, variant)
    letters, digits = match.groups()
    words = [LETTERS[letter] for letter in letters]
    if digit_by_digit or (digit_by_digit is None and letters):
        words += [DIGITS[int(d)] for d in digits]
    else:
        words.append(read_number(int(digits), variant) if len(digits) <= 9 else read_text(digits))
    return " ".join(words)


def read_text(text: str, variant: Variant = NORTH) -> str:
    """Text with every number in it written out ("Quầy số 3" -> "Quầy số ba")."""
    return re.sub(r"\d+", lambda m: read_number(int(m.group()), variant)
                  if len(m.group()) <= 9 else " ".join(DIGITS[int(d)] for d in m.group()), text)
