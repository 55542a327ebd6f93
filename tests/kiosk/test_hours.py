"""Opening hours and days off (pure) and how the config spells them."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from motcua.kiosk.hours import OpeningHours, day_spans, parse_days, parse_span

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def hours() -> OpeningHours:
    weekly = {**day_spans("mon-fri", ["07:00-11:30", "13:30-17:00"]), **day_spans("sat", ["07:30-11:00"])}
    return OpeningHours(weekly, frozenset({date(2025, 9, 2)}))


@pytest.mark.parametrize("when, is_open", [
    (datetime(2025, 6, 10, 7, 0, tzinfo=TZ), True),      # Tuesday
    (datetime(2025, 6, 10, 6, 59, tzinfo=TZ), False),
    (datetime(2025, 6, 10, 11, 30, tzinfo=TZ), False),   # lunch
    (datetime(2025, 6, 10, 13, 30, tzinfo=TZ), True),
    (datetime(2025, 6, 14, 10, 0, tzinfo=TZ), True),     # Saturday morning
    (datetime(2025, 6, 14, 14, 0, tzinfo=TZ), False),
    (datetime(2025, 6, 15, 9, 0, tzinfo=TZ), False),     # Sunday
    (datetime(2025, 9, 2, 9, 0, tzinfo=TZ), False),      # National Day (a Tuesday)
])
def test_open_only_within_hours_and_not_on_days_off(when: datetime, is_open: bool) -> None:
    assert hours().is_open(when) is is_open


def test_no_hours_means_always_open_but_days_off_still_count() -> None:
    always = OpeningHours(None, frozenset({date(2025, 1, 1)}))
    assert always.is_open(datetime(2025, 6, 15, 3, 0, tzinfo=TZ))
    assert not always.is_open(datetime(2025, 1, 1, 9, 0, tzinfo=TZ))


def test_spans_and_days_parse_and_refuse() -> None:
    assert parse_span("07:00-24:00") == (time(7), time.max)
    assert parse_days("sat-sun") == [5, 6]
    for bad in ("7-11", "11:00-07:00", "25:00-26:00"):
        with pytest.raises(ValueError):
            parse_span(bad)
    for bad in ("monday", "fri-mon", "mon-tue-wed"):
        with pytest.raises(ValueError):
            parse_days(bad)
