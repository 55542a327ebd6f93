"""``motcua caller``: the office's queue on the hub Pi.

One owner thread reads the inbox. Messages are handled as they come: each is logged to the
event log and applied to the engine. They are committed together once no message came for
``COMMIT_QUIET_S`` (or the oldest waited ``COMMIT_MAX_DELAY_S``), and only then are they
acknowledged to the broker (manual ack), so a crash never eats a ticket or a press. The
commit itself only writes the WAL; its fsync runs on the ``event-log-sync`` thread, and the
acks (and calls) follow once it is done (caller/pipeline.py), so a press that arrives
meanwhile is handled at once rather than held up behind the disk; nobody waits for the
caller's acks but the broker. The loop itself is the daemon frame's (motcua/daemon.py).

The board and the counters' states (retained views of the engine) go out just after the
commit, before its fsync, so that the fsync is not on the way from a Next to the screen,
and a state the event log refused (a full disk) is never shown. Calls are announced
(``called``, speech) and the senders told which ids are in the log (``received``, the
end-to-end confirmation the kiosk and the pads wait for) only after the fsync.

The caller beats (``heartbeat``) every second from this owner thread, so a caller that
is frozen or busy stops beating and the boards and pads say so.

When the event log cannot be written (disk full, I/O error) the caller does not crash:
it rolls back, rebuilds the engine from what the log holds, says so in its heartbeat and
status, and leaves new messages unacknowledged; it tries the disk again every few
seconds and, once it can write, reconnects so that the broker delivers them again.
"""

from __future__ import annotations

import argparse
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from motcua.clock import read_clock
from motcua.config import SiteConfig
from motcua.daemon import Drops, Pace, Systemd, closing_on_error, run_daemon, setup_logging, stop_on_signals
from motcua.delivery import HEARTBEAT_S
from motcua.errors import ProtocolError
from motcua.mqtt import Inbound, LinkDown, LinkUp, OwnerPolledLink, Session, WakingQueue
from motcua.protocol import (
    CounterCommand,
    Heartbeat,
    Rating,
    Received,
    Refusal,
    Ticket,
    Topics,
    encode,
    message_id,
)
from motcua.service_day import ClockReading, DayKeeper, service_day

from . import board
from .engine import Call, Engine, Event, EventKind, Held, Outcome, TicketRecord
from .intake import Forgery, Order, judge_ticket
from .pipeline import Pipeline, Unsaved
from .retention import erase_names, erase_recordings
from .speaker import SpeakerProcess
from .store import DamagedLog, EventStore, StoreError, quick_check, set_aside, wal_damage
from .voice import spoken_sentence

log = logging.getLogger(__name__)

DEVICE = "hub"
BATCH = 500                 # messages committed together at most
# The board waits for the commit that holds its state (it never shows an unsaved one), and a
# commit only writes the WAL (the pipeline's thread fsyncs it): so commit as soon as what
# has arrived is handled; a burst still makes batches, of what one poll read.
COMMIT_QUIET_S = 0.0        # commit once no message came for this long...
COMMIT_MAX_DELAY_S = 0.01   # ...or once the oldest uncommitted one waited this long
HEALTH_INTERVAL_S = 2.0
TICK_S = 1.0                # the day, the disk's retry, the heartbeat: checked at least this often
PROBE_S = 2.0               # while the event log refuses writes, try it again this often
CHECK_MARK = ".check"       # next to the log: the last run met a damaged page, check it at start


@dataclass(frozen=True)
class Refused:
    """A message that changes nothing and is not logged (a ticket caller/intake.py refused, or
    one that does not decode), confirmed with ``code`` so that its sender stops resending it."""

    id: str
    code: Refusal


@dataclass(frozen=True)
class VoiceHealth:
    """The announcer's state, sent from its thread to the owner thread."""

    health: dict[str, Any]


