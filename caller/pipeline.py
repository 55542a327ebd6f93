"""What happens to a handled message, in this order: commit → fsync → ack → confirm → announce.

The owner thread handles messages into an :class:`Unsaved` batch and ``commit``\\ s it: one
SQLite commit that only writes the WAL. The ``event-log-sync`` thread fsyncs the WAL (one
fsync covers every commit made while the previous one ran) and hands the generation it put
on disk back through a queue, then wakes the owner. The owner's ``deliver`` takes what
came back and, for each batch on disk, oldest first: acknowledges its messages to the broker,
tells their senders on ``received``, announces its calls. Nothing is acked, confirmed or said
before its fsync; a failed fsync is never retried (after one, Linux may drop the dirty pages
and report the next fsync as a success): ``deliver`` raises and the caller ends, the broker
redelivers what was not acknowledged.

Why a thread: the fsync costs the owner milliseconds per commit (docs/caller.md, the thread
model, ``bench/caller_fsync.py``) while a Next → board round trip is about one.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from motcua.mqtt import Inbound
from motcua.protocol import Refusal

from .engine import Outcome
from .store import EventStore, StoreError

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 400      # commits between checkpoints: ~1,000 WAL pages, SQLite's default


@dataclass
class Unsaved:
    """Messages handled together: acked, confirmed and announced together once on disk."""

    inbound: list[Inbound] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)          # message ids the log now holds
    refused: dict[str, Refusal] = field(default_factory=dict)


@dataclass(frozen=True)
class Synced:
    """From the sync thread: every commit up to ``generation`` is on disk."""

    generation: int


@dataclass(frozen=True)
class SyncFailed:
    """From the sync thread, its last word: the disk refused an fsync."""

    reason: str


class Pipeline:
    """Commit → fsync → ack → confirm → announce for the caller's batches.

    ``ack`` acknowledges one message to the broker, ``confirm`` tells the senders which ids
    the log holds (and which were refused), ``announce`` says the calls of outcomes; all
    three run on the owner thread, in ``deliver`` or ``flush``. ``wake`` is called by the
    sync thread after each hand-back (the owner's inbox wake-up)."""

    def __init__(self, store: EventStore, *, wake: Callable[[], None],
                 ack: Callable[[Inbound], None],
                 confirm: Callable[[list[str], dict[str, Refusal]], None],
                 announce: Callable[[list[Outcome]], None],
                 checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        self.store = store
        self.wake = wake
        self.ack = ack
        self.confirm = confirm
        self.announce = announce
        self.checkpoint_every = checkpoint_every
        self.generation = 0                               # the last commit
        self.pending: list[tuple[int, Unsaved]] = []      # committed, not yet known on disk
        self.failed = ""
        self.syncs = 0                                    # fsyncs done by the sync thread
        self.results: queue.SimpleQueue[Synced | SyncFailed] = queue.SimpleQueue()
        self._wanted = 0
        self._changed = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._sync, name="event-log-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- the owner's side ----------------------------------------------------------------
    def commit(self, batch: Unsaved) -> None:
        """Commit ``batch`` (its ticket history too) and ask for its fsync; raises
        sqlite3.Error if the log refused it (nothing of it is then pending)."""
        self.store.save_tickets(r for o in batch.outcomes for r in o.tickets)
        self.store.commit()
        self.generation += 1
        self.pending.append((self.generation, batch))
        with self._changed:
            self._wanted = self.generation
            self._changed.notify()

    def deliver(self) -> None:
        """Ack, confirm and announce what the sync thread has put on disk since the last
        call; raises StoreError once an fsync failed (what followed it stays pending)."""
        while True:
            try:
                result = self.results.get_nowait()
            except queue.Empty:
                break
            if isinstance(result, SyncFailed):
                self.failed = result.reason
                break
            self._release(result.generation)
        if self.failed:
            raise StoreError(self.failed)

    def flush(self) -> None:
        """At a clean stop: end the sync thread, fsync what is left on this thread, then
        deliver everything."""
        self.close()
        self.deliver()
        self.store.sync()
        self._release(self.generation)

    def close(self) -> None:
        """End the sync thread (after the fsync it may be doing)."""
        with self._changed:
            self._stopping = True
            self._changed.notify()
        if self._thread.is_alive():
            self._thread.join(30)

    def _release(self, generation: int) -> None:
        while self.pending and self.pending[0][0] <= generation:
            _, done = self.pending.pop(0)
            for message in done.inbound:
                self.ack(message)
            if done.ids:
                self.confirm(done.ids, done.refused)
            self.announce(done.outcomes)

    # -- the event-log-sync thread -------------------------------------------------------
    def _sync(self) -> None:
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
                # Never retried (see the module's docstring); the owner stops.
                self.results.put(SyncFailed(f"event log: fsync failed: {exc}"))
                self.wake()
                return
            self.syncs += 1
            done = generation
            self.results.put(Synced(generation))
            self.wake()
            if done - checkpointed >= self.checkpoint_every:
                checkpointed = done
                try:
                    self.store.checkpoint()
                except sqlite3.Error as exc:    # the WAL grows meanwhile; nothing is lost
                    log.warning("event log: checkpoint failed: %s", exc)
