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
import queue
import time
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
from .store import CentralStore

log = logging.getLogger(__name__)

BATCH_MAX = 5000
BATCH_WAIT_S = 0.05
IDLE_S = 0.2
PACE = Pace(tick_every_turn=True)


class Centre:
    def __init__(self, store: CentralStore, link: Any, *, grace_s: float = 2.0,
                 retry_s: float = 10.0) -> None:
        self.store = store
        self.link = link
        self.sequencer = Sequencer(store.positions(), grace_s=grace_s, retry_s=retry_s)
        self.confirmed: dict[str, int] = {}
        self.written = 0
        self.drops = Drops(log)
        self.batch: list[Any] = []
        self.batch_since = 0.0

    @property
    def dropped(self) -> int:
        return self.drops.count

    def handle(self, message: object) -> None:
        """Messages wait in a batch (BATCH_WAIT_S after its first, BATCH_MAX at most)."""
        from motcua.mqtt import Inbound

        if isinstance(message, Inbound):
            if not self.batch:
                self.batch_since = time.monotonic()
            self.batch.append(message)

    def tick(self, now: float) -> float:
        """After every turn of the daemon frame's loop (PACE): a batch that is due is
        written, gaps are asked for again."""
        if self.batch and (len(self.batch) >= BATCH_MAX or now - self.batch_since >= BATCH_WAIT_S):
            batch, self.batch = self.batch, []
            self.write(batch)
        self.ask(now)
        return max(0.0, self.batch_since + BATCH_WAIT_S - now) if self.batch else IDLE_S

    def health(self) -> dict[str, object]:
        return {"dropped": self.drops.count, "events_written": self.written,
                "copies_dropped": self.sequencer.copies, "sites": len(self.sequencer.sites)}

    def write(self, batch: list[Any]) -> None:
        """Decode, order, write in one transaction, then acknowledge and confirm."""
        ready: list[HistoryEvent] = []
        statuses: list[tuple[str, Status]] = []
        touched: set[str] = set()
        for message in batch:
            with self.drops.guard(message.topic):
                site = HistoryTopics.site_of(message.topic)
                if site == CENTRE_TOPICS:       # the centre's own status, heard back
                    continue
                topics = HistoryTopics(site)
                if message.topic == topics.event:
                    event = HistoryEvent.decode(message.payload)
                    if event.site != site:
                        raise ProtocolError(f"event of site {event.site!r} on {message.topic}")
                    ready.extend(self.sequencer.offer(event))
                elif message.topic == topics.head:
                    head = HistoryHead.decode(message.payload)
                    self.sequencer.head(site, head.last)
                elif message.topic.startswith(f"motcua/{site}/status/"):
                    statuses.append((site, Status.decode(message.payload)))
                else:
                    raise ProtocolError("not a topic the centre reads")
                touched.add(site)
        positions = {site: (self.sequencer.site(site).upto, self.sequencer.site(site).head)
                     for site in touched}
        added = self.store.write(ready, positions, statuses)
        self.written += added
        log.debug("batch of %d messages: %d events ready, %d new rows", len(batch), len(ready), added)
        for message in batch:
            self.link.ack(message)
        for site in touched:
            upto = self.sequencer.site(site).upto
            if self.confirmed.get(site) != upto:
                self.link.publish(HistoryTopics(site).ack, encode(HistoryAck(upto=upto)),
                                  qos=1, retain=True)
                self.confirmed[site] = upto

    def ask(self, now: float) -> None:
        for request in self.sequencer.requests(now):
            log.info("site %s: asking again for rows %d..%d", request.site, request.first,
                     request.last)
            self.link.publish(HistoryTopics(request.site).request,
                              encode(HistoryRequest(id=new_id(), first=request.first,
                                                    last=request.last)), qos=1)


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
    from motcua.mqtt import Session, ThreadedLink
    from motcua.protocol import Topics

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
    inbox: queue.Queue = queue.Queue()
    with closing_on_error([store]):
        link = ThreadedLink(broker, Topics(CENTRE_TOPICS), role="central", device="main",
                            inbox=inbox, session=Session.KEPT_UNTIL_ACKED,
                            subscriptions=[("motcua/+/history/event", 1), ("motcua/+/history/head", 1),
                                           ("motcua/+/status/#", 1)])
        centre = Centre(store, link)
    return run_daemon(centre, link=link, inbox=inbox, stop=stop, systemd=systemd,
                      ready=f"central: {len(centre.sequencer.sites)} sites known", opened=[store],
                      pace=PACE)
