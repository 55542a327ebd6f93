"""What the boards and counter screens show, built from the engine's state (pure)."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from motcua.protocol import Board, BoardCall, BoardCounter, Called, CounterState, LastTicket

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


def wait_estimates(engine: Engine) -> dict[str, int]:
    """Seconds a ticket taken now would wait, per service, from recent service times.

    waiting × mean recent service time ÷ counters open for the service; a service with
    no finished ticket yet today, or no open counter, has no estimate.
    """
    estimates = {}
    for service, durations in engine.durations.items():
        open_counters = sum(1 for c in engine.counters.values()
                            if service in c.services and c.status != "paused")
        if not durations or not open_counters:
            continue
        mean = sum(durations) / len(durations)
        estimates[service] = round(engine.waiting[service] * mean / open_counters)
    return estimates


def board_message(engine: Engine, *, seq: int, now: datetime, day: str) -> Board:
    calls = []
    for call in engine.recent_calls:
        ticket = engine.tickets[call.ticket]
        calls.append(BoardCall(counter=call.counter, number=ticket.number, service=ticket.service,
                               at=_iso(call.at), name=mask_name(ticket.name), recall=call.recall))
    counters = []
    for counter in engine.counters.values():
        ticket = engine.tickets.get(counter.current) if counter.current else None
        counters.append(BoardCounter(counter=counter.id, status=counter.status,
                                     number=ticket.number if ticket else None,
                                     name=mask_name(ticket.name) if ticket else None))
    return Board(seq=seq, updated_at=_iso(now), day=engine.day or day, calls=calls,
                 counters=counters, waiting=dict(engine.waiting),
                 wait_estimate_s=wait_estimates(engine))


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
