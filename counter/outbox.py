"""Presses that must reach the broker: a small SQLite outbox, resent until the broker's PUBACK.

A press is committed (WAL, synchronous=FULL: a press every few seconds costs
nothing) before it is handed to paho, in order (motcua.mqtt.InOrder: while the link
is down, rows wait here and go at the next LinkUp). paho keeps QoS 1 publishes
across reconnects and resends them; the row is deleted on the PUBACK. Rows a
previous run left (power cut, crash, broker down at shutdown) go at the first
LinkUp. So delivery is at-least-once; the caller drops copies by the message id,
which is in the stored payload and so the same in every copy.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from motcua.durable import open_durable
from motcua.errors import HardwareError
from motcua.mqtt import InOrder, Link

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
)
"""


class Outbox:
    """The rows not yet acknowledged by the broker; handed to paho in order (mqtt.InOrder)."""

    def __init__(self, path: Path, link: Link) -> None:
        try:
            self.db = open_durable(path)
            self.db.execute(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise HardwareError(f"cannot open the outbox {path}: {exc}") from exc
        self.path = path
        self.order = InOrder(link)
        self.pending = self.db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        self.db.close()

    def send(self, topic: str, payload: bytes) -> None:
        """Commit, then publish (QoS 1) if the link is up; otherwise at the next link_up."""
        cursor = self.db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)", (topic, payload))
        self.pending += 1
        self.order.offer(cursor.lastrowid, topic, payload)

    def link_up(self) -> int:
        """The link is up (LinkUp): hand paho, oldest first, the rows it does not hold yet,
        those of a previous run included. Returns how many."""
        rows = self.db.execute("SELECT n, topic, payload FROM outbox ORDER BY n").fetchall()
        return self.order.link_up([(n, topic, bytes(payload)) for n, topic, payload in rows])

    def link_down(self) -> None:
        self.order.link_down()

    def published(self, mid: int) -> bool:
        """The broker acknowledged message ``mid``: forget its row. False if not ours."""
        n = self.order.acknowledged(mid)
        if n is None:
            return False
        self.db.execute("DELETE FROM outbox WHERE n = ?", (n,))
        self.pending -= 1
        return True