class Caller:
    """The caller's adapters around the engine; everything runs on the owner thread."""

    def __init__(self, config: SiteConfig, *, db: Path, audio: str,
                 clock: Callable[[], ClockReading] = read_clock,
                 max_press_age_s: float | None = None) -> None:
        self.config = config
        self.topics = Topics(config.site.id)
        self.inbox: queue.Queue = WakingQueue()
        queue_settings = config.caller.queue
        self.max_press_age_s = max_press_age_s or queue_settings.max_press_age_s
        self.damage = ""                            # what was set aside at start, for the status
        self.store, self.engine, replayed = self.open_log(db)
        log.info("event log %s: %d events replayed, day %s, %d waiting", db, replayed,
                 self.engine.day, sum(self.engine.waiting.values()))
        # The hub's clock may jump like any Pi's: the queue's day follows the same rules as
        # the kiosk's numbers (motcua/service_day.py), starting from the replayed day.
        self.clock = clock
        self.days = DayKeeper(config.site.tz, config.site.day_starts_at,
                              date.fromisoformat(self.engine.day) if self.engine.day else None,
                              trust_wall_clock=queue_settings.trust_clock)
        self.counter_names = {c.id: c.name for c in config.counters}
        self.audio = audio
        self.announcer = SpeakerProcess(
            config.caller.voice, audio, on_health=lambda health: self.inbox.put(VoiceHealth(health)))
        self.link = OwnerPolledLink(config.broker, self.topics, role="caller", device=DEVICE,
                                    inbox=self.inbox,
                                    subscriptions=[(self.topics.ticket_all, 1), (self.topics.ticket, 1),
                                                   (self.topics.counter_cmd_all, 1),
                                                   (self.topics.counter_rating_all, 1)],
                                    session=Session.KEPT_UNTIL_ACKED)
        self.pipeline = Pipeline(self.store, wake=self.inbox.wake, ack=self.link.ack,
                                 confirm=self.confirm, announce=self.announce_calls)
        self.seq = 0
        self._unsaved = Unsaved()                   # handled, not yet committed nor acked
        self._first_unsaved = self._last_inbound = 0.0
        self._republish = False                     # every view, once the engine is saved
        self.drops = Drops(log)
        self.counts = {"events": replayed, "duplicates": 0, "refused": 0,
                       "stale": 0, "deferred": 0, "forged": 0, "by_arrival": 0}
        self.refusing: str | None = None            # why the event log cannot be written now
        self._probe_due = 0.0
        self._beat_due = 0.0
        self._beats = 0
        self._day_disagreement = ""

    def open_log(self, db: Path) -> tuple[EventStore, Engine, int]:
        """Open the event log and replay it. A damaged one is set aside with a clear message
        rather than a traceback in a restart loop (docs/reliability.md says how to recover)."""
        mark = Path(f"{db}{CHECK_MARK}")
        if mark.exists():
            # The last run met a damaged page mid-day: check the whole file now.
            problem = quick_check(db)
            mark.unlink()
            if problem:
                aside = set_aside(db)
                self.damage = f"event log {db} is damaged ({problem}); set aside as {aside.name}"
                log.error("%s: starting an empty event log (docs/reliability.md, a damaged "
                          "event log)", self.damage)
        damage = wal_damage(db)
        if damage:
            aside = set_aside(db, copy=True)
            self.damage = f"{damage}; a copy is kept as {aside.name}"
            log.error("event log damaged: %s; going on with what it holds before the damage "
                      "(docs/reliability.md, a damaged event log)", self.damage)
        try:
            self.store = EventStore(db, sync_apart=True)
            engine, replayed = self.load_engine()
            return self.store, engine, replayed
        except (DamagedLog, sqlite3.DatabaseError) as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise
            if isinstance(getattr(self, "store", None), EventStore):
                self.store.close()
            aside = set_aside(db)
            self.damage = f"event log {db} cannot be read ({exc}); set aside as {aside.name}"
            log.error("%s: starting an empty event log (docs/reliability.md, a damaged event log)",
                      self.damage)
        self.store = EventStore(db, sync_apart=True)
        engine, replayed = self.load_engine()
        return self.store, engine, replayed

    def load_engine(self) -> tuple[Engine, int]:
        """An engine with the event log replayed: what the caller has saved, nothing more."""
        queue_settings = self.config.caller.queue
        engine = Engine({c.id: c.services for c in self.config.counters},
                        priority=queue_settings.priority,
                        priority_every=queue_settings.priority_every,
                        order=queue_settings.order,
                        rating_window_s=self.config.caller.ratings.window_s,
                        max_press_age_s=self.max_press_age_s)
        replayed = 0
        for event in self.store.replay():
            engine.apply(event)
            replayed += 1
        return engine, replayed

    # -- lifecycle -------------------------------------------------------------------
    def serve(self, stop: threading.Event, systemd: Systemd | None = None) -> None:
        """Run on the daemon frame until ``stop``; at a clean stop the last commits are put
        on disk and acknowledged before the link goes."""
        systemd = systemd or Systemd()
        opened: list = [self.store, self.announcer, self.pipeline]
        with closing_on_error(opened):
            self.roll_day()
            if self.engine.day:
                self.erase_names_safely(self.engine.day)
            self.announcer.start()
            self.pipeline.start()
        # The network loop runs on the owner too (OwnerPolledLink): a press is read, handled
        # and its board written by this one thread.
        run_daemon(self, link=self.link, inbox=self.inbox, stop=stop, systemd=systemd,
                   ready=f"day {self.engine.day}", opened=opened,
                   pace=Pace(health_s=HEALTH_INTERVAL_S, tick_every_turn=True, polled=True, batch=BATCH),
                   finish=self.finish)

    def finish(self) -> None:
        self.save()
        self.pipeline.flush()

    # -- the owner loop's work -------------------------------------------------------
    def handle(self, item: object) -> None:
        if isinstance(item, Inbound):
            self.take(item)
        elif isinstance(item, LinkUp):
            log.info("broker connected (session kept: %s)", item.session_present)
            self._republish = True
        elif isinstance(item, LinkDown):
            log.warning("broker lost: %s", item.reason)
        elif isinstance(item, VoiceHealth):
            self.link.set_health(**item.health)

    def take(self, message: Inbound) -> None:
        """Log one message and apply it; it is committed with its batch (``save``)."""
        if self.refusing:
            # Not acknowledged: the broker delivers it again after the reconnect
            # that follows the event log's recovery; senders keep it meanwhile.
            self.counts["deferred"] += 1
            return
        arrived = time.monotonic()
        if not self._unsaved.inbound:
            self._first_unsaved = arrived
        self._last_inbound = arrived
        handled = self._unsaved
        handled.inbound.append(message)
        event = self.to_event(message, datetime.now().astimezone())
        if event is None:
            return
        handled.ids.append(event.id)
        if isinstance(event, Refused):
            handled.refused[event.id] = event.code
            return
        try:
            fresh = self.store.append(event)
        except sqlite3.Error as exc:
            self.storage_failed(exc)    # nothing unsaved is acked: the broker sends it again
            return
        if not fresh:
            self.counts["duplicates"] += 1
            if code := self.engine.refusal(event.id):   # a copy is told what the first was
                handled.refused[event.id] = code
            return
        self.counts["events"] += 1
        outcome = self.engine.apply(event)
        self.note(event, outcome)
        if isinstance(outcome.code, Refusal):
            handled.refused[event.id] = outcome.code
        handled.outcomes.append(outcome)

    def tick(self, now: float) -> float:
        """After every turn: commit what is due, hand on what is on disk, the day, the
        disk's retry, the heartbeat; how long the next wait may be."""
        if self._republish and not self._unsaved.inbound:
            self._republish = False
            self.publish_views([], everything=True)
        if self.commit_due():
            self.save()
        self.pipeline.deliver()
        self.roll_day()
        self.retry_storage()
        self.beat()
        return self.poll_timeout(TICK_S)

    def note(self, event: Event, outcome: Outcome) -> None:
        """Count and log what an event did not do."""
        if outcome.duplicate:
            self.counts["duplicates"] += 1
        elif outcome.code == Held.HELD:
            log.warning("ticket %s held: %s; it is called once that day begins here",
                        event.ticket.number if event.ticket else event.id, outcome.reason)
        elif outcome.code in (Refusal.EXPIRED, Refusal.DUPLICATE_NUMBER):
            self.counts["refused"] += 1
            log.warning("ticket %s %s: %s", event.ticket.number if event.ticket else event.id,
                        str(outcome.code).replace("_", " "), outcome.reason)
        elif outcome.code == Refusal.STALE:
            self.counts["stale"] += 1
            log.warning("counter %s: %s refused as stale (limit %g s)", event.counter,
                        outcome.reason, self.max_press_age_s)
        elif not outcome.applied:
            self.counts["refused"] += 1
            log.info("%s %s refused: %s", event.kind, event.counter or "", outcome.reason)
        elif event.rating is not None:
            log.info("rating %d (%s) of ticket %s at counter %s", event.rating.score,
                     event.rating.reason or "-", outcome.tickets[0].number, event.counter)

    def commit_due(self) -> bool:
        now = time.monotonic()
        return bool(self._unsaved.inbound) and (
            now - self._last_inbound >= COMMIT_QUIET_S
            or now - self._first_unsaved >= COMMIT_MAX_DELAY_S or len(self._unsaved.inbound) >= BATCH)

    def poll_timeout(self, tick: float) -> float:
        tick = min(tick, max(0.0, self._beat_due - time.monotonic()))
        if not self._unsaved.inbound:
            return tick
        due = min(self._last_inbound + COMMIT_QUIET_S, self._first_unsaved + COMMIT_MAX_DELAY_S)
        return max(0.0, due - time.monotonic())

    def save(self) -> None:
        """Commit what was handled and show it; the pipeline puts it on disk, then acks it,
        confirms it to its senders and announces its calls."""
        if not self._unsaved.inbound:
            return
        unsaved, self._unsaved = self._unsaved, Unsaved()
        try:
            self.pipeline.commit(unsaved)
        except sqlite3.Error as exc:
            self.storage_failed(exc)
            return
        everything, self._republish = self._republish, False
        self.publish_views(unsaved.outcomes, everything=everything)

    def confirm(self, ids: list[str], refused: dict[str, Refusal]) -> None:
        """Tell the senders which of their ids the log holds (and which it refused)."""
        self.link.publish(self.topics.received, encode(Received(ids=ids, refused=refused)))

    # -- a full disk, an I/O error ---------------------------------------------------
    def storage_failed(self, exc: sqlite3.Error) -> None:
        """The event log refused a write: undo what it does not hold, refuse new work.

        A damaged file (not a full disk) is not waited out: the caller leaves a mark for its
        next start, which checks the file and sets it aside, and ends (systemd restarts it;
        the broker delivers again what was not acknowledged)."""
        self.store.rollback()
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            try:
                Path(f"{self.store.path}{CHECK_MARK}").write_text(f"{exc}\n", encoding="utf-8")
            except OSError as mark_failed:
                log.error("cannot leave the check mark for the next start: %s", mark_failed)
            raise StoreError(f"event log {self.store.path} is damaged ({exc}): the next start "
                             "checks it and sets it aside")
        self._unsaved = Unsaved()
        self.engine, _ = self.load_engine()
        if self.refusing is None:
            log.error("event log %s cannot be written (%s): refusing new tickets and presses "
                      "until it can; nothing acknowledged is lost", self.store.path, exc)
        self.refusing = f"event log cannot be written: {exc}"
        self._probe_due = time.monotonic() + PROBE_S
        self.link.set_health(refusing=self.refusing)
        self._beat_due = 0.0            # say it now

    def retry_storage(self) -> None:
        """While refusing, try the disk every PROBE_S; once it writes, take work again."""
        if self.refusing is None or time.monotonic() < self._probe_due or self.pipeline.pending:
            return          # (acks of earlier commits go on this connection, not the next one)
        self._probe_due = time.monotonic() + PROBE_S
        try:
            self.store.probe()
        except sqlite3.Error:
            return
        log.info("event log %s can be written again: taking tickets and presses", self.store.path)
        self.refusing = None
        self.link.set_health(refusing=None)
        self._beat_due = 0.0
        self._republish = True
        # The broker sends the messages it holds unacknowledged again only on a new connection.
        try:
            self.link.reconnect()
        except OSError as exc:
            log.warning("reconnect after the event log's recovery: %s", exc)

    def beat(self) -> None:
        """The heartbeat, from this owner thread: a frozen caller stops beating."""
        now = time.monotonic()
        if now < self._beat_due:
            return
        self._beat_due = now + HEARTBEAT_S
        self._beats += 1
        at = datetime.now().astimezone().isoformat(timespec="milliseconds")
        self.link.publish(self.topics.heartbeat, encode(Heartbeat(
            at=at, seq=self._beats, day=self.engine.day, accepting=self.refusing is None,
            reason=self.refusing[:200] if self.refusing else None)), qos=0)

    def to_event(self, message: Inbound, now: datetime) -> Event | Refused | None:
        """Decode one message; a malformed one is logged (without its payload) and dropped."""
        with self.drops.guard(message.topic):
            if message.retain:
                raise ProtocolError("retained messages are not commands")
            sender = self.topics.kiosk_of(message.topic)
            if message.topic == self.topics.ticket or sender is not None:
                ticket = Ticket.decode(message.payload)
                reading = self.clock()          # the hub's clock, as the day keeper reads it
                hub_now = datetime.fromtimestamp(reading.wall).astimezone()
                verdict = judge_ticket(ticket, self.config, hub_now, sender=sender,
                                       clock_trusted=reading.synced or self.days.trust_wall_clock)
                if isinstance(verdict, Forgery):    # caller/intake.py: never queued, never spoken
                    self.counts["forged"] += 1
                    log.warning("refused ticket %r of kiosk %r: %s", ticket.number, ticket.kiosk,
                                verdict.value)
                    return Refused(ticket.id, Refusal.FORGED)
                if verdict is Order.ARRIVAL:        # its kiosk's clock is off (1970 after a power cut)
                    self.counts["by_arrival"] += 1
                    log.warning("ticket %r of kiosk %r was issued at %s by the kiosk's clock, which is "
                                "off: queued by its arrival; set that kiosk's clock (docs/reliability.md)",
                                ticket.number, ticket.kiosk, ticket.issued_at)
                    ticket = replace(ticket, issued_at=hub_now.isoformat(timespec="milliseconds"))
                return Event(EventKind.TICKET, ticket.id, now, ticket=ticket)
            counter = self.topics.counter_of(message.topic)
            if message.topic == self.topics.counter_cmd(counter):
                command = CounterCommand.decode(message.payload)
                return Event(EventKind.COMMAND, command.id, now, counter=counter, command=command)
            rating = Rating.decode(message.payload)
            return Event(EventKind.RATING, rating.id, now, counter=counter, rating=rating)
        # Dropped. One with an id (a sender of a newer protocol version, say) is confirmed as
        # refused, or its sender would send it again every few seconds.
        msg_id = None if message.retain else message_id(message.payload)
        return Refused(msg_id, Refusal.REFUSED) if msg_id and len(msg_id) <= 64 else None

    def roll_day(self) -> None:
        """Start a new service day when the day keeper says so (days never go back), or when
        a kiosk printed for a later day and this hub's own clock reads that day too."""
        reading = self.clock()
        day = self.days.observe(reading).isoformat()
        if self.engine.day is not None and day <= self.engine.day:
            agreed = self.agreed_day(reading)
            if agreed is None:
                return
            day = agreed
        if self.refusing:
            return
        self.save()                 # the old day's last presses first
        if self.refusing:
            return
        now = datetime.now().astimezone()
        outcome = self.engine.start_day(day, now)
        try:
            self.store.append(Event(EventKind.DAY, f"day:{day}", now, day=day, carry=outcome.carry))
            self.store.save_tickets(outcome.tickets)
            self.store.commit()
        except sqlite3.Error as exc:
            self.storage_failed(exc)
            return
        log.info("service day %s begins: %d tickets carried over", day, len(outcome.carry))
        self.publish([outcome], everything=True)
        self.erase_names_safely(day)

    def erase_names_safely(self, today: str) -> None:
        """Erase old names; a full disk only postpones it, a damaged file ends the caller."""
        try:
            self.erase_old_names(today)
        except sqlite3.OperationalError as exc:
            log.warning("names of old tickets not erased now: %s", exc)
        except sqlite3.DatabaseError as exc:
            self.storage_failed(exc)

    def agreed_day(self, reading: ClockReading) -> str | None:
        """A later day that tickets were printed for, if this hub's wall clock reads it too
        (synchronised or not): two devices agree, so the old day's queue closes rather than
        mixing with the new one. Without that agreement the tickets stay held."""
        if not self.engine.later or self.engine.day is None:
            return None
        later = min(self.engine.tickets[t].day for t in self.engine.later)
        own = service_day(reading.wall, self.config.site.tz, self.config.site.day_starts_at).isoformat()
        if own >= later:
            self._day_disagreement = ""
            self.days.day = date.fromisoformat(later)
            log.warning("service day %s begins: tickets were printed for it and this hub's clock "
                        "(not synchronised) reads it too", later)
            return later
        disagreement = f"tickets printed for {later}, this hub's clock reads {own}"
        if disagreement != self._day_disagreement:
            self._day_disagreement = disagreement
            log.error("%s: they are held, not called, until this hub's day begins "
                      "(set the hub's clock; docs/reliability.md)", disagreement)
        return None

    def erase_old_names(self, today: str) -> None:
        """Names older than [privacy] erase_names_after_days leave the database (counts stay)."""
        keep = self.config.caller.erase_names_after_days
        before = (date.fromisoformat(today) - timedelta(days=keep)).isoformat()
        erased = erase_names(self.store.db, before)
        if erased:
            log.info("erased the names of tickets before %s (%d rows)", before, erased)
        if self.audio.startswith("wav:"):       # recorded calls speak the names too
            removed = erase_recordings(Path(self.audio[4:]), before, self.config.site.tz,
                                       self.config.site.day_starts_at)
            if removed:
                log.info("deleted %d recorded calls from before %s", removed, before)

    def publish(self, outcomes: list[Outcome], *, everything: bool = False) -> None:
        """Views and calls, for outcomes already committed."""
        self.publish_views(outcomes, everything=everything)
        self.announce_calls(outcomes)

    def announce_calls(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            for call in outcome.calls:
                self.announce(call)

    def publish_views(self, outcomes: list[Outcome], *, everything: bool = False) -> None:
        """The board, then the counters' own screens (retained)."""
        counters = set(self.engine.counters) if everything else {
            c for o in outcomes for c in o.counters}
        if not (counters or everything or any(o.board or o.calls for o in outcomes)):
            return
        now = datetime.now().astimezone()
        seq = self.next_seq()
        day = self.engine.day or self.days.observe(self.clock()).isoformat()
        self.link.publish(self.topics.board, encode(board.board_message(
            self.engine, seq=seq, now=now, day=day)), retain=True)
        for counter_id in sorted(counters):
            state = board.counter_state(self.engine, counter_id, seq=seq)
            self.link.publish(self.topics.counter_state(counter_id), encode(state), retain=True)

    def announce(self, call: Call) -> None:
        ticket: TicketRecord | None = self.engine.tickets.get(call.ticket)
        if ticket is None:
            return
        sentence = spoken_sentence(self.config.caller.voice, number=ticket.number,
                                   counter_name=self.counter_names[call.counter], name=ticket.name)
        self.link.publish(self.topics.called, encode(board.called_message(self.engine, call, sentence)))
        self.announcer.announce(call.id, sentence)

    def next_seq(self) -> int:
        # Milliseconds since the epoch, so a restarted caller's boards still supersede the
        # old retained ones; +1 when publishing faster than that.
        self.seq = max(self.seq + 1, time.time_ns() // 1_000_000)
        return self.seq

    def health(self) -> dict[str, object]:
        health: dict[str, object] = dict(day=self.engine.day, waiting=sum(self.engine.waiting.values()),
                                         held=len(self.engine.later), dropped=self.drops.count,
                                         **self.counts)
        if self.damage:
            health["event_log_damaged"] = self.damage
        return health


def run(config: SiteConfig, options: argparse.Namespace) -> int:
    setup_logging("caller", DEVICE, verbose=getattr(options, "verbose", False))
    stop = stop_on_signals()
    db = Path(options.db) if getattr(options, "db", None) else config.site.state_dir / "caller.db"
    caller = Caller(config, db=db, audio=getattr(options, "audio", "speaker"))
    caller.serve(stop)
    return 0
