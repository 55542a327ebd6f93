"""The office's figures on histories with known answers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from motcua.caller.figures import TicketRecord, figures, figures_by, percentile, wait_by_hour

TZ = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=TZ)


def rec(minute: int, outcome: str, *, wait: int | None = None, service_min: int | None = None,
        service: str = "dat-dai", counter: str | None = "1", rating: int | None = None,
        day: str = "2026-11-28") -> TicketRecord:
    issued = T0 + timedelta(minutes=minute)
    called = issued + timedelta(minutes=wait) if wait is not None else None
    done = called + timedelta(minutes=service_min) if called and service_min is not None else None
    return TicketRecord.from_times(day=day, service=service, issued_at=issued, outcome=outcome,
                                   counter=counter if called else None, called_at=called,
                                   done_at=done, rating=rating)


HISTORY = [
    rec(0, "served", wait=5, service_min=10, rating=1),
    rec(1, "served", wait=10, service_min=20, rating=2),
    rec(2, "served", wait=30, service_min=6, rating=3, service="tu-phap", counter="2"),
    rec(3, "no_show", wait=40, service="tu-phap", counter="2"),
    rec(4, "expired"),
    rec(5, "waiting", day="2026-11-29"),
]


def test_whole_period_known_answers() -> None:
    f = figures(HISTORY, target_wait_s=15 * 60, satisfied_levels=2)
    assert (f.issued, f.served, f.no_shows, f.expired, f.waiting_now) == (6, 3, 1, 1, 1)
    # waits of called tickets: 5, 10, 30, 40 minutes
    assert f.wait.count == 4
    assert f.wait.mean == pytest.approx(21.25 * 60)
    assert f.wait.median == pytest.approx(20 * 60)
    assert f.wait.p90 == pytest.approx(37 * 60)
    # service times of served tickets: 10, 20, 6 minutes
    assert f.service_time.median == pytest.approx(10 * 60)
    assert f.within_target == pytest.approx(2 / 4)
    assert f.ratings == {1: 1, 2: 1, 3: 1}
    assert f.satisfied == pytest.approx(2 / 3)


def test_grouped_by_service_counter_and_day() -> None:
    by_service = figures_by(HISTORY, "service", target_wait_s=900, satisfied_levels=2)
    assert list(by_service) == ["dat-dai", "tu-phap"]
    assert by_service["tu-phap"].issued == 2
    assert by_service["tu-phap"].no_shows == 1
    by_counter = figures_by(HISTORY, "counter", target_wait_s=900, satisfied_levels=2)
    assert by_counter["1"].served == 2
    assert by_counter["-"].issued == 2   # never called: no counter
    by_day = figures_by(HISTORY, "day", target_wait_s=900, satisfied_levels=2)
    assert by_day["2026-11-29"].waiting_now == 1


def test_empty_history_has_no_averages() -> None:
    f = figures([], target_wait_s=900, satisfied_levels=2)
    assert f.issued == 0
    assert f.wait.mean is None and f.within_target is None and f.satisfied is None


def test_wait_by_hour() -> None:
    late = rec(125, "served", wait=2, service_min=1)   # issued 10:05
    hours = wait_by_hour([*HISTORY, late])
    assert list(hours) == [8, 10]
    assert hours[10].median == pytest.approx(120)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50),
       st.floats(min_value=0, max_value=100))
def test_percentile_stays_within_the_values(values: list[float], pct: float) -> None:
    ordered = sorted(values)
    value = percentile(ordered, pct)
    assert ordered[0] <= value <= ordered[-1]
    assert percentile(ordered, 0) == ordered[0]
    assert percentile(ordered, 100) == ordered[-1]


@given(st.lists(st.sampled_from(["served", "no_show", "expired", "waiting", "serving"]), max_size=40))
def test_outcomes_add_up(outcomes: list[str]) -> None:
    records = [rec(i, o, wait=3 if o in ("served", "no_show") else None,
                   service_min=1 if o == "served" else None) for i, o in enumerate(outcomes)]
    f = figures(records, target_wait_s=900, satisfied_levels=2)
    assert f.issued == len(outcomes)
    assert f.served + f.no_shows + f.expired + f.waiting_now + f.serving_now == f.issued
    assert sum(f.outcomes()) == f.issued
    assert sum(g.issued for g in figures_by(records, "service", target_wait_s=900,
                                             satisfied_levels=2).values()) == f.issued
