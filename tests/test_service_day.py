"""The service day under clock jumps (pure, hypothesis), and the kernel's clock state."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motcua import clock as clocks
from motcua.service_day import ClockReading, DayKeeper, service_day

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FIVE = time(5, 0)
DAY = 86400.0


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=TZ).timestamp()


def test_the_service_day_turns_at_the_configured_local_time() -> None:
    assert service_day(at(2025, 6, 10, 4, 59), TZ, FIVE) == date(2025, 6, 9)
    assert service_day(at(2025, 6, 10, 5, 0), TZ, FIVE) == date(2025, 6, 10)
    assert service_day(at(2025, 6, 10, 0, 0), TZ, time(0, 0)) == date(2025, 6, 10)
    # an aware datetime in any zone gives the same day as its epoch seconds
    moment = datetime(2025, 6, 9, 22, 30, tzinfo=ZoneInfo("UTC"))   # 05:30 on the 10th there
    assert service_day(moment, TZ, FIVE) == service_day(moment.timestamp(), TZ, FIVE) == date(2025, 6, 10)


@pytest.mark.parametrize(("local", "day"), [
    ("2026-11-28T04:59:00+07:00", "2026-11-27"),
    ("2026-11-28T05:00:00+07:00", "2026-11-28"),
    ("2026-11-27T22:30:00+00:00", "2026-11-28"),   # 05:30 in Hà Nội
])
def test_an_aware_moment_gives_its_local_service_day(local: str, day: str) -> None:
    assert service_day(datetime.fromisoformat(local), TZ, FIVE).isoformat() == day


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



def test_clock_state_from_adjtimex() -> None:
    assert clocks.clock_state_synchronized(0, 0x2001)          # TIME_OK, PLL on
    assert not clocks.clock_state_synchronized(5, 0x0040)      # TIME_ERROR, STA_UNSYNC
    assert not clocks.clock_state_synchronized(0, 0x0041)      # unsync flag alone
    synchronized, how = clocks.kernel_clock_synchronized()     # the real syscall answers
    assert isinstance(synchronized, bool) and how.startswith("adjtimex state")
