"""A commune's caller log written as the caller daemon writes it, with varied traffic, and its
rows carried into the centre's PostgreSQL by the real publisher and store code."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from motcua.caller.engine import Engine, Event
from motcua.caller.store import EventStore
from motcua.central.publisher import HistoryLog
from motcua.central.store import CentralStore

from motcua.protocol import CounterCommand, Rating, Ticket, new_id

VN = timezone(timedelta(hours=7))
REASONS = ("Thái độ phục vụ", "Thời gian chờ lâu", "Hướng dẫn chưa rõ")


class SimulatedCaller:
    """caller/daemon.py's writes without its broker: each event logged (``EventStore.append``),
    applied by an engine set up as ``load_engine`` sets it up, the changed tickets saved in the
    same transaction; a new service day logged with its carry, as ``new_day`` does."""

    def __init__(self, path: Path, config) -> None:
        queue = config.caller.queue
        self.store = EventStore(path)
        self.engine = Engine({c.id: c.services for c in config.counters}, priority=queue.priority,
                             priority_every=queue.priority_every, order=queue.order,
                             rating_window_s=config.caller.ratings.window_s,
                             max_press_age_s=queue.max_press_age_s)
        self.services = [s.id for s in config.services]
        self.counters = [c.id for c in config.counters]
        self.levels = len(config.counter_pad.rating.levels)

    def log(self, event: Event) -> None:
        if self.store.append(event):
            self.store.save_tickets(self.engine.apply(event).tickets)
        self.store.commit()

    def new_day(self, day: date, at: datetime) -> None:
        outcome = self.engine.start_day(day.isoformat(), at)
        self.store.append(Event("day", f"day:{day}", at, day=day.isoformat(), carry=outcome.carry))
        self.store.save_tickets(outcome.tickets)
        self.store.commit()

    def close(self) -> None:
        self.store.close()

    def traffic(self, days: list[date], per_day: int, rng: random.Random) -> None:
        """Tickets, calls, skips, recalls, transfers, pauses and ratings over the days; the
        last day is left open (tickets waiting and at counters)."""
        numbers = dict.fromkeys(self.services, 0)
        for day in days:
            self.new_day(day, datetime(day.year, day.month, day.day, 7, 0, 1, tzinfo=VN))
            at = datetime(day.year, day.month, day.day, 7, 30, tzinfo=VN)
            skipped: list[str] = []
            for _ in range(per_day * 3):
                at += timedelta(microseconds=rng.randrange(1, 240_000_000))
                roll = rng.random()
                if roll < 0.34:
                    service = rng.choice(self.services)
                    numbers[service] += 1
                    # The kiosk's clock, a little off the hub's, to the microsecond.
                    issued = at - timedelta(microseconds=rng.randrange(-2_000_000, 3_000_000))
                    if rng.random() < 0.05:
                        issued = issued.replace(microsecond=rng.randrange(1000) * 1000 + 500)
                    ticket = Ticket(id=new_id(), service=service, number=f"{1000 + numbers[service]}",
                                    seq=1000 + numbers[service], day=day.isoformat(),
                                    issued_at=issued.isoformat(), kiosk="k1",
                                    priority=rng.random() < 0.1, name="Nguyễn Văn An")
                    self.log(Event("ticket", ticket.id, at, ticket=ticket))
                    continue
                counter = rng.choice(self.counters)
                if roll < 0.62:
                    action, target = "next", None
                elif roll < 0.72:
                    action, target = "done", None
                elif roll < 0.76:
                    action, target = "skip", None
                elif roll < 0.79:
                    action, target = "recall", None
                elif roll < 0.81 and skipped:
                    action, target = "recall", rng.choice(skipped)
                elif roll < 0.83:
                    action, target = "transfer", rng.choice(self.services)
                elif roll < 0.845:
                    action, target = "pause", None
                elif roll < 0.86:
                    action, target = "resume", None
                else:
                    self.rate(counter, at, rng)
                    continue
                command = CounterCommand(id=new_id(), action=action, target=target)
                self.log(Event("command", command.id, at, counter=counter, command=command))
                if action in ("next", "done") and rng.random() < 0.5:
                    at += timedelta(microseconds=rng.randrange(1, 20_000_000))
                    self.rate(counter, at, rng)
                if action == "skip":
                    current = [t for t in self.engine.tickets.values()
                               if t.status == "skipped" and t.counter == counter]
                    skipped.extend(t.number for t in current)


    def rate(self, counter: str, at: datetime, rng: random.Random) -> None:
        """A rating from the pad (no ticket named) or a web page (naming the ticket, with a
        reason on the worst level)."""
        score = rng.randint(1, self.levels)
        named = self.engine.counters[counter].last_finished if rng.random() < 0.6 else None
        reason = rng.choice(REASONS) if named and score == self.levels and rng.random() < 0.8 else None
        rating = Rating(id=new_id(), score=score, ticket=named, reason=reason)
        self.log(Event("rating", rating.id, at, counter=counter, rating=rating))


def carry_to_centre(log_path: Path, site: str, dsn: str, *, upto: int | None = None) -> int:
    """The log's rows (up to ``upto``) into PostgreSQL as the centre writes them
    (central/publisher.py ``HistoryLog``, central/store.py ``CentralStore.write``)."""
    history = HistoryLog(log_path, site)
    store = CentralStore(dsn)
    try:
        store.migrate()
        identity = history.follow()
        done = store.positions().get((site, identity), 0)
        last = history.last() if upto is None else upto
        while done < last:
            events = [e for e in history.after(done, 5000) if e.seq <= last]
            if not events:
                break
            store.write(events, {(site, identity): (events[-1].seq, history.last())},
                        current={site: identity})
            done = events[-1].seq
        return done
    finally:
        store.close()
        history.close()
