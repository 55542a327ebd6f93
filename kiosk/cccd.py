"""The QR code of a Vietnamese citizen ID card (CCCD): only the full name leaves this module.

The code reads ``ID (12 digits)|old ID (9 digits or empty)|full name|birth date
DDMMYYYY|sex|address|issue date DDMMYYYY``, sometimes followed by empty fields.
A USB scanner types it like a keyboard, adding a trailing Enter, stray NUL bytes,
sometimes the whole string twice, and, set to the wrong code page, UTF-8 read as
Latin-1 or cp1252. Errors never carry the scanned text: the ID number, birth
date and address must not reach a log line.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from motcua.errors import MotcuaError

MAX_NAME = 100


class ScanError(MotcuaError):
    """The scan is not a CCCD code; the message says why, never what was scanned."""


def looks_like_scan(text: str) -> bool:
    """Keyboard input that is a scanned code rather than button keys."""
    return "|" in text


def name_from_scan(raw: str) -> str:
    """The citizen's full name from a scanned CCCD code; ScanError otherwise."""
    reason = "the scan is empty"
    for candidate in _candidates(raw):
        try:
            return _name_from_fields(candidate)
        except ScanError as exc:
            reason = str(exc)
    raise ScanError(reason)


def _candidates(raw: str) -> list[str]:
    """Cleaned readings of the raw text, most likely first."""
    text = raw.replace("\0", "")
    lines = [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()]
    found: list[str] = []
    for line in lines:
        for variant in (line, _undo_mojibake(line)):
            if variant and variant not in found:
                found.append(variant)
                half = _half_if_doubled(variant)
                if half:
                    found.append(half)
    return found


def _half_if_doubled(text: str) -> str | None:
    """``text`` typed twice in a row -> one copy."""
    size = len(text)
    if size % 2 == 0 and text[: size // 2] == text[size // 2:]:
        return text[: size // 2]
    return None


def _undo_mojibake(text: str) -> str | None:
    """UTF-8 that was read as a one-byte code page, put back; None when it was not that."""
    for codec in ("cp1252", "latin-1"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if fixed != text:
            return fixed
    return None


def _name_from_fields(text: str) -> str:
    fields = text.split("|")
    while len(fields) > 7 and not fields[-1].strip():
        fields.pop()
    if len(fields) != 7:
        # A doubled code typed without a line break has 13 fields: ID glued to the last date.
        raise ScanError(f"the scan has {len(fields)} fields, a CCCD code has 7")
    card_id, old_id, name, born, sex, _address, issued = (field.strip() for field in fields)
    if not re.fullmatch(r"\d{12}", card_id):
        raise ScanError("field 1 is not a 12-digit ID number")
    if old_id and not re.fullmatch(r"\d{9}", old_id):
        raise ScanError("field 2 is not empty nor a 9-digit old ID number")
    if not _is_date(born):
        raise ScanError("field 4 is not a birth date DDMMYYYY")
    if not _is_date(issued):
        raise ScanError("field 7 is not an issue date DDMMYYYY")
    if sex.lower() not in ("nam", "nữ", "nu"):
        raise ScanError("field 5 is not Nam or Nữ")
    return _clean_name(name)


def _is_date(text: str) -> bool:
    if not re.fullmatch(r"\d{8}", text):
        return False
    try:
        date(int(text[4:]), int(text[2:4]), int(text[:2]))
    except ValueError:
        return False
    return True


def _clean_name(text: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if not name or len(name) > MAX_NAME:
        raise ScanError("field 3 (the name) is empty or too long")
    if not all(ch.isalpha() or ch in " '-." for ch in name):
        raise ScanError("field 3 (the name) has characters no name has")
    return name
