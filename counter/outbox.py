"""Presses that must reach the broker: a small SQLite outbox, resent until the broker's PUBACK.

A press is committed (WAL, synchronous=FULL: a press every few seconds costs
nothing) before it is handed to paho. paho keeps QoS 1 publishes across
reconnects and resends them; the row is deleted on the PUBACK. Rows a previous
run left (power cut, crash, broker down at shutdown) are handed over again at
start. So delivery is at-least-once; the caller drops copies by the message id,
which is in the stored payload and so the same in every copy.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from motcua.durable import open_durable
from motcua.errors import HardwareError
from motcua.mqtt import Link

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
)
"""


class Outbox:
    """The rows not yet acknowledged by the broker, and which paho message carries which row."""

    def __init__(self, path: Path, link: Link) -> None:
        try:
            self.db = open_durable(path)
            self.db.execute(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise HardwareError(f"cannot open the outbox {path}: {exc}") from exc
        self.path = path
        self.link = link
        self.in_flight: dict[int, int] = {}      # paho mid -> row

    def close(self) -> None:
        self.db.close()

    @property
    def pending(self) -> int:
        return len(self.in_flight)

    def resend_all(self) -> int:
        """Hand every row of a previous run to the link (once; paho resends after reconnects)."""
        rows = self.db.execute("SELECT n, topic, payload FROM outbox ORDER BY n").fetchall()
        for n, topic, payload in rows:
            self._hand_over(n, topic, bytes(payload))
        return len(rows)

    def send(self, topic: str, payload: bytes) -> None:
        """Commit, then publish (QoS 1)."""
        cursor = self.db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)", (topic, payload))
        self._hand_over(cursor.lastrowid, topic, payload)

    def published(self, mid: int) -> bool:
        """The broker acknowledged message ``mid``: forget its row. False if not ours."""
        n = self.in_flight.pop(mid, None)
        if n is None:
            return False
        self.db.execute("DELETE FROM outbox WHERE n = ?", (n,))
        return True

    def _hand_over(self, n: int, topic: str, payload: bytes) -> None:
        info = self.link.publish(topic, payload, qos=1)
        self.in_flight[info.mid] = n
