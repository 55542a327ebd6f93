"""What the boards and counter screens show, built from the engine's state (pure)."""

from __future__ import annotations

import itertools
import unicodedata
from datetime import datetime

from motcua.protocol import Board, BoardCall, BoardCounter, Called, CounterState, CounterStatus, LastTicket

from .engine import Call, Engine


def mask_name(name: str | None) -> str | None:
    """Family name and initials: "Nguyễn Văn An" -> "Nguyễn V. A." (privacy in the room)."""
    if not name:
        return None
    words = unicodedata.normalize("NFC", name).split()
    if not words:
        return None
    if len(words) == 1:
        return words[0]
    return " ".join([words[0], *(f"{word[0].upper()}." for word in words[1:])])


def _open_streaks(engine: Engine) -> dict[str, list[int]]:
    """Per service, the normal-call streaks of the counters open for it (one pass)."""
    streaks: dict[str, list[int]] = {service: [] for service in engine.waiting}
    for counter in engine.counters.values():
        if counter.status != CounterStatus.PAUSED:
            for service in counter.services:
                streaks.setdefault(service, []).append(counter.normal_streak)
    return streaks


def wait_estimates(engine: Engine) -> dict[str, int]:
    """Seconds a ticket taken now would wait, per service, from recent service times.

    waiting × mean recent service time ÷ counters open for the service. A service with no
    finished ticket yet today borrows the mean of the office's other services; with nobody
    waiting the wait is 0. Without any finished ticket today, or no open counter, a service
    has no estimate (the board and the ticket then say nothing rather than guess).
    """
    every = [d for durations in engine.durations.values() for d in durations]
    office_mean = sum(every) / len(every) if every else None
    estimates = {}
    streaks = _open_streaks(engine)
    for service, durations in engine.durations.items():
        open_counters = len(streaks.get(service, ()))
        mean = sum(durations) / len(durations) if durations else office_mean
        if mean is None or not open_counters:
            continue
        estimates[service] = round(engine.waiting[service] * mean / open_counters)
    return estimates


def ahead_of_new(engine: Engine, *, priority: bool) -> dict[str, int]:
    """Per service, how many waiting tickets would be called before a ticket taken now
    (a priority one or not), under the queue's rules (docs/caller.md).

    With ``priority = "strict"``: all waiting tickets before a normal ticket, the waiting
    priority ones before a priority ticket. With ``"every"`` the service's open counters take
    turns from their current streaks, a priority ticket after ``priority_every - 1`` normal
    calls at that counter. Only this service's queue is counted, as on the board.
    """
    ahead = {}
    streaks = _open_streaks(engine)
    for service, waiting in engine.waiting.items():
        urgent = engine.waiting_priority[service]
        ahead[service] = _calls_before_new(urgent, waiting - urgent, priority,
                                           list(streaks[service]), engine.priority_every)
    return ahead


def _calls_before_new(urgent: int, normal: int, priority: bool, streaks: list[int],
                      every: int) -> int:
    """Replays the engine's pick (Engine._pick) on one service's queue, counters in turn."""
    if every <= 1 or not streaks:                  # strict, or nobody to say otherwise
        return urgent if priority else urgent + normal
    if not priority and normal >= (urgent + 1) * every * len(streaks):
        # So many normal tickets that every priority one is called before the last of them:
        # the whole queue is ahead (and a long queue costs no replay on each board).
        return urgent + normal
    if priority:
        urgent += 1
    else:
        normal += 1
    for calls, index in enumerate(itertools.cycle(range(len(streaks)))):
        if urgent and (not normal or streaks[index] >= every - 1):
            urgent, streaks[index] = urgent - 1, 0
            if priority and not urgent:
                return calls
        else:
            normal, streaks[index] = normal - 1, streaks[index] + 1
            if not priority and not normal:
                return calls
    raise AssertionError("unreachable")


def board_message(engine: Engine, *, seq: int, now: datetime, day: str) -> Board:
    calls = []
    for call in engine.recent_calls:
        ticket = engine.tickets[call.ticket]
        calls.append(BoardCall(counter=call.counter, number=ticket.number, service=ticket.service,
                               at=_iso(call.at), name=mask_name(ticket.name), recall=call.recall))
    counters = []
    for counter in engine.counters.values():
        serving = engine.tickets.get(counter.current) if counter.current else None
        counters.append(BoardCounter(counter=counter.id, status=counter.status,
                                     number=serving.number if serving else None,
                                     name=mask_name(serving.name) if serving else None))
    return Board(seq=seq, updated_at=_iso(now), day=engine.day or day, calls=calls,
                 counters=counters, waiting=dict(engine.waiting),
                 wait_estimate_s=wait_estimates(engine),
                 ahead_normal=ahead_of_new(engine, priority=False),
                 ahead_priority=ahead_of_new(engine, priority=True))


def counter_state(engine: Engine, counter_id: str, *, seq: int) -> CounterState:
    counter = engine.counters[counter_id]
    ticket = engine.tickets.get(counter.current) if counter.current else None
    done = engine.tickets.get(counter.last_finished) if counter.last_finished else None
    last = LastTicket(ticket=done.id, number=done.number, service=done.service,
                      name=mask_name(done.name), rated=done.rating is not None) if done else None
    return CounterState(counter=counter_id, status=counter.status,
                        number=ticket.number if ticket else None,
                        service=ticket.service if ticket else None,
                        name=mask_name(ticket.name) if ticket else None,
                        waiting=engine.waiting_for(counter_id), seq=seq,
                        ticket=ticket.id if ticket else None, last=last)


def called_message(engine: Engine, call: Call, sentence: str) -> Called:
    ticket = engine.tickets[call.ticket]
    return Called(id=call.id, counter=call.counter, number=ticket.number, service=ticket.service,
                  sentence=sentence, at=_iso(call.at), recall=call.recall)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
