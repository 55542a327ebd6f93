"""The office's queue as pure logic: no I/O, no clock; every time is passed in.

Everything that changes the queue is an :class:`Event` (a printed ticket, a counter's
command, a rating, the start of a service day). ``Engine.apply`` is deterministic, so the
caller rebuilds its state after a restart by replaying its event log (docs/caller.md).

Rules a clerk can rely on:

- Next gives the counter the waiting ticket that was issued first among the services it
  serves (``order = "oldest"``; with ``order = "service"`` the first service in the
  counter's list that has anyone waiting goes first). Priority tickets go first
  (``priority = "strict"``) or one in ``priority_every`` calls at that counter.
- Next while serving closes the current ticket as done; Next on a paused counter resumes it.
- Skip parks the ticket: Next never returns it. ``recall`` with ``target`` = its number
  calls it back (to any counter). Plain ``recall`` announces the current ticket again.
- Transfer puts the current ticket in another service's queue at its place by issue time.
- Pause closes the current ticket as done and takes the counter out of the rotation.
- A duplicate ticket or command (same id) changes nothing; neither does a second ticket
  with a number of the day the queue already holds for that service (``duplicate_number``).
- A command pressed longer than ``max_press_age_s`` before it reached the caller changes
  nothing (``stale``): a press made while the pad could not reach the caller must not
  become a burst of calls later. The age is the event's arrival time minus the press
  time the command carries (on the caller's clock where the pad could tell).
- A ticket printed for an earlier day is closed as expired on arrival (``expired``); one
  printed for a later day is held, outside every queue, until that day starts: two service
  days never share a queue.
"""

from __future__ import annotations

import enum
import heapq
import sys
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from motcua.protocol import (
    Action,
    CounterCommand,
    CounterStatus,
    HistoryKind,
    Rating,
    Refusal,
    Ticket,
)


class TicketStatus(enum.StrEnum):
    """Where a ticket is; the reports and the event log's snapshots store these words."""

    WAITING = "waiting"
    SERVING = "serving"
    SKIPPED = "skipped"
    DONE = "done"
    EXPIRED = "expired"


WAITING, SERVING, SKIPPED, DONE, EXPIRED = TicketStatus
OPEN = (WAITING, SERVING, SKIPPED)
# The event log's kinds are the history's kinds (the centre receives them as they are).
EventKind = HistoryKind


class Priority(enum.StrEnum):
    """How priority tickets go first (``[queue] priority``)."""

    STRICT = "strict"     # before every normal ticket
    EVERY = "every"       # at most one in ``priority_every`` calls at a counter


class Order(enum.StrEnum):
    """Which waiting ticket a counter's Next takes (``[queue] order``)."""

    OLDEST = "oldest"     # the first issued among the counter's services
    SERVICE = "service"   # the counter's first service with anyone waiting


class Held(enum.StrEnum):
    """An Outcome code that is not a refusal: the ticket waits for its day, nobody is told."""

    HELD = "held"

RECENT_CALLS = 10            # calls kept for the board
RECENT_DURATIONS = 20        # service times per service kept for the wait estimate
COMMAND_ID_WINDOW = 4096     # command ids remembered in memory (the event log keeps all)
CLOSED_KEPT = 512            # closed tickets kept whole; older ones only by id (see _closed)
REFUSALS_KEPT = 4096         # refusals remembered for resent copies (a busy day has a few dozen)
COUNTER_TARGET = "counter:"  # transfer target "counter:3": to that counter, not a service


@dataclass(slots=True)
class TicketRecord:
    """One ticket and its history, as the reports read it."""

    id: str
    service: str
    number: str
    seq: int
    day: str
    issued_at: datetime
    kiosk: str
    priority: bool = False
    name: str | None = None
    status: TicketStatus = WAITING
    counter: str | None = None          # the counter that called it last
    first_service: str | None = None    # the service it was issued for, if transferred
    for_counter: str | None = None      # transferred to this counter: only it calls the ticket
    called_at: datetime | None = None   # first call
    recalled_at: datetime | None = None  # last recall
    served_at: datetime | None = None   # the (re)call the citizen answered: last call before done
    skipped_at: datetime | None = None
    done_at: datetime | None = None
    expired_at: datetime | None = None
    rating: int | None = None
    rated_at: datetime | None = None
    last_call_at: datetime | None = None
    rating_reason: str | None = None    # the rating's reason (web pages), in the event log too

    def as_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> TicketRecord:
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = body.get(f.name)
            if f.name.endswith("_at") and isinstance(value, str):
                value = datetime.fromisoformat(value)
            elif f.name == "status" and value is not None:
                value = TicketStatus(value)
            values[f.name] = value
        return cls(**values)


