"""``motcua caller``: the office's queue on the hub Pi.

One owner thread reads the inbox. Messages are handled as they come: each is logged to the
event log and applied to the engine. They are committed together once no message came for
``COMMIT_QUIET_S`` (or the oldest waited ``COMMIT_MAX_DELAY_S``), and only then are they
acknowledged to the broker (manual ack), so a crash never eats a ticket or a press. The
commit itself only writes the WAL; its fsync runs on the ``Syncer`` thread, and the acks
(and calls) follow once it is done, so a press that arrives meanwhile is handled at once
rather than held up behind the disk; nobody waits for the caller's acks but the broker.

The board and the counters' states (retained views of the engine) go out just before the
commit, so that the fsync is not on the way from a Next to the screen. They are views, not
promises: if the caller dies before the commit, the broker redelivers the unacknowledged
messages in order, replaying them on the log gives the same engine, and the restarted
caller republishes every view. Calls are announced (``called``, speech) only after the
fsync, so a call is never said for a press that could still be lost.
"""

from __future__ import annotations

import argparse
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from motcua.clock import read_clock
from motcua.config import SiteConfig
from motcua.daemon import Systemd, setup_logging, stop_on_signals
from motcua.errors import ProtocolError
from motcua.mqtt import Inbound, Link, LinkDown, LinkUp, WakingQueue
from motcua.protocol import CounterCommand, Rating, Ticket, Topics, encode
from motcua.service_day import ClockReading, DayKeeper

from . import board
from .engine import Call, Engine, Event, Outcome, TicketRecord
from .intake import check_ticket
from .retention import erase_names, erase_recordings
from .speaker import SpeakerProcess
from .store import EventStore, StoreError
from .voice import spoken_sentence

log = logging.getLogger(__name__)

DEVICE = "hub"
BATCH = 500                 # messages committed together at most
COMMIT_QUIET_S = 0.002      # commit once no message came for this long...
COMMIT_MAX_DELAY_S = 0.01   # ...or once the oldest uncommitted one waited this long
HEALTH_INTERVAL_S = 2.0
CHECKPOINT_EVERY = 400      # commits between checkpoints: ~1,000 WAL pages, SQLite's default


