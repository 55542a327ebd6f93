"""The hub's side: the caller's event log, turned into history events for the centre.

It only READS the caller's SQLite log (a connection of its own, read-only), so the caller
never waits for it, nor for the WAN: events go to the hub's own broker, whose bridge stores
and forwards them. What the local broker acknowledged is remembered in
``STATE_DIR/history.db`` (a restart resends nothing it already has); what the centre
confirmed comes back retained on ``history/ack``. The centre asks for a range again on
``history/request`` when it sees a gap; the answer comes from the log, oldest first.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from motcua.daemon import Drops, Pace
from motcua.errors import MotcuaError
from motcua.protocol import (
    HistoryAck,
    HistoryEvent,
    HistoryHead,
    HistoryKind,
    HistoryRequest,
    HistoryTopics,
    encode,
    log_identity,
)

log = logging.getLogger(__name__)

PACE = Pace(tick_every_turn=True)   # new rows go out after every turn of the loop
WINDOW = 1000            # events handed to paho and not yet acknowledged by the local broker
ANSWER_MAX = 5000        # rows in one answer to a request; the centre asks for the rest
HEAD_EVERY_S = 1.0


def _file_id(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def _without_names(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Citizens' names stay in the office: the centre counts, it does not need to know who."""
    if kind == HistoryKind.TICKET:
        body.pop("name", None)
    elif kind == HistoryKind.DAY:
        for record in body.get("carry", ()):
            if isinstance(record, dict):
                record.pop("name", None)
    return body


class HistoryLog:
    """Read-only view of the caller's event log (caller/store.py's ``events`` table).

    The log's identity (``protocol.log_identity``) comes from its first row: "" while the log
    is empty. A log file replaced under us (set aside by the caller, or by a technician) is
    noticed by its inode and opened again (``follow``)."""

    def __init__(self, path: str | Path, site: str) -> None:
        self.path = Path(path)
        self.site = site
        self.identity = ""
        if not self.path.exists():
            raise MotcuaError(f"event log {self.path} does not exist (is the caller running?)")
        self._open()

    def _open(self) -> None:
        self.file, self.db = self._connect()
        self.identity = self._identity()

    def _connect(self) -> tuple[tuple[int, int], sqlite3.Connection]:
        try:
            file = _file_id(self.path)
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            try:
                db.execute("PRAGMA query_only = 1")
                db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
            except sqlite3.Error:
                db.close()
                raise
        except (sqlite3.Error, OSError) as exc:
            raise MotcuaError(f"event log {self.path}: {exc}") from None
        return file, db

    def _identity(self) -> str:
        row = self.db.execute("SELECT seq, kind, msg_id, at FROM events ORDER BY seq LIMIT 1"
                              ).fetchone()
        return log_identity(*row) if row else ""

    def follow(self) -> str:
        """The log's identity now: opens the file again if it was replaced, and finds the
        identity once a new log has its first row."""
        try:
            replaced = _file_id(self.path) != self.file
        except OSError:
            replaced = False             # moved away, the new one not made yet: keep reading
        if replaced:
            try:
                file, db = self._connect()
            except MotcuaError as exc:   # the caller is still making it: next time
                log.debug("the new event log cannot be read yet: %s", exc)
                return self.identity
            log.warning("the event log %s was replaced: reading the new one", self.path)
            self.db.close()
            self.file, self.db = file, db
            self.identity = self._identity()
        elif not self.identity:
            self.identity = self._identity()
        return self.identity

    def close(self) -> None:
        self.db.close()

    def last(self) -> int:
        return self.db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]

    def _prev(self, seq: int) -> int:
        row = self.db.execute("SELECT max(seq) FROM events WHERE seq < ?", (seq,)).fetchone()
        return row[0] or 0

    def after(self, seq: int, limit: int) -> list[HistoryEvent]:
        """Up to ``limit`` events after row ``seq``, oldest first."""
        return list(self._events("seq > ?", (seq,), limit))

    def between(self, first: int, last: int, limit: int = ANSWER_MAX) -> list[HistoryEvent]:
        return list(self._events("seq >= ? AND seq <= ?", (first, last), limit))

    def _events(self, where: str, args: tuple, limit: int) -> Iterator[HistoryEvent]:
        rows = self.db.execute(
            f"SELECT seq, kind, msg_id, at, counter, body FROM events WHERE {where} "
            "ORDER BY seq LIMIT ?", (*args, limit)).fetchall()
        prev = self._prev(rows[0][0]) if rows else 0
        for seq, kind, msg_id, at, counter, body in rows:
            try:
                event = HistoryEvent(
                    site=self.site, seq=seq, prev=prev, id=msg_id, kind=HistoryKind(kind), at=at,
                    body=_without_names(kind, json.loads(body)), counter=counter,
                    log=self.identity)
            except (ValueError, TypeError) as exc:
                # The log is the caller's; one row we cannot read must not stop the rest.
                log.error("event log row %d cannot be sent: %s", seq, exc)
                continue
            prev = seq
            yield event


