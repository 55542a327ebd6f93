"""Building tickets and commands for the caller's tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from motcua.caller.engine import Engine, Event

from motcua.protocol import CounterCommand, Ticket, new_id

ICT = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=ICT)
DAY = "2026-11-28"


def ticket(number: str, service: str = "a", *, at: datetime = T0, priority: bool = False,
           day: str = DAY, name: str | None = None, seq: int | None = None) -> Ticket:
    digits = "".join(ch for ch in number if ch.isdigit())
    return Ticket(id=new_id(), service=service, number=number,
                  seq=seq if seq is not None else int(digits or 0), day=day,
                  issued_at=at.isoformat(), kiosk="k1", priority=priority, name=name)


def command(action: str, target: str | None = None) -> CounterCommand:
    return CounterCommand(id=new_id(), action=action, target=target)


def replay(events: list[Event], counters: dict, **policy) -> Engine:
    engine = Engine(counters, **policy)
    for event in events:
        engine.apply(event)
    return engine
