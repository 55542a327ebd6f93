"""Keys and scans from a keyboard stream; hold-off, no stacking, priority and names (pure)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from motcua.kiosk.presses import Accepted, KeyStream, Press, PressGate, Refused, Scan

KEYS = {"1": "dat-dai", "2": "tu-phap", "0": None}
SCAN = "035095001234||Nguyễn Văn An|07031995|Nam|Liêm Chung|15082021"


def test_each_key_is_one_press_once_the_burst_is_quiet() -> None:
    stream = KeyStream(KEYS, gap_s=0.05)
    assert stream.feed("1", 10.0) == []
    assert stream.flush(10.01) == []
    assert stream.flush(10.05) == [Press("dat-dai", 10.0, "keyboard")]
    assert stream.deadline() is None


def test_unknown_keys_are_ignored_and_priority_is_service_none() -> None:
    stream = KeyStream(KEYS)
    assert stream.feed("x0\n", 1.0) == [Press(None, 1.0, "keyboard")]


def test_a_scan_split_across_reads_is_one_scan_not_digit_presses() -> None:
    stream = KeyStream(KEYS, gap_s=0.05)
    assert stream.feed(SCAN[:5], 1.0) == []
    assert stream.feed(SCAN[5:], 1.01) == []
    events = stream.feed("\r\n", 1.02)
    assert events == [Scan(SCAN, 1.0)]


def test_a_scan_without_line_end_completes_after_the_gap() -> None:
    stream = KeyStream(KEYS, gap_s=0.05)
    stream.feed(SCAN, 1.0)
    assert stream.flush(1.1) == [Scan(SCAN, 1.0)]


def test_a_scan_never_shows_its_text_in_repr() -> None:
    assert "035095001234" not in repr(Scan(SCAN, 1.0))


@given(st.lists(st.sampled_from(list(KEYS)), min_size=1, max_size=30))
def test_a_line_of_keys_is_exactly_that_many_presses(keys: list[str]) -> None:
    events = KeyStream(KEYS).feed("".join(keys) + "\n", 5.0)
    assert [e.service for e in events] == [KEYS[k] for k in keys]


def gate(hold_off: float = 2.0) -> PressGate:
    return PressGate({"dat-dai": hold_off, "tu-phap": hold_off}, priority_window_s=10,
                     name_window_s=60)


def test_hold_off_per_button() -> None:
    g = gate()
    assert g.decide("dat-dai", 100.0) == Accepted("dat-dai", False)
    assert g.decide("dat-dai", 101.0) == Refused("dat-dai", "hold-off")
    assert g.decide("tu-phap", 101.0) == Accepted("tu-phap", False)
    assert isinstance(g.decide("dat-dai", 102.0), Accepted)


def test_presses_made_while_printing_do_not_stack() -> None:
    g = gate(hold_off=0)
    assert isinstance(g.decide("dat-dai", 100.0), Accepted)
    g.printing_ended(100.8)
    # Presses queued during the print are handled after it: all dropped.
    assert [g.decide("dat-dai", t) for t in (100.1, 100.4, 100.7)] == [Refused("dat-dai", "printing")] * 3
    assert isinstance(g.decide("dat-dai", 100.9), Accepted)


@given(st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=50))
def test_mashing_gives_at_most_one_ticket_per_hold_off(times: list[float]) -> None:
    g = gate(hold_off=2.0)
    accepted = [t for t in sorted(times) if isinstance(g.decide("dat-dai", t), Accepted)]
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(accepted))
    assert len(accepted) <= 100 / 2.0 + 1


def test_priority_then_service_within_the_window_once() -> None:
    g = gate(hold_off=0)
    g.priority_pressed(10.0)
    assert g.decide("tu-phap", 15.0) == Accepted("tu-phap", True)
    assert g.decide("tu-phap", 16.0) == Accepted("tu-phap", False)
    g.priority_pressed(20.0)
    assert g.decide("tu-phap", 31.0) == Accepted("tu-phap", False)


def test_a_scanned_name_goes_to_the_next_ticket_only() -> None:
    g = gate(hold_off=0)
    g.name_scanned("Nguyễn Văn An", 10.0)
    assert g.decide("dat-dai", 12.0).name == "Nguyễn Văn An"
    assert g.decide("dat-dai", 13.0).name is None
    g.name_scanned("Trần Bình", 20.0)
    assert g.decide("dat-dai", 90.0).name is None
