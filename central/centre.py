"""``motcua central``: every hub's history into PostgreSQL, in order per site, each row once.

One owner thread: paho's callbacks only enqueue (motcua.mqtt.Link). Messages are taken in
batches, written in one transaction, and acknowledged to the central broker (manual ack,
persistent session) only after the commit: a crash of the centre loses nothing. Gaps are
asked for again on the hub's ``history/request``; what is written is confirmed, retained, on
``history/ack``.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from motcua.daemon import Drops, Pace
from motcua.errors import MotcuaError, ProtocolError
from motcua.protocol import (
    HistoryAck,
    HistoryEvent,
    HistoryHead,
    HistoryRequest,
    HistoryTopics,
    Status,
    encode,
    new_id,
)

from .bridge import CENTRE_TOPICS, CENTRE_USER
from .sequencer import Sequencer
from .store import CentralStore, CentralStoreError

log = logging.getLogger(__name__)

BATCH_MAX = 2500          # half the central broker's in-flight window (5,000): while one batch
                          # commits, the broker has already sent the next into the socket
POLL_S = 0.2
COMMIT_CHECK_S = 0.005    # while a batch commits: how soon its acknowledgement is looked for
IN_FLIGHT_MAX = 2         # batches submitted, not yet acknowledged: one writing, one waiting
STOP_WAIT_S = 60.0        # at a clean stop, how long the last commits are waited for
# The frame polls the link, hands every message to handle(), then ticks: a batch grows while
# the socket still holds messages and is written on the first turn that brings none.
PACE = Pace(tick_every_turn=True, polled=True, batch=BATCH_MAX)

SUBSCRIPTIONS = [("motcua/+/history/event", 1), ("motcua/+/history/head", 1),
                 ("motcua/+/status/#", 1)]


def centre_link(broker: Any, inbox: Any) -> Any:
    """The centre's link: manual acks on a persistent session, polled by the owner thread
    (paho's callbacks run there and only enqueue: no thread hand-over per message)."""
    from motcua.mqtt import OwnerPolledLink, Session
    from motcua.protocol import Topics

    return OwnerPolledLink(broker, Topics(CENTRE_TOPICS), role="central", device="main",
                           inbox=inbox, session=Session.KEPT_UNTIL_ACKED,
                           subscriptions=SUBSCRIPTIONS)


BIGINT_MAX = 2**63 - 1    # PostgreSQL's bigint (history.seq, prev; site_logs.upto, head)


def _storable(value: Any, what: str) -> None:
    """What PostgreSQL's text and jsonb refuse, refused here as a malformed message: a write
    that fails stops the centre (a batch cannot be half written), a message dropped does not.
    NUL (\\u0000), a lone surrogate (not UTF-8), NaN and infinities (not JSON numbers)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ProtocolError(f"{what}: a string holds NUL (\\u0000)")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError(f"{what}: a string is not UTF-8 (a lone surrogate)") from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ProtocolError(f"{what}: a number is not finite ({value})")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key, what)
            _storable(item, what)
    elif isinstance(value, list):
        for item in value:
            _storable(item, what)


def storable_event(event: HistoryEvent) -> None:
    if event.seq > BIGINT_MAX:
        raise ProtocolError(f"history event: seq {event.seq} is over {BIGINT_MAX}")
    # Its text fields are free of control characters (HistoryEvent.decode), not of surrogates.
    _storable([event.site, event.id, event.at, event.counter or "", event.log, event.body],
              "history event")


def storable_status(status: Status) -> Status:
    _storable([status.role, status.device, status.at or "", status.health], "status")
    if status.at is not None:
        try:
            datetime.fromisoformat(status.at)     # device_status.at is a timestamptz
        except ValueError:
            raise ProtocolError(f"status: at {status.at!r} is not a time") from None
    return status


class Centre:
    def __init__(self, store: CentralStore, link: Any, *, grace_s: float = 2.0,
                 retry_s: float = 10.0) -> None:
        self.store = store
        self.link = link
        self.sequencer = Sequencer(store.positions(), store.current(), grace_s=grace_s,
                                   retry_s=retry_s)
        self.confirmed: dict[str, tuple[str, int]] = {}
        self.written = 0
        self.drops = Drops(log)
        self.batch: list[Any] = []
        self.grew = False
        # PostgreSQL's transactions run on a thread of their own, one at a time and in order,
        # so the database's work overlaps the next batch's decoding here; a batch is
        # acknowledged to the broker, and confirmed to its hubs, only once it is committed.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="central-write")
        self.pending: deque[tuple[Future, list[Any], dict[str, tuple[str, int]]]] = deque()
        # Set (on the writer's thread) when a write fails: every write queued behind it then
        # refuses to run, so no later batch commits a position past the rows that failed.
        self.broken = False

    @property
    def dropped(self) -> int:
        return self.drops.count

    def handle(self, message: object) -> None:
        """A message joins the batch being gathered (the link's other news is not needed)."""
        from motcua.mqtt import Inbound

        if isinstance(message, Inbound):
            self.batch.append(message)
            self.grew = True

    def tick(self, now: float) -> float:
        """After every turn of the frame: write the batch once the socket had no more for it
        (or it is full), acknowledge what is committed, ask again for gaps."""
        self.finish(wait=False)
        held = len(self.pending) >= IN_FLIGHT_MAX
        if self.batch and not held and (len(self.batch) >= BATCH_MAX or not self.grew):
            batch, self.batch = self.batch, []
            self.write(batch)
        self.grew = False
        self.ask(now)
        # Two batches in flight: the next keeps gathering (the broker's in-flight window
        # bounds it) while the owner goes on polling, pinging the watchdog and keeping the
        # broker's connection alive, however slow PostgreSQL is.
        if self.batch and not held:
            return 0.0
        return COMMIT_CHECK_S if self.pending else POLL_S

    def health(self) -> dict[str, object]:
        return {"dropped": self.drops.count, "events_written": self.written,
                "copies_dropped": self.sequencer.copies, "sites": len(self.sequencer.sites)}

    def stop(self) -> None:
        """At a clean stop (the frame's ``finish``): the last batch written and acknowledged."""
        if self.batch:
            batch, self.batch = self.batch, []
            self.write(batch)
        try:
            self.finish(wait=True, timeout=STOP_WAIT_S)
        except TimeoutError:
            # Not acknowledged: the broker sends them again to the next run.
            log.error("the last batches were not committed within %.0f s", STOP_WAIT_S)
        self.writer.shutdown(wait=False, cancel_futures=True)

    def finish(self, *, wait: bool, timeout: float | None = None) -> None:
        """Acknowledge and confirm the committed batches, oldest first (``wait``: all, within
        ``timeout`` seconds in all or TimeoutError)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pending and (wait or self.pending[0][0].done()):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self.pending[0][0].result(left)        # a database error ends the daemon here,
            done, batch, confirms = self.pending.popleft()   # nothing of it acknowledged
            self.written += done.result()
            self.link.ack_all(batch)
            for site, (identity, upto) in confirms.items():
                if self.confirmed.get(site) != (identity, upto):
                    self.link.publish(HistoryTopics(site).ack,
                                      encode(HistoryAck(upto=upto, log=identity)), qos=1,
                                      retain=True)
                    self.confirmed[site] = (identity, upto)

    def write(self, batch: list[Any]) -> None:
        """Decode and order; the write (one transaction) goes to the writer, and the batch is
        acknowledged and confirmed after its commit (``finish``)."""
        ready: list[HistoryEvent] = []
        statuses: list[tuple[str, Status]] = []
        touched: set[tuple[str, str]] = set()      # (site, log) whose position may have moved
        sites: set[str] = set()
        sequencer = self.sequencer
        offer = sequencer.offer
        for message in batch:
            topic = message.topic
            with self.drops.guard(topic):
                parts = topic.split("/")
                if len(parts) < 4 or parts[0] != "motcua" or not parts[1]:
                    raise ProtocolError(f"not a motcua topic: {topic!r}")
                site = parts[1]
                if site == CENTRE_TOPICS:       # the centre's own status, heard back
                    continue
                if parts[2] == "history" and len(parts) == 4 and parts[3] == "event":
                    event = HistoryEvent.decode(message.payload)
                    if event.site != site:
                        raise ProtocolError(f"event of site {event.site!r} on {topic}")
                    storable_event(event)
                    ready.extend(offer(event))
                    touched.add((site, event.log))
                elif parts[2] == "history" and len(parts) == 4 and parts[3] == "head":
                    head = HistoryHead.decode(message.payload)
                    if head.last > BIGINT_MAX:
                        raise ProtocolError(f"history head: last {head.last} is over {BIGINT_MAX}")
                    ready.extend(sequencer.head(site, head.last, head.log))
                    touched.add((site, head.log))
                elif parts[2] == "status":
                    statuses.append((site, storable_status(Status.decode(message.payload))))
                else:
                    raise ProtocolError("not a topic the centre reads")
                sites.add(site)
        adopted, sequencer.adopted = sequencer.adopted, []
        touched.update(sequencer.switched)
        sequencer.switched.clear()
        for site, identity in adopted:
            log.info("site %s: its log now has the identity %s (an upgraded hub)", site, identity)
        positions = {}
        for site, identity in {*touched, *((s, sequencer.current[s]) for s in sites
                                            if s in sequencer.current)}:
            order = sequencer.logs.get((site, identity))
            if order is not None:
                positions[(site, identity)] = (order.upto, order.head)
        # A site heard only through its devices' status is in `sites` too (heard_at), log "".
        current = {site: sequencer.current.get(site, "") for site in sites}
        confirms = {site: (identity, sequencer.site(site, identity).upto)
                    for site, identity in current.items() if site in sequencer.current}
        log.debug("batch of %d messages: %d events ready", len(batch), len(ready))
        self.pending.append((self.writer.submit(self._commit, ready, positions, statuses,
                                                current, adopted),
                             batch, confirms))

    def _commit(self, ready: list[HistoryEvent], positions: dict[tuple[str, str], tuple[int, int]],
                statuses: list[tuple[str, Status]], current: dict[str, str],
                adopted: list[tuple[str, str]]) -> int:
        """On the writer's thread: one batch's transaction, unless one before it failed."""
        if self.broken:
            raise CentralStoreError("not written: a write before it failed")
        try:
            return self.store.write(ready, positions, statuses, current=current, adopted=adopted)
        except BaseException:
            self.broken = True
            raise

    def ask(self, now: float) -> None:
        for request in self.sequencer.requests(now):
            log.info("site %s: asking again for rows %d..%d of log %r", request.site,
                     request.first, request.last, request.log)
            self.link.publish(HistoryTopics(request.site).request,
                              encode(HistoryRequest(id=new_id(), first=request.first,
                                                    last=request.last, log=request.log)), qos=1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", metavar="mqtt[s]://HOST:PORT", help="the central broker")
    parser.add_argument("--db", metavar="postgresql://...", help="the centre's PostgreSQL")
    parser.add_argument("--username", default=CENTRE_USER, help="user on the central broker")
    parser.add_argument("--password-file", help="its password (from --broker-files' secrets/)")
    parser.add_argument("--ca-file", help="CA of the central broker's certificate (mqtts://)")
    parser.add_argument("--broker-files", metavar="OUT",
                        help="write the central broker's passwords, acl and secrets/ to OUT "
                             "for the sites given with --site, and exit")
    parser.add_argument("--site", action="append", default=[], help="a commune's site id")
    parser.add_argument("--migrate-only", action="store_true",
                        help="bring the database's schema up to date and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def main(options: argparse.Namespace) -> int:
    from motcua.config import BrokerSettings, parse_broker_url
    from motcua.daemon import Systemd, closing_on_error, run_daemon, setup_logging, stop_on_signals
    from motcua.mqtt import WakingQueue

    from .bridge import write_central_broker_files

    if options.broker_files:
        files = write_central_broker_files(Path(options.broker_files), options.site)
        for user, path in files.items():
            print(f"  {user:<24} password in {path}")
        print("Give each commune's file to its hub as [central] password_file.")
        return 0
    if not options.db:
        raise MotcuaError("--db postgresql://... is required")
    setup_logging("central", "main", verbose=options.verbose)
    store = CentralStore(options.db)
    applied = store.migrate()
    if applied:
        log.info("schema migrations applied: %s (now at %d)", applied, store.version())
    if options.migrate_only:
        store.close()
        return 0
    if not options.broker:
        raise MotcuaError("--broker mqtt[s]://HOST:PORT is required")
    try:
        host, port, tls = parse_broker_url(options.broker)
    except ValueError as exc:
        raise MotcuaError(f"--broker: {exc}") from None
    broker = BrokerSettings(host=host, port=port, tls=tls, username=options.username,
                            password_file=Path(options.password_file) if options.password_file
                            else None,
                            ca_file=Path(options.ca_file) if options.ca_file else None,
                            keepalive=30)
    stop = stop_on_signals()
    systemd = Systemd()
    inbox = WakingQueue()
    with closing_on_error([store]):
        link = centre_link(broker, inbox)
        centre = Centre(store, link)
    return run_daemon(centre, link=link, inbox=inbox, stop=stop, systemd=systemd,
                      ready=f"central: {len(centre.sequencer.sites)} sites known", opened=[store],
                      pace=PACE, finish=centre.stop)