class Syncer:
    """fsyncs the event log's WAL off the owner thread; many commits, one fsync. Every
    ``checkpoint_every`` commits it also checkpoints, after the acks' wake-up.

    ``done`` is the last commit generation on disk; the owner reads it each turn of its
    loop (woken by ``wake``), so acks never queue behind a flood of messages."""

    def __init__(self, store: EventStore, wake: Callable[[], None], *,
                 checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        self.store = store
        self.wake = wake
        self.checkpoint_every = checkpoint_every
        self.done = 0
        self.failed = ""            # set once, by the thread, if the disk refused an fsync
        self._wanted = 0
        self._changed = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="event-log-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request(self, generation: int) -> None:
        with self._changed:
            self._wanted = max(self._wanted, generation)
            self._changed.notify()

    def raise_if_failed(self) -> None:
        """The owner's check: a failed fsync ends the daemon (nothing after it is acked)."""
        if self.failed:
            raise StoreError(self.failed)

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()
        if self._thread.is_alive():
            self._thread.join(30)

    def _run(self) -> None:
        done = checkpointed = 0
        while True:
            with self._changed:
                while self._wanted <= done and not self._stopping:
                    self._changed.wait()
                if self._wanted <= done:
                    return
                generation = self._wanted
            try:
                self.store.sync()
            except OSError as exc:
                # Never retried: after a failed fsync Linux may drop the dirty pages and
                # report success next time, so a retry could ack what is not on disk. The
                # owner stops; systemd restarts it; the broker redelivers what was not acked.
                self.failed = f"event log: fsync failed: {exc}"
                self.wake()
                return
            done = self.done = generation
            self.wake()
            if done - checkpointed >= self.checkpoint_every:
                checkpointed = done
                try:
                    self.store.checkpoint()
                except sqlite3.Error as exc:    # the WAL grows meanwhile; nothing is lost
                    log.warning("event log: checkpoint failed: %s", exc)


@dataclass(frozen=True)
class VoiceHealth:
    """The announcer's state, sent from its thread to the owner thread."""

    health: dict[str, Any]


class Caller:
    """The caller's adapters around the engine; everything runs on the owner thread."""

    def __init__(self, config: SiteConfig, *, db: Path, audio: str,
                 clock: Callable[[], ClockReading] = read_clock) -> None:
        self.config = config
        self.topics = Topics(config.site.id)
        self.inbox: queue.Queue = WakingQueue()
        queue_settings = config.caller.queue
        self.engine = Engine({c.id: c.services for c in config.counters},
                             priority=queue_settings.priority,
                             priority_every=queue_settings.priority_every,
                             order=queue_settings.order,
                             rating_window_s=config.caller.ratings.window_s)
        self.store = EventStore(db, sync_apart=True)
        self.syncer = Syncer(self.store, self.inbox.wake)
        self._generation = 0
        self._unsynced: list[tuple[int, list[Inbound], list[Outcome]]] = []   # committed, not on disk
        replayed = 0
        for event in self.store.replay():
            self.engine.apply(event)
            replayed += 1
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
        self.link = Link(config.broker, self.topics, role="caller", device=DEVICE, inbox=self.inbox,
                         subscriptions=[(self.topics.ticket_all, 1), (self.topics.ticket, 1),
                                        (self.topics.counter_cmd_all, 1),
                                        (self.topics.counter_rating_all, 1)],
                         persistent_session=True, manual_ack=True, owner_polls=True)
        self.seq = 0
        self._unsaved: list[Inbound] = []           # handled, not yet committed nor acked
        self._unsaved_outcomes: list[Outcome] = []
        self._first_unsaved = self._last_inbound = 0.0
        self.counts = {"events": replayed, "dropped": 0, "duplicates": 0, "refused": 0,
                       "forged": 0}
        self._health_due = 0.0

    # -- lifecycle -------------------------------------------------------------------
    def serve(self, stop: threading.Event, systemd: Systemd | None = None) -> None:
        systemd = systemd or Systemd()
        self.roll_day()
        if self.engine.day:
            self.erase_old_names(self.engine.day)
        self.announcer.start()
        self.syncer.start()
        self.link.start()
        systemd.ready(f"day {self.engine.day}")
        tick = min(1.0, systemd.watchdog_interval or 1.0)
        try:
            while not stop.is_set():
                # The network loop runs here too (owner_polls): a press is read, handled
                # and its board written by this one thread.
                self.link.poll(self.poll_timeout(tick))
                batch = []
                while len(batch) < BATCH:
                    try:
                        batch.append(self.inbox.get_nowait())
                    except queue.Empty:
                        break
                self.handle(batch)
                if self.commit_due():
                    self.save()
                self.synced(self.syncer.done)
                self.syncer.raise_if_failed()
                self.roll_day()
                self.report_health()
                systemd.watchdog()
            self.save()
            self.syncer.stop()
            self.syncer.raise_if_failed()
            self.store.sync()                   # the last commits, then their acks
            self.synced(self._generation)
        finally:
            systemd.stopping()
            self.syncer.stop()
            self.announcer.stop()
            self.link.stop()
            self.store.close()

    # -- the owner loop's work -------------------------------------------------------
    def handle(self, batch: list) -> None:
        now = datetime.now().astimezone()
        inbound: list[Inbound] = []
        outcomes: list[Outcome] = []
        republish = False
        for item in batch:
            if isinstance(item, Inbound):
                inbound.append(item)
                event = self.to_event(item, now)
                if event is None:
                    continue
                if not self.store.append(event):
                    self.counts["duplicates"] += 1
                    continue
                self.counts["events"] += 1
                outcome = self.engine.apply(event)
                if outcome.duplicate:
                    self.counts["duplicates"] += 1
                elif not outcome.applied:
                    self.counts["refused"] += 1
                    log.info("%s %s refused: %s", event.kind, event.counter or "", outcome.reason)
                outcomes.append(outcome)
            elif isinstance(item, LinkUp):
                log.info("broker connected (session kept: %s)", item.session_present)
                republish = True
            elif isinstance(item, LinkDown):
                log.warning("broker lost: %s", item.reason)
            elif isinstance(item, VoiceHealth):
                self.link.set_health(**item.health)
        self.publish_views(outcomes, everything=republish)
        if inbound:
            self._last_inbound = time.monotonic()
            if not self._unsaved:
                self._first_unsaved = self._last_inbound
            self._unsaved += inbound
            self._unsaved_outcomes += outcomes

    def commit_due(self) -> bool:
        now = time.monotonic()
        return bool(self._unsaved) and (
            now - self._last_inbound >= COMMIT_QUIET_S
            or now - self._first_unsaved >= COMMIT_MAX_DELAY_S or len(self._unsaved) >= BATCH)

    def poll_timeout(self, tick: float) -> float:
        if not self._unsaved:
            return tick
        due = min(self._last_inbound + COMMIT_QUIET_S, self._first_unsaved + COMMIT_MAX_DELAY_S)
        return max(0.0, due - time.monotonic())

    def save(self) -> None:
        """Commit what was handled; the Syncer puts it on disk, then ``synced`` acks it."""
        if not self._unsaved:
            return
        outcomes, inbound = self._unsaved_outcomes, self._unsaved
        self._unsaved, self._unsaved_outcomes = [], []
        self.store.save_tickets(r for o in outcomes for r in o.tickets)
        self.store.commit()
        self._generation += 1
        self._unsynced.append((self._generation, inbound, outcomes))
        self.syncer.request(self._generation)

    def synced(self, generation: int) -> None:
        """Commits up to ``generation`` are on disk: acknowledge them, announce their calls."""
        while self._unsynced and self._unsynced[0][0] <= generation:
            _, inbound, outcomes = self._unsynced.pop(0)
            for message in inbound:
                self.link.ack(message)
            self.announce_calls(outcomes)

    def to_event(self, message: Inbound, now: datetime) -> Event | None:
        """Decode one message; a malformed one is logged (without its payload) and dropped."""
        try:
            if message.retain:
                raise ProtocolError("retained messages are not commands")
            sender = self.topics.kiosk_of(message.topic)
            if message.topic == self.topics.ticket or sender is not None:
                ticket = Ticket.decode(message.payload)
                refusal = check_ticket(ticket, self.config, now, sender=sender)
                if refusal is not None:         # caller/intake.py: never queued, never spoken
                    self.counts["forged"] += 1
                    log.warning("refused ticket %r of kiosk %r: %s", ticket.number, ticket.kiosk,
                                refusal.value)
                    return None
                return Event("ticket", ticket.id, now, ticket=ticket)
            counter = self.topics.counter_of(message.topic)
            if message.topic == self.topics.counter_cmd(counter):
                command = CounterCommand.decode(message.payload)
                return Event("command", command.id, now, counter=counter, command=command)
            rating = Rating.decode(message.payload)
            return Event("rating", rating.id, now, counter=counter, rating=rating)
        except ProtocolError as exc:
            self.counts["dropped"] += 1
            log.warning("dropped a message on %s: %s", message.topic, exc)
            return None

    def roll_day(self) -> None:
        """Start a new service day when the day keeper says so (days never go back)."""
        day = self.days.observe(self.clock()).isoformat()
        if self.engine.day is not None and day <= self.engine.day:
            return
        self.save()                 # the old day's last presses first
        now = datetime.now().astimezone()
        outcome = self.engine.start_day(day, now)
        self.store.append(Event("day", f"day:{day}", now, day=day, carry=outcome.carry))
        self.store.save_tickets(outcome.tickets)
        self.store.commit()
        log.info("service day %s begins: %d tickets carried over", day, len(outcome.carry))
        self.publish([outcome], everything=True)
        self.erase_old_names(day)

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

    def report_health(self) -> None:
        now = time.monotonic()
        if now < self._health_due:
            return
        self._health_due = now + HEALTH_INTERVAL_S
        self.link.set_health(day=self.engine.day, waiting=sum(self.engine.waiting.values()),
                             **self.counts)


def run(config: SiteConfig, options: argparse.Namespace) -> int:
    setup_logging("caller", DEVICE, verbose=getattr(options, "verbose", False))
    stop = stop_on_signals()
    db = Path(options.db) if getattr(options, "db", None) else config.site.state_dir / "caller.db"
    caller = Caller(config, db=db, audio=getattr(options, "audio", "speaker"))
    caller.serve(stop)
    return 0