class PublisherState:
    """``history.db``: the last row the local broker acknowledged, the centre's confirmation,
    and which log they are rows of."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path), check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS position (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS log (one INTEGER PRIMARY KEY CHECK (one = 1), "
                        "identity TEXT NOT NULL)")
        self.db.commit()

    def log(self) -> str | None:
        """The identity of the log the positions belong to (None: a history.db from before
        log identities, or a new one)."""
        row = self.db.execute("SELECT identity FROM log").fetchone()
        return row[0] if row else None

    def set_log(self, identity: str, *, reset: bool) -> None:
        """The positions are now of the log ``identity`` (from its start when ``reset``)."""
        self.db.execute("INSERT OR REPLACE INTO log (one, identity) VALUES (1, ?)", (identity,))
        if reset:
            self.db.execute("DELETE FROM position")
        self.db.commit()

    def get(self, name: str) -> int:
        row = self.db.execute("SELECT seq FROM position WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def set(self, name: str, seq: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO position (name, seq) VALUES (?, ?)", (name, seq))
        self.db.commit()

    def close(self) -> None:
        self.db.close()


class Publisher:
    """The owner: one thread runs ``run``; paho's callbacks only enqueue (motcua.mqtt.Link)."""

    def __init__(self, history: HistoryLog, state: PublisherState, link: Any, *,
                 poll_s: float = 0.2) -> None:
        self.history = history
        self.state = state
        self.link = link
        self.topics = HistoryTopics(history.site)
        self.poll_s = poll_s
        self.log = state.log()
        if self.log is None and history.identity and history.last() >= state.get("sent"):
            # A history.db from before log identities, beside the same log: keep its positions.
            self.log = history.identity
            state.set_log(self.log, reset=False)
        self.sent = state.get("sent")              # every row up to here: with the local broker
        self.confirmed = state.get("confirmed")    # every row up to here: in the centre
        self.saved = self.sent
        self.cursor = self.sent                    # the last row handed to paho
        self.in_flight: dict[int, int] = {}        # paho mid -> row
        self.order: deque[int] = deque()           # rows handed over, oldest first
        self.acked: set[int] = set()
        self.up = False
        self.head_sent = -1
        self.head_at = 0.0
        self.answered = 0
        self.changed = threading.Condition()       # tests wait on it
        self.drops = Drops(log)

    def handle(self, item: object) -> None:
        from motcua.mqtt import Inbound, LinkDown, LinkUp, Published

        if isinstance(item, Published):
            self._published(item.mid)
        elif isinstance(item, Inbound):
            self._inbound(item.topic, item.payload)
        elif isinstance(item, LinkUp):
            self.up = True
            self._rewind()
        elif isinstance(item, LinkDown):
            self.up = False

    def tick(self, now: float) -> float:
        """After every turn of the daemon frame's loop (PACE): new rows to the broker."""
        self.pump()
        return self.poll_s

    def health(self) -> dict[str, object]:
        return {"history_sent": self.sent, "history_confirmed": self.confirmed,
                "dropped": self.drops.count}

    def _rewind(self) -> None:
        # paho may or may not resend what it held; either way the centre drops copies by
        # (site, seq), so everything not yet acknowledged is handed over again, in order.
        self.in_flight.clear()
        self.order.clear()
        self.acked.clear()
        self.cursor = self.sent
        self.head_sent = -1

    def _follow_log(self) -> bool:
        """True when there is a log to send (it has a first row). A new log (the caller's
        database replaced or set aside) is sent from its first row, under its own identity."""
        identity = self.history.follow()
        if not identity:
            return False
        if identity != self.log:
            if self.log is not None:
                log.warning("the event log is a new one (identity %s, was %s): sending it from "
                            "its first row", identity, self.log or "none")
            self.log = identity
            self.state.set_log(identity, reset=True)
            self.sent = self.saved = self.confirmed = 0
            self._rewind()
        return True

    def pump(self) -> None:
        """Hand new log rows to the local broker (bounded window), and the head when it moved."""
        if not self._follow_log():
            return
        if not self.up or not self.link.connected.is_set():
            return
        room = WINDOW - len(self.in_flight)
        if room > 0:
            for event in self.history.after(self.cursor, room):
                info = self.link.publish(self.topics.event, encode(event), qos=1)
                self.in_flight[info.mid] = event.seq
                self.order.append(event.seq)
                self.cursor = event.seq
        if self.sent != self.saved:
            self._save("sent", self.sent)
            self.saved = self.sent
        now = time.monotonic()
        if self.sent != self.head_sent and now - self.head_at >= HEAD_EVERY_S:
            self.link.publish(self.topics.head, encode(HistoryHead(site=self.history.site,
                                                                   last=self.sent,
                                                                   log=self.log or "")),
                              qos=1, retain=True)
            self.head_sent, self.head_at = self.sent, now
            self.link.set_health(history_sent=self.sent, history_confirmed=self.confirmed)

    def _published(self, mid: int) -> None:
        seq = self.in_flight.pop(mid, None)
        if seq is None:
            return
        self.acked.add(seq)
        while self.order and self.order[0] in self.acked:
            self.sent = self.order.popleft()
            self.acked.discard(self.sent)

    def _save(self, name: str, seq: int) -> None:
        self.state.set(name, seq)
        with self.changed:
            self.changed.notify_all()

    def _inbound(self, topic: str, payload: bytes) -> None:
        with self.drops.guard(topic):
            if topic == self.topics.request:
                self._answer(HistoryRequest.decode(payload))
            elif topic == self.topics.ack:
                ack = HistoryAck.decode(payload)
                if ack.log not in ("", self.log):
                    return                  # the centre's word on a log this hub has left
                if ack.upto != self.confirmed:
                    self.confirmed = ack.upto
                    self._save("confirmed", ack.upto)
                    self.link.set_health(history_sent=self.sent, history_confirmed=self.confirmed)
            else:
                log.warning("message on %s ignored", topic)

    def _answer(self, request: HistoryRequest) -> None:
        if request.log and request.log != self.history.follow():
            log.info("the centre asked for rows %d..%d of log %s, which this hub no longer has",
                     request.first, request.last, request.log)
            return
        events = self.history.between(request.first, request.last)
        for event in events:
            self.link.publish(self.topics.event, encode(event), qos=1)
        self.answered += len(events)
        log.info("the centre asked for rows %d..%d: sent %d", request.first, request.last,
                 len(events))


