"""Hypothesis drives the engine with random tickets, presses, duplicates, days and restarts.

Transfers go to a service or to a counter (``counter:<id>``: only that counter calls the
ticket, in its place by issue time).

A simple model (lists sorted on every call) says what should happen; the engine (heaps,
counts kept on the fly) must agree, and its state must equal a replay of its events.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from caller_helpers import T0, command, replay, ticket
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from motcua.caller.engine import DONE, EXPIRED, OPEN, SERVING, SKIPPED, WAITING, Engine, Event

COUNTERS = {"1": ("a",), "2": ("b", "a"), "3": ("b", "c"), "4": ("c",)}
SERVICES = ("a", "b", "c")


class QueueMachine(RuleBasedStateMachine):
    policy: ClassVar[dict] = {}

    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(COUNTERS, **self.policy)
        self.events: list[Event] = []
        self.clock = 0
        self.day = date(2026, 11, 28)
        self.every = self.policy.get("priority_every", 3) if self.policy.get("priority") == "every" else 1
        # the model
        self.status: dict[str, str] = {}
        self.info: dict[str, tuple] = {}              # id -> (service, priority, issued, seq)
        self.held_by: dict[str, str] = {}             # id -> the counter it was transferred to
        self.current: dict[str, str | None] = dict.fromkeys(COUNTERS)
        self.paused: set[str] = set()
        self.streak = dict.fromkeys(COUNTERS, self.every - 1)
        self.finished: set[str] = set()
        self.apply_day(self.day.isoformat())

    def now(self):
        self.clock += 1
        return T0 + timedelta(seconds=self.clock)

    def apply(self, event: Event):
        outcome = self.engine.apply(event)
        if event.kind == "day":
            event = Event("day", event.id, event.at, day=event.day, carry=outcome.carry)
        self.events.append(event)
        for record in outcome.tickets:
            if record.status == DONE:
                assert record.id not in self.finished or record.done_at is not None
        return outcome

    def press(self, counter: str, cmd):
        return self.apply(Event("command", cmd.id, self.now(), counter=counter, command=cmd))

    def apply_day(self, day: str) -> None:
        self.apply(Event("day", f"day:{day}", self.now(), day=day))

    # -- the model's choice ------------------------------------------------------------
    def expected_next(self, counter: str) -> str | None:
        services = COUNTERS[counter]

        def key(tid: str):
            service, _, issued, seq = self.info[tid]
            index = -1 if tid in self.held_by else services.index(service)
            if self.policy.get("order") == "service":
                return (index, issued, seq)
            return (issued, index, seq)

        waiting = [t for t, s in self.status.items() if s == WAITING and (
            self.held_by[t] == counter if t in self.held_by else self.info[t][0] in services)]
        urgent = sorted((t for t in waiting if self.info[t][1]), key=key)
        normal = sorted((t for t in waiting if not self.info[t][1]), key=key)
        if urgent and (not normal or self.streak[counter] >= self.every - 1):
            self.streak[counter] = 0
            return urgent[0]
        if normal:
            self.streak[counter] += 1
            return normal[0]
        return None

    def close_current(self, counter: str) -> None:
        current = self.current[counter]
        if current is not None:
            assert current not in self.finished, "a ticket served twice"
            self.finished.add(current)
            self.status[current] = DONE
            self.current[counter] = None

    # -- rules -----------------------------------------------------------------------
    @rule(service=st.sampled_from(SERVICES), priority=st.booleans(), back=st.integers(0, 5))
    def issue(self, service: str, priority: bool, back: int) -> None:
        # Tickets may arrive out of issue order (two kiosks, an outbox resending).
        issued = T0 + timedelta(seconds=max(self.clock - back, 0))
        new = ticket(str(1000 + len(self.status)), service, at=issued, priority=priority,
                     day=self.day.isoformat())
        outcome = self.apply(Event("ticket", new.id, self.now(), ticket=new))
        assert outcome.applied
        self.status[new.id] = WAITING
        self.info[new.id] = (service, priority, issued, new.seq)

    @precondition(lambda self: self.events)
    @rule(data=st.data())
    def redeliver(self, data) -> None:
        # Within the day the engine itself ignores copies; older ones the event log refuses
        # (unique ids, tested in test_caller_store.py).
        last_day = max(i for i, e in enumerate(self.events) if e.kind == "day")
        event = data.draw(st.sampled_from(self.events[last_day + 1:] or [None]))
        if event is None:
            return
        before = self.engine.snapshot()
        outcome = self.engine.apply(event)
        assert not outcome.applied
        assert self.engine.snapshot() == before

    @rule(counter=st.sampled_from(sorted(COUNTERS)))
    def next(self, counter: str) -> None:
        self.paused.discard(counter)
        self.close_current(counter)
        expected = self.expected_next(counter)
        outcome = self.press(counter, command("next"))
        got = outcome.calls[0].ticket if outcome.calls else None
        assert got == expected
        if got is not None:
            assert self.status[got] == WAITING, "a ticket given twice"
            self.status[got] = SERVING
            self.current[counter] = got

    @rule(counter=st.sampled_from(sorted(COUNTERS)))
    def done(self, counter: str) -> None:
        outcome = self.press(counter, command("done"))
        assert outcome.applied == (self.current[counter] is not None)
        self.close_current(counter)

    @rule(counter=st.sampled_from(sorted(COUNTERS)))
    def skip(self, counter: str) -> None:
        outcome = self.press(counter, command("skip"))
        current = self.current[counter]
        assert outcome.applied == (current is not None)
        if current is not None:
            self.status[current] = SKIPPED
            self.current[counter] = None

    @rule(counter=st.sampled_from(sorted(COUNTERS)), data=st.data())
    def call_back_skipped(self, counter: str, data) -> None:
        skipped = sorted(t for t, s in self.status.items() if s == SKIPPED)
        if not skipped:
            return
        chosen = data.draw(st.sampled_from(skipped))
        number = self.engine.tickets[chosen].number
        self.paused.discard(counter)
        self.close_current(counter)
        outcome = self.press(counter, command("recall", number))
        assert [c.ticket for c in outcome.calls] == [chosen]
        self.status[chosen] = SERVING
        self.current[counter] = chosen

    @rule(counter=st.sampled_from(sorted(COUNTERS)),
          to_where=st.sampled_from(SERVICES + tuple(f"counter:{c}" for c in COUNTERS)))
    def transfer(self, counter: str, to_where: str) -> None:
        target = to_where
        current = self.current[counter]
        to = target.removeprefix("counter:") if target.startswith("counter:") else None
        outcome = self.press(counter, command("transfer", target))
        assert outcome.applied == (current is not None and to != counter)
        if outcome.applied:
            _, priority, issued, seq = self.info[current]
            if to is None:
                self.info[current] = (target, priority, issued, seq)
                self.held_by.pop(current, None)
            else:
                self.held_by[current] = to       # only that counter calls it; service kept
            self.status[current] = WAITING
            self.current[counter] = None
            assert self.engine.tickets[current].issued_at == issued

    @rule(counter=st.sampled_from(sorted(COUNTERS)), pause=st.booleans())
    def pause_or_resume(self, counter: str, pause: bool) -> None:
        if pause:
            self.close_current(counter)
            self.paused.add(counter)
        outcome = self.press(counter, command("pause" if pause else "resume"))
        if not pause:
            assert outcome.applied == (counter in self.paused)
            self.paused.discard(counter)

    @rule()
    def new_day(self) -> None:
        self.day += timedelta(days=1)
        self.apply_day(self.day.isoformat())
        for tid, status in self.status.items():
            if status in OPEN:
                self.status[tid] = EXPIRED
        self.current = dict.fromkeys(COUNTERS)
        self.paused.clear()
        self.streak = dict.fromkeys(COUNTERS, self.every - 1)
        # Earlier days are history (the event log's tickets table); the engine forgets them.
        self.status = {t: s for t, s in self.status.items() if s in OPEN}

    @rule()
    def restart(self) -> None:
        """Rebuild from the log (from the last day marker, as the store does): same state."""
        last_day = max(i for i, e in enumerate(self.events) if e.kind == "day")
        rebuilt = replay(self.events[last_day:], COUNTERS, **self.policy)
        assert rebuilt.snapshot() == self.engine.snapshot()
        self.engine = rebuilt

    # -- invariants ------------------------------------------------------------------
    @invariant()
    def nothing_lost_nothing_doubled(self) -> None:
        engine = self.engine
        for tid, status in self.status.items():
            if tid in engine.forgotten:                  # closed long ago: known by id only
                assert status in (DONE, EXPIRED), (tid, status)
            else:
                assert engine.tickets[tid].status == status
        serving = [c.current for c in engine.counters.values() if c.current]
        assert len(serving) == len(set(serving)), "one ticket at two counters"
        assert {c: engine.counters[c].current for c in COUNTERS} == self.current
        for service in SERVICES:
            assert engine.waiting[service] == sum(
                1 for t, s in self.status.items()
                if s == WAITING and self.info[t][0] == service and t not in self.held_by)
        for counter in COUNTERS:
            assert engine.held[counter] == sum(
                1 for t, s in self.status.items() if s == WAITING and self.held_by.get(t) == counter)
        assert {c for c in COUNTERS if engine.counters[c].status == "paused"} == self.paused


common = settings(max_examples=100, stateful_step_count=40, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


class EveryServiceOrder(QueueMachine):
    policy: ClassVar[dict] = {"priority": "every", "priority_every": 3, "order": "service"}


class Forgetful(QueueMachine):
    """Closed tickets forgotten as soon as nothing shows them (the board's last calls, a
    counter's last finished): copies, replays and calls unaffected. Longer runs, so that
    tickets outlive the board's ten recent calls."""

    policy: ClassVar[dict] = {"priority": "strict", "order": "oldest", "closed_kept": 0}

    @precondition(lambda self: len(self.events) - self.last_day_index() > 60)   # long days
    @rule()
    def new_day(self) -> None:
        super().new_day()

    def last_day_index(self) -> int:
        return max(i for i, e in enumerate(self.events) if e.kind == "day")


QueueMachine.TestCase.settings = common
EveryServiceOrder.TestCase.settings = common
Forgetful.TestCase.settings = settings(common, stateful_step_count=150)
TestStrictOldest = QueueMachine.TestCase
TestEveryServiceOrder = EveryServiceOrder.TestCase
TestForgetful = Forgetful.TestCase
