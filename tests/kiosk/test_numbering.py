"""Ticket numbers: ranges, labels, wrap or stop (pure)."""

from __future__ import annotations

import pytest
from motcua.kiosk.numbering import NumberRange, RangeExhausted


def test_labels_pad_with_a_prefix_and_stay_plain_without() -> None:
    assert NumberRange("chung-thuc", 1, 999, "C", width=3).label(1) == "C001"
    assert NumberRange("chung-thuc", 1, 999, "C", width=3).label(42) == "C042"
    assert NumberRange("dat-dai", 1001, 1999, width=4).label(1012) == "1012"


def test_numbers_run_through_the_range_then_wrap_or_stop() -> None:
    wrap = NumberRange("a", 1001, 1003, on_exhausted="wrap")
    assert [wrap.next_after(p) for p in (None, 1001, 1002, 1003)] == [1001, 1002, 1003, 1001]
    stop = NumberRange("a", 1001, 1003, on_exhausted="stop")
    assert stop.next_after(1002) == 1003
    with pytest.raises(RangeExhausted, match=r"1001\.\.1003"):
        stop.next_after(1003)


def test_a_previous_number_outside_this_kiosks_part_starts_at_its_first() -> None:
    assert NumberRange("a", 1500, 1999).next_after(1200) == 1500
