"""Numbers read as Vietnamese speakers say them; the table is written by hand, not generated."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from motcua.caller.vietnamese import NORTH, SOUTH, read_label, read_number, read_text

# number, northern reading, southern reading (None: the same words)
TABLE = [
    (0, "không", None),
    (1, "một", None),
    (4, "bốn", None),
    (5, "năm", None),
    (10, "mười", None),
    (11, "mười một", None),
    (14, "mười bốn", None),
    (15, "mười lăm", None),
    (19, "mười chín", None),
    (20, "hai mươi", None),
    (21, "hai mươi mốt", None),
    (24, "hai mươi bốn", "hai mươi tư"),
    (25, "hai mươi lăm", None),
    (30, "ba mươi", None),
    (31, "ba mươi mốt", None),
    (44, "bốn mươi bốn", "bốn mươi tư"),
    (45, "bốn mươi lăm", None),
    (55, "năm mươi lăm", None),
    (70, "bảy mươi", None),
    (91, "chín mươi mốt", None),
    (99, "chín mươi chín", None),
    (100, "một trăm", None),
    (101, "một trăm linh một", "một trăm lẻ một"),
    (104, "một trăm linh bốn", "một trăm lẻ bốn"),
    (105, "một trăm linh năm", "một trăm lẻ năm"),
    (110, "một trăm mười", None),
    (111, "một trăm mười một", None),
    (115, "một trăm mười lăm", None),
    (121, "một trăm hai mươi mốt", None),
    (124, "một trăm hai mươi bốn", "một trăm hai mươi tư"),
    (200, "hai trăm", None),
    (205, "hai trăm linh năm", "hai trăm lẻ năm"),
    (250, "hai trăm năm mươi", None),
    (255, "hai trăm năm mươi lăm", None),
    (999, "chín trăm chín mươi chín", None),
    (1000, "một nghìn", "một ngàn"),
    (1001, "một nghìn không trăm linh một", "một ngàn không trăm lẻ một"),
    (1005, "một nghìn không trăm linh năm", "một ngàn không trăm lẻ năm"),
    (1010, "một nghìn không trăm mười", "một ngàn không trăm mười"),
    (1012, "một nghìn không trăm mười hai", "một ngàn không trăm mười hai"),
    (1015, "một nghìn không trăm mười lăm", "một ngàn không trăm mười lăm"),
    (1021, "một nghìn không trăm hai mươi mốt", "một ngàn không trăm hai mươi mốt"),
    (1024, "một nghìn không trăm hai mươi bốn", "một ngàn không trăm hai mươi tư"),
    (1100, "một nghìn một trăm", "một ngàn một trăm"),
    (1101, "một nghìn một trăm linh một", "một ngàn một trăm lẻ một"),
    (1234, "một nghìn hai trăm ba mươi bốn", "một ngàn hai trăm ba mươi tư"),
    (1500, "một nghìn năm trăm", "một ngàn năm trăm"),
    (1999, "một nghìn chín trăm chín mươi chín", "một ngàn chín trăm chín mươi chín"),
    (2001, "hai nghìn không trăm linh một", "hai ngàn không trăm lẻ một"),
    (2020, "hai nghìn không trăm hai mươi", "hai ngàn không trăm hai mươi"),
    (2026, "hai nghìn không trăm hai mươi sáu", "hai ngàn không trăm hai mươi sáu"),
    (3000, "ba nghìn", "ba ngàn"),
    (3005, "ba nghìn không trăm linh năm", "ba ngàn không trăm lẻ năm"),
    (3015, "ba nghìn không trăm mười lăm", "ba ngàn không trăm mười lăm"),
    (3999, "ba nghìn chín trăm chín mươi chín", "ba ngàn chín trăm chín mươi chín"),
    (5555, "năm nghìn năm trăm năm mươi lăm", "năm ngàn năm trăm năm mươi lăm"),
    (10000, "mười nghìn", "mười ngàn"),
    (10001, "mười nghìn không trăm linh một", "mười ngàn không trăm lẻ một"),
    (11000, "mười một nghìn", "mười một ngàn"),
    (15000, "mười lăm nghìn", "mười lăm ngàn"),
    (20000, "hai mươi nghìn", "hai mươi ngàn"),
    (21000, "hai mươi mốt nghìn", "hai mươi mốt ngàn"),
    (24000, "hai mươi bốn nghìn", "hai mươi tư ngàn"),
    (25005, "hai mươi lăm nghìn không trăm linh năm", "hai mươi lăm ngàn không trăm lẻ năm"),
    (99999, "chín mươi chín nghìn chín trăm chín mươi chín",
     "chín mươi chín ngàn chín trăm chín mươi chín"),
    (100000, "một trăm nghìn", "một trăm ngàn"),
    (105000, "một trăm linh năm nghìn", "một trăm lẻ năm ngàn"),
    (1000000, "một triệu", None),
]


@pytest.mark.parametrize(("number", "north", "south"), TABLE, ids=[str(t[0]) for t in TABLE])
def test_table_in_both_variants(number: int, north: str, south: str | None) -> None:
    assert read_number(number, NORTH) == north
    assert read_number(number, SOUTH) == (south or north)


def test_table_is_large_enough() -> None:
    assert len(TABLE) >= 60


@pytest.mark.parametrize(("label", "spoken"), [
    ("1012", "một nghìn không trăm mười hai"),
    ("C007", "xê không không bảy"),
    ("A015", "a không một năm"),
    ("B120", "bê một hai không"),
])
def test_labels_are_read_as_printed(label: str, spoken: str) -> None:
    assert read_label(label) == spoken


def test_labels_with_the_prefix_number_read_as_a_number() -> None:
    assert read_label("C007", digit_by_digit=False) == "xê bảy"
    assert read_label("A015", digit_by_digit=False) == "a mười lăm"


def test_labels_digit_by_digit() -> None:
    assert read_label("C007", digit_by_digit=True) == "xê không không bảy"
    assert read_label("đ12", digit_by_digit=True) == "đê một hai"
    assert read_label("1012", SOUTH, digit_by_digit=True) == "một không một hai"


def test_numbers_inside_text() -> None:
    assert read_text("Quầy số 3") == "Quầy số ba"
    assert read_text("Quầy 12 và 21") == "Quầy mười hai và hai mươi mốt"


WORDS = {"không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín", "mười",
         "mươi", "mốt", "lăm", "trăm", "nghìn", "linh", "triệu"}


@given(st.integers(min_value=0, max_value=999_999))
def test_only_known_words_and_the_rules(n: int) -> None:
    text = read_number(n)
    assert set(text.split()) <= WORDS
    assert "  " not in text and text == text.strip()
    assert "mươi một" not in text            # 21, 31, ... say "mốt"
    assert "mười mốt" not in text            # 11 is "mười một"
    assert "mươi năm" not in text and "mười năm" not in text   # 25, 15 say "lăm"
    assert not re.search(r"linh (mười|mươi|lăm|mốt)", text)
    if n % 1000 and n >= 1000:
        assert "trăm" in text.split(DIGIT_THOUSAND)[-1]   # "không trăm" is said


DIGIT_THOUSAND = "nghìn"


@given(st.integers(min_value=0, max_value=999_999))
def test_variants_differ_only_in_their_words(n: int) -> None:
    north, south = read_number(n, NORTH).split(), read_number(n, SOUTH).split()
    assert len(north) == len(south)
    for a, b in zip(north, south, strict=True):
        assert a == b or (a, b) in {("nghìn", "ngàn"), ("linh", "lẻ"), ("bốn", "tư")}


def test_out_of_range() -> None:
    with pytest.raises(ValueError):
        read_number(-1)