@dataclass
class CounterRecord:
    id: str
    services: tuple[str, ...]
    status: CounterStatus = CounterStatus.IDLE
    current: str | None = None           # ticket id being served
    last_finished: str | None = None     # ticket id a rating belongs to
    normal_streak: int = 0               # normal calls since the last priority call


@dataclass(frozen=True)
class Call:
    """A ticket called to a counter: announce it and show it on the board."""

    id: str
    counter: str
    ticket: str
    at: datetime
    recall: bool = False


@dataclass(frozen=True)
class Event:
    """One input of the engine; ``id`` makes it unique within its kind."""

    kind: EventKind
    id: str
    at: datetime
    counter: str | None = None
    ticket: Ticket | None = None
    command: CounterCommand | None = None
    rating: Rating | None = None
    day: str | None = None
    carry: tuple[TicketRecord, ...] | None = None   # "day": open tickets kept, once logged


@dataclass
class Outcome:
    """What one event did, for the adapters: publish, announce, write history."""

    applied: bool = True
    duplicate: bool = False
    reason: str = ""                                  # why it was refused
    code: Refusal | Held | None = None     # a refusal the sender is told; or held
    calls: list[Call] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)   # records that changed
    counters: set[str] = field(default_factory=set)             # counters whose state changed
    board: bool = False                               # the board changed
    carry: tuple[TicketRecord, ...] = ()              # "day": what the event log must keep

    @classmethod
    def refused(cls, reason: str, *, duplicate: bool = False,
                code: Refusal = Refusal.REFUSED) -> Outcome:
        return cls(applied=False, duplicate=duplicate, reason=reason, code=None if duplicate else code)


