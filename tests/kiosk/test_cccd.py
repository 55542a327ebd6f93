"""CCCD QR parsing with real scanner noise; nothing but the name comes out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from motcua.kiosk.cccd import ScanError, looks_like_scan, name_from_scan

CARD_ID, OLD_ID, BORN, ADDRESS, ISSUED = "035095001234", "168456789", "07031995", \
    "Thôn Đồng Lạc, Liêm Chung, Phủ Lý, Hà Nam", "15082021"
NAME = "Nguyễn Thị Thu Hà"
CODE = f"{CARD_ID}|{OLD_ID}|{NAME}|{BORN}|Nữ|{ADDRESS}|{ISSUED}"
SECRETS = (CARD_ID, OLD_ID, BORN, ADDRESS, ISSUED)


@pytest.mark.parametrize("raw", [
    CODE,
    CODE + "\r\n",
    CODE + "\n",
    "\0" + CODE.replace("|", "|\0", 2) + "\0\r",
    CODE + CODE,                            # typed twice without a break
    CODE + "\r\n" + CODE + "\r\n",          # typed twice, one per line
    CODE + "||",                            # extra empty fields
    CODE + "|||\r\n",
    CODE.replace(f"|{OLD_ID}|", "||"),      # no old ID
    CODE.encode("utf-8").decode("latin-1"),  # scanner set to a one-byte code page
    f"{CARD_ID}|{OLD_ID}|  Nguyễn   Thị Thu  Hà |{BORN}|Nữ|{ADDRESS}|{ISSUED}",
])
def test_scanner_noise_still_gives_the_name(raw: str) -> None:
    assert name_from_scan(raw) == NAME


def test_cp1252_mojibake_is_undone() -> None:
    code = f"{CARD_ID}||Nguyễn Văn An|{BORN}|Nam|Liem Chung, Ha Nam|{ISSUED}"
    assert name_from_scan(code.encode("utf-8").decode("cp1252")) == "Nguyễn Văn An"


@pytest.mark.parametrize("raw", [
    "",
    "\r\n",
    "hello world",
    "https://dichvucong.gov.vn/|x",
    CODE.replace(CARD_ID, "12345"),
    CODE.replace(BORN, "31021995"),
    CODE.replace("|Nữ|", "|X|"),
    CODE.replace(NAME, "Nguyễn 123"),
    CODE.replace(NAME, ""),
    "|".join(CODE.split("|")[:5]),
])
def test_what_is_not_a_cccd_code_is_refused_without_its_content(raw: str) -> None:
    with pytest.raises(ScanError) as caught:
        name_from_scan(raw)
    for secret in SECRETS:
        assert secret not in str(caught.value)


def test_a_line_with_a_bar_is_a_scan() -> None:
    assert looks_like_scan(CODE) and not looks_like_scan("1")


@given(st.text(max_size=300))
def test_any_text_either_gives_a_clean_name_or_a_scan_error(raw: str) -> None:
    try:
        name = name_from_scan(raw)
    except ScanError:
        return
    assert "|" not in name and name == name.strip() and len(name) <= 100


@given(st.lists(st.sampled_from(["\0", "\r", "\n", "\r\n", ""]), min_size=1, max_size=6))
def test_noise_bytes_anywhere_between_fields(noise: list[str]) -> None:
    fields = CODE.split("|")
    raw = "|".join(field + noise[i % len(noise)].replace("\r", "").replace("\n", "")
                   for i, field in enumerate(fields)) + "".join(noise)
    assert name_from_scan(raw) == NAME