def run(config: Any, options: Any) -> int:
    """``motcua central-publisher``: on the hub, beside the caller."""
    from motcua.daemon import Systemd, closing_on_error, run_daemon, setup_logging, stop_on_signals
    from motcua.mqtt import Session, ThreadedLink
    from motcua.protocol import Topics

    setup_logging("history", "hub", verbose=getattr(options, "verbose", False))
    db = Path(options.db) if getattr(options, "db", None) else config.site.state_dir / "caller.db"
    history_topics = HistoryTopics(config.site.id)
    stop = stop_on_signals()
    systemd = Systemd()
    opened: list = []
    with closing_on_error(opened):
        history = HistoryLog(db, config.site.id)
        opened.append(history)
        state = PublisherState(config.site.state_dir / "history.db")
        opened.append(state)
        inbox: queue.Queue = queue.Queue()
        link = ThreadedLink(config.broker, Topics(config.site.id), role="caller", device="history",
                    inbox=inbox, session=Session.KEPT, report_publishes=True,
                    subscriptions=[(history_topics.request, 1), (history_topics.ack, 1)])
        publisher = Publisher(history, state, link)
    return run_daemon(publisher, link=link, inbox=inbox, stop=stop, systemd=systemd,
                      ready=f"history of {config.site.id} from row {publisher.sent}", opened=opened,
                      pace=PACE)