class Engine:
    """The queue of one office for the current service day."""

    def __init__(self, counters: Mapping[str, Sequence[str]], *, priority: Priority = Priority.STRICT,
                 priority_every: int = 3, order: Order = Order.OLDEST, rating_window_s: int = 120,
                 closed_kept: int = CLOSED_KEPT, max_press_age_s: float | None = None) -> None:
        if priority not in tuple(Priority) or order not in tuple(Order):
            raise ValueError(f"unknown queue policy {priority!r}/{order!r}")
        self.priority = priority
        self.priority_every = 1 if priority == Priority.STRICT else priority_every
        self.order = order
        self.rating_window = timedelta(seconds=rating_window_s)
        self.closed_kept = closed_kept
        self.max_press_age = timedelta(seconds=max_press_age_s) if max_press_age_s else None
        self.counter_services = {cid: tuple(services) for cid, services in counters.items()}
        self.services = tuple(dict.fromkeys(s for ss in self.counter_services.values() for s in ss))
        # Message id -> the refusal its sender was told; across days, so that a copy resent
        # after a lost confirmation is told the same (a pad would show it as taken).
        self.refusals: dict[str, Refusal] = {}
        self._reset(None)

    def _reset(self, day: str | None) -> None:
        self.day = day
        self.tickets: dict[str, TicketRecord] = {}
        self.counters = {cid: CounterRecord(cid, services, normal_streak=self.priority_every - 1)
                         for cid, services in self.counter_services.items()}
        self.waiting: dict[str, int] = dict.fromkeys(self.services, 0)
        self.waiting_priority: dict[str, int] = dict.fromkeys(self.services, 0)  # of waiting
        self.held: dict[str, int] = dict.fromkeys(self.counter_services, 0)   # transferred to a counter
        self.recent_calls: deque[Call] = deque(maxlen=RECENT_CALLS)
        self.durations: dict[str, deque[float]] = {
            s: deque(maxlen=RECENT_DURATIONS) for s in self.services}
        # Per queue (a service, or "@<counter>" for tickets transferred to a counter) and
        # class (priority, normal): heaps of (issued, seq, id); entries of tickets that left
        # the queue stay until they reach the top (lazy deletion).
        self._heaps: dict[tuple[str, bool], list[tuple[datetime, int, str]]] = {}
        self._seen_commands: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._closed_order: deque[str] = deque()     # closed tickets still in self.tickets
        self.forgotten: set[str] = set()             # closed tickets known only by id
        self.numbers: dict[tuple[str, str, str], str] = {}   # (day, service, number) -> ticket id
        self.later: set[str] = set()                 # tickets of a later day, held out of the queues

    # -- the one entry point -----------------------------------------------------------
    def apply(self, event: Event) -> Outcome:
        outcome = self._apply(event)
        if isinstance(outcome.code, Refusal):
            self.refusals[event.id] = outcome.code
            if len(self.refusals) > REFUSALS_KEPT:
                del self.refusals[next(iter(self.refusals))]
        return outcome

    def refusal(self, msg_id: str) -> Refusal | None:
        """The refusal the message with this id was given, if any: the answer for a copy of
        it, which the event log keeps once and the engine never sees."""
        return self.refusals.get(msg_id)

    def _apply(self, event: Event) -> Outcome:
        if event.kind == EventKind.TICKET and event.ticket is not None:
            return self.add_ticket(event.ticket, event.at)
        if event.kind == EventKind.COMMAND and event.command is not None and event.counter is not None:
            return self.command(event.counter, event.command, event.at)
        if event.kind == EventKind.RATING and event.rating is not None and event.counter is not None:
            return self.rate(event.counter, event.rating, event.at)
        if event.kind == EventKind.DAY and event.day is not None:
            return self.start_day(event.day, event.at, carry=event.carry)
        return Outcome.refused(f"malformed {event.kind} event")

    # -- tickets ---------------------------------------------------------------------
    def add_ticket(self, ticket: Ticket, at: datetime) -> Outcome:
        if ticket.id in self.tickets or ticket.id in self.forgotten:
            return Outcome.refused("duplicate ticket", duplicate=True)
        if ticket.service not in self.waiting:
            return Outcome.refused(f"no counter serves {ticket.service!r}")
        key = (ticket.day, ticket.service, ticket.number)
        holder = self.tickets.get(self.numbers.get(key, ""))
        if holder is not None and holder.status in OPEN:
            # A kiosk that lost its database, or two kiosks with one id: the citizen holding
            # the first ticket with this number keeps it. Once that ticket is closed the number
            # may come again the same day: a kiosk's range wraps (on_exhausted = "wrap").
            return Outcome.refused(f"number {ticket.number} of {ticket.service} on {ticket.day} "
                                   "is already in the queue", code=Refusal.DUPLICATE_NUMBER)
        try:
            issued = datetime.fromisoformat(ticket.issued_at)
        except ValueError:
            return Outcome.refused("bad issued_at")
        # A day holds thousands of records: their few distinct services, days and kiosks
        # share one string each rather than one per ticket.
        record = TicketRecord(id=ticket.id, service=sys.intern(ticket.service), number=ticket.number,
                              seq=ticket.seq, day=sys.intern(ticket.day), issued_at=issued,
                              kiosk=sys.intern(ticket.kiosk), priority=ticket.priority, name=ticket.name)
        self.tickets[record.id] = record
        self.numbers[key] = record.id
        if self.day is not None and ticket.day < self.day:
            # Printed on a day that is over (e.g. resent after a night-long outage).
            record.status, record.expired_at = EXPIRED, at
            self._closed(record)
            return Outcome(tickets=[record], code=Refusal.EXPIRED,
                           reason=f"printed for {ticket.day}, the queue is on {self.day}")
        if self.day is not None and ticket.day > self.day:
            self.later.add(record.id)
            return Outcome(tickets=[record], code=Held.HELD,
                           reason=f"printed for {ticket.day}, the queue is still on {self.day}")
        self._enqueue(record)
        return Outcome(tickets=[record], counters=self._counters_of(record.service), board=True)

    def _enqueue(self, record: TicketRecord) -> None:
        record.status = WAITING
        if record.for_counter not in self.held:
            record.for_counter = None        # a counter no longer in the config: back to its service
        if record.for_counter is not None:
            self.held[record.for_counter] += 1
        else:
            self.waiting[record.service] += 1
            self.waiting_priority[record.service] += record.priority
        heap = self._heaps.setdefault((_queue_of(record), record.priority), [])
        heapq.heappush(heap, (record.issued_at, record.seq, record.id))

    def _dequeue(self, record: TicketRecord) -> None:
        if record.for_counter is not None:
            self.held[record.for_counter] -= 1
        else:
            self.waiting[record.service] -= 1
            self.waiting_priority[record.service] -= record.priority

    def _head(self, queue: str, priority: bool) -> TicketRecord | None:
        heap = self._heaps.get((queue, priority))
        while heap:
            record = self.tickets.get(heap[0][2])
            if (record is not None and record.status == WAITING and _queue_of(record) == queue
                    and record.priority == priority):
                return record
            heapq.heappop(heap)
        return None

    def _oldest(self, queues: tuple[str, ...], priority: bool) -> TicketRecord | None:
        best, best_key = None, None
        for index, queue in enumerate(queues):
            record = self._head(queue, priority)
            if record is None:
                continue
            key = ((index, record.issued_at, record.seq) if self.order == Order.SERVICE
                   else (record.issued_at, index, record.seq))
            if best_key is None or key < best_key:
                best, best_key = record, key
        return best

    def _pick(self, counter: CounterRecord) -> TicketRecord | None:
        # Tickets transferred to this counter first in "service" order; by issue time in
        # "oldest" order, like any other.
        queues = (f"@{counter.id}", *counter.services)
        urgent = self._oldest(queues, True)
        normal = self._oldest(queues, False)
        if urgent is not None and (normal is None or counter.normal_streak >= self.priority_every - 1):
            counter.normal_streak = 0
            return urgent
        if normal is not None:
            counter.normal_streak += 1
        return normal

    def _counters_of(self, service: str) -> set[str]:
        return {cid for cid, services in self.counter_services.items() if service in services}

    # -- counters --------------------------------------------------------------------
    def command(self, counter_id: str, command: CounterCommand, at: datetime) -> Outcome:
        counter = self.counters.get(counter_id)
        if counter is None:
            return Outcome.refused(f"unknown counter {counter_id!r}")
        if command.id in self._seen_commands:
            return Outcome.refused("duplicate command", duplicate=True)
        self._remember(command.id)
        pressed = _press_time(command)
        if self.max_press_age is not None and pressed is not None and at - pressed > self.max_press_age:
            return Outcome.refused(f"{command.action} pressed {(at - pressed).total_seconds():.0f} s "
                                   "before it arrived", code=Refusal.STALE)
        outcome = Outcome(counters={counter_id})
        action = command.action
        if action == Action.NEXT:
            if counter.status == CounterStatus.PAUSED:
                counter.status = CounterStatus.IDLE
            self._finish(counter, at, outcome)
            self._call(counter, self._pick(counter), command.id, at, outcome)
        elif action == Action.RECALL and command.target:
            record = self._skipped(command.target)
            if record is None:
                return Outcome.refused(f"no skipped ticket {command.target!r}")
            if counter.status == CounterStatus.PAUSED:
                counter.status = CounterStatus.IDLE
            self._finish(counter, at, outcome)
            self._call(counter, record, command.id, at, outcome, recall=True)
        elif action == Action.RECALL:
            record = self._current(counter)
            if record is None:
                return Outcome.refused("nothing to recall")
            record.recalled_at = record.last_call_at = at
            self._announce(Call(command.id, counter.id, record.id, at, recall=True), outcome)
        elif action == Action.SKIP:
            record = self._current(counter)
            if record is None:
                return Outcome.refused("nothing to skip")
            record.status, record.skipped_at = SKIPPED, at
            self._release(counter, record, outcome)
        elif action == Action.DONE:
            if self._current(counter) is None:
                return Outcome.refused("nothing to finish")
            self._finish(counter, at, outcome)
        elif action == Action.TRANSFER:
            record = self._current(counter)
            target = command.target or ""
            if record is None:
                return Outcome.refused("nothing to transfer")
            if target.startswith(COUNTER_TARGET):
                to = target.removeprefix(COUNTER_TARGET)
                if to not in self.counters:
                    return Outcome.refused(f"unknown counter {to!r}")
                if to == counter.id:
                    return Outcome.refused("the ticket is already at this counter")
                record.for_counter = to
                outcome.counters.add(to)
            elif target in self.waiting:
                record.first_service = record.first_service or record.service
                record.service, record.for_counter = target, None
                outcome.counters |= self._counters_of(target)
            else:
                return Outcome.refused(f"no counter serves {target!r}")
            self._release(counter, record, outcome)
            self._enqueue(record)
        elif action == Action.PAUSE:
            self._finish(counter, at, outcome)
            counter.status = CounterStatus.PAUSED
        elif action == Action.RESUME:
            if counter.status != CounterStatus.PAUSED:
                return Outcome.refused("counter is not paused")
            counter.status = CounterStatus.IDLE
        else:
            return Outcome.refused(f"unknown action {action!r}")
        outcome.board = True
        return outcome

    def _remember(self, command_id: str) -> None:
        self._seen_commands.add(command_id)
        self._seen_order.append(command_id)
        if len(self._seen_order) > COMMAND_ID_WINDOW:
            self._seen_commands.discard(self._seen_order.popleft())

    def _current(self, counter: CounterRecord) -> TicketRecord | None:
        return self.tickets.get(counter.current) if counter.current else None

    def _skipped(self, target: str) -> TicketRecord | None:
        """The skipped ticket with this number (or id), the latest skipped if several."""
        matches = [t for t in self.tickets.values()
                   if t.status == SKIPPED and target in (t.number, t.id)]
        return max(matches, key=lambda t: t.skipped_at or t.issued_at, default=None)

    def _call(self, counter: CounterRecord, record: TicketRecord | None, call_id: str,
              at: datetime, outcome: Outcome, *, recall: bool = False) -> None:
        if record is None:
            return
        if record.status == WAITING:
            self._dequeue(record)
        record.status, record.counter = SERVING, counter.id
        record.called_at = record.called_at or at
        if recall:
            record.recalled_at = at
        record.last_call_at = at
        counter.status, counter.current = CounterStatus.SERVING, record.id
        outcome.counters |= self._counters_of(record.service)
        self._announce(Call(call_id, counter.id, record.id, at, recall=recall), outcome)

    def _announce(self, call: Call, outcome: Outcome) -> None:
        self.recent_calls.appendleft(call)
        outcome.calls.append(call)
        outcome.tickets.append(self.tickets[call.ticket])

    def _release(self, counter: CounterRecord, record: TicketRecord, outcome: Outcome) -> None:
        counter.status, counter.current = CounterStatus.IDLE, None
        outcome.tickets.append(record)

    def _finish(self, counter: CounterRecord, at: datetime, outcome: Outcome) -> None:
        record = self._current(counter)
        if record is None:
            return
        record.status, record.done_at, record.served_at = DONE, at, record.last_call_at
        if record.last_call_at is not None:
            self.durations[record.service].append((at - record.last_call_at).total_seconds())
        counter.last_finished = record.id
        self._release(counter, record, outcome)
        self._closed(record)

    def _closed(self, record: TicketRecord) -> None:
        """A ticket is done or expired for good. The caller runs for months and a busy day
        closes thousands of tickets: only the latest ``closed_kept`` stay whole (with those a
        counter or the board still shows, or a rating may still reach); older ones are
        known by id only, enough to refuse a copy. Their history is in the event log's
        tickets table. Deterministic, so a replay forgets the same tickets."""
        self._closed_order.append(record.id)
        if len(self._closed_order) <= self.closed_kept:
            return
        # A closed ticket is never a counter's current one.
        shown = ({call.ticket for call in self.recent_calls}
                 | {counter.last_finished for counter in self.counters.values()})
        for _ in range(len(self._closed_order) - self.closed_kept):
            oldest = self._closed_order.popleft()
            if oldest in shown:
                self._closed_order.append(oldest)        # still shown: reconsidered later
                continue
            del self.tickets[oldest]
            self.forgotten.add(oldest)

    @property
    def ticket_ids(self) -> set[str]:
        """Every ticket of the day, whole or forgotten."""
        return set(self.tickets) | self.forgotten

    # -- ratings ---------------------------------------------------------------------
    def rate(self, counter_id: str, rating: Rating, at: datetime) -> Outcome:
        counter = self.counters.get(counter_id)
        if counter is None:
            return Outcome.refused(f"unknown counter {counter_id!r}")
        # A rating naming its ticket (web pages) must be for one this counter finished.
        rated = rating.ticket or counter.last_finished
        record = self.tickets.get(rated) if rated else None
        if record is None or record.done_at is None or record.status != DONE \
                or record.counter != counter_id:
            return Outcome.refused("no finished ticket of this counter to rate")
        if record.rating is not None:
            return Outcome.refused("ticket already rated", duplicate=True)
        if not timedelta(0) <= at - record.done_at <= self.rating_window:
            return Outcome.refused("rating outside the window")
        record.rating, record.rated_at, record.rating_reason = rating.score, at, rating.reason
        # The counter's state says its last ticket is rated: the rating device sees it taken.
        return Outcome(tickets=[record], counters={counter_id})

    # -- service days ----------------------------------------------------------------
    def start_day(self, day: str, at: datetime, *,
                  carry: Iterable[TicketRecord] | None = None) -> Outcome:
        """Begin a service day: tickets of earlier days close as expired, the board clears.

        Open tickets printed for this day or later (a kiosk a little ahead of the caller)
        stay, waiting. ``carry`` (from the event log) restores exactly those on replay.
        """
        if self.day is not None and day <= self.day:
            return Outcome.refused("day already started", duplicate=True)
        closed: list[TicketRecord] = []
        if carry is None:
            kept = []
            for record in self.tickets.values():
                if record.status not in OPEN:
                    continue
                if record.day >= day and record.status != SKIPPED:
                    kept.append(record)
                else:
                    record.status, record.expired_at = EXPIRED, at
                    closed.append(record)
        else:
            kept = [TicketRecord.from_dict(r.as_dict()) for r in carry]
        self._reset(day)
        for record in kept:
            record.counter = None if record.status == SERVING else record.counter
            self.tickets[record.id] = record
            self.numbers[(record.day, record.service, record.number)] = record.id
            if record.day > day:
                record.status = WAITING
                self.later.add(record.id)
            else:
                self._enqueue(record)
        return Outcome(tickets=closed + kept, counters=set(self.counters), board=True,
                       carry=tuple(kept))

    # -- views -----------------------------------------------------------------------
    def waiting_for(self, counter_id: str) -> int:
        """Tickets this counter may call: its services' queues and those transferred to it."""
        return self.held[counter_id] + sum(self.waiting[s] for s in self.counter_services[counter_id])

    def snapshot(self) -> dict[str, Any]:
        """The whole logical state as plain data: equal states give equal snapshots."""
        return {
            "day": self.day,
            "tickets": {tid: t.as_dict() for tid, t in sorted(self.tickets.items())},
            "forgotten": sorted(self.forgotten),
            "counters": {cid: vars(c).copy() for cid, c in sorted(self.counters.items())},
            "waiting": dict(self.waiting),
            "held": dict(self.held),
            "recent_calls": [vars(c).copy() for c in self.recent_calls],
            "durations": {s: list(d) for s, d in self.durations.items()},
            "later": sorted(self.later),
        }


def _press_time(command: CounterCommand) -> datetime | None:
    try:
        return command.press_time()
    except (ValueError, OverflowError):
        return None


def _queue_of(record: TicketRecord) -> str:
    return f"@{record.for_counter}" if record.for_counter is not None else record.service


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
