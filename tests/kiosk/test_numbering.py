"""Ticket numbers and the service day under clock jumps (pure)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from motcua.kiosk.numbering import (
    ClockReading,
    DayKeeper,
    NumberRange,
    RangeExhausted,
    service_day,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FIVE = time(5, 0)
DAY = 86400.0


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=TZ).timestamp()


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


def test_the_service_day_turns_at_the_configured_local_time() -> None:
    assert service_day(at(2025, 6, 10, 4, 59), TZ, FIVE) == date(2025, 6, 9)
    assert service_day(at(2025, 6, 10, 5, 0), TZ, FIVE) == date(2025, 6, 10)
    assert service_day(at(2025, 6, 10, 0, 0), TZ, time(0, 0)) == date(2025, 6, 10)


class Clock:
    """A Pi's clocks: the wall clock can be set; the monotonic one only runs."""

    def __init__(self, wall: float, synced: bool = False) -> None:
        self.wall, self.mono, self.synced = wall, 1000.0, synced

    def run(self, seconds: float) -> ClockReading:
        self.wall += seconds
        self.mono += seconds
        return self.read()

    def jump(self, seconds: float) -> ClockReading:
        self.wall += seconds
        return self.read()

    def read(self) -> ClockReading:
        return ClockReading(self.wall, self.mono, self.synced)


def keeper(persisted: date | None = None, **kwargs) -> DayKeeper:
    return DayKeeper(TZ, FIVE, persisted, **kwargs)


def test_first_start_takes_the_clocks_day() -> None:
    clock = Clock(at(2025, 6, 10, 8))
    assert keeper().observe(clock.read()) == date(2025, 6, 10)


def test_running_across_the_reset_time_starts_a_new_day_without_ntp() -> None:
    clock = Clock(at(2025, 6, 10, 16))
    days = keeper(date(2025, 6, 10))
    assert days.observe(clock.read()) == date(2025, 6, 10)
    for _ in range(13 * 60):          # a reading a minute through the night
        days.observe(clock.run(60))
    assert days.observe(clock.read()) == date(2025, 6, 11)


@pytest.mark.parametrize("jump", [DAY, -DAY, 3 * DAY])
def test_an_unsynchronised_jump_mid_day_keeps_the_day(jump: float) -> None:
    clock = Clock(at(2025, 6, 10, 10))
    days = keeper(date(2025, 6, 10))
    days.observe(clock.read())
    assert days.observe(clock.jump(jump)) == date(2025, 6, 10)
    assert days.observe(clock.run(3600)) == date(2025, 6, 10)


def test_back_to_1970_after_a_power_cut_keeps_the_saved_day() -> None:
    clock = Clock(0.0)                         # the Pi booted without any time
    days = keeper(date(2025, 6, 10))
    assert days.observe(clock.read()) == date(2025, 6, 10)
    assert days.observe(clock.run(2 * DAY)) == date(2025, 6, 10)   # 1970 running on


def test_a_synchronised_clock_moves_the_day_forward_but_never_back() -> None:
    clock = Clock(0.0)
    days = keeper(date(2025, 6, 10))
    days.observe(clock.read())
    clock.synced = True
    clock.wall = at(2025, 6, 11, 7)           # NTP sets the real time
    assert days.observe(clock.read()) == date(2025, 6, 11)
    assert days.observe(clock.jump(-DAY)) == date(2025, 6, 11)


def test_a_backwards_jump_costs_one_reset_then_days_follow_again() -> None:
    clock = Clock(at(2025, 6, 10, 10))
    days = keeper(date(2025, 6, 10))
    days.observe(clock.read())
    days.observe(clock.jump(-DAY))
    for _ in range(48):
        days.observe(clock.run(3600))          # the clock reads 12 June 10:00 now
    assert days.day == date(2025, 6, 11)


def test_a_trusted_rtc_clock_may_move_forward_at_boot() -> None:
    clock = Clock(at(2025, 6, 12, 7))
    assert keeper(date(2025, 6, 10), trust_wall_clock=True).observe(clock.read()) == date(2025, 6, 12)
    assert keeper(date(2025, 6, 10)).observe(clock.read()) == date(2025, 6, 10)


steps = st.lists(st.tuples(st.sampled_from(["run", "jump"]),
                           st.floats(min_value=-5 * DAY, max_value=5 * DAY), st.booleans()),
                 min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_the_day_never_goes_backwards(moves) -> None:
    clock = Clock(at(2025, 6, 10, 10))
    days = keeper(date(2025, 6, 10))
    last = days.observe(clock.read())
    for kind, seconds, synced in moves:
        clock.synced = synced
        reading = clock.run(abs(seconds)) if kind == "run" else clock.jump(seconds)
        day = days.observe(reading)
        assert day >= last
        last = day


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=-5 * DAY, max_value=5 * DAY).filter(lambda s: abs(s) > 600),
                min_size=1, max_size=20))
def test_unsynchronised_jumps_alone_never_change_the_day(jumps) -> None:
    clock = Clock(at(2025, 6, 10, 10))
    days = keeper(date(2025, 6, 10))
    days.observe(clock.read())
    seen = set()
    for seconds in jumps:
        seen.add(days.observe(clock.jump(seconds)))
    assert seen <= {date(2025, 6, 10)}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=1, max_value=DAY / 2), min_size=1, max_size=30))
def test_a_clock_that_just_runs_gives_the_clocks_own_day(runs) -> None:
    clock = Clock(at(2025, 6, 10, 10))
    days = keeper(date(2025, 6, 10))
    for seconds in runs:
        assert days.observe(clock.run(seconds)) == service_day(clock.wall, TZ, FIVE)

