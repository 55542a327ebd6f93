"""Presses that must reach the caller: a small SQLite outbox, kept until the caller confirms.

A press is committed (WAL, synchronous=FULL: a press every few seconds costs
nothing) before it is handed to paho, in order (motcua.delivery.Confirmed: while the
link is down, rows wait here and go at the next LinkUp). The broker's PUBACK is not
enough: the row is deleted only when the caller lists the message id on ``received``
(after its own fsync), and it is sent again while the caller is alive and has not
listed it. Rows a previous run left go at the first LinkUp. So delivery is
at-least-once; the caller drops copies by the message id, which is in the stored
payload and so the same in every copy.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from motcua.delivery import Confirmed
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
    """The rows the caller has not confirmed; handed to paho in order (delivery.Confirmed)."""

    def __init__(self, path: Path, link: Link) -> None:
        try:
            self.db = open_durable(path)
            self.db.execute(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise HardwareError(f"cannot open the outbox {path}: {exc}") from exc
        self.path = path
        self.order = Confirmed(link)
        self.order.load((n, topic, bytes(payload)) for n, topic, payload in
                        self.db.execute("SELECT n, topic, payload FROM outbox ORDER BY n"))

    @property
    def pending(self) -> int:
        """Presses the caller has not confirmed yet."""
        return len(self.order)

    def close(self) -> None:
        self.db.close()

    def send(self, topic: str, payload: bytes) -> None:
        """Commit, then publish (QoS 1) if the link is up; otherwise at the next link_up."""
        cursor = self.db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)", (topic, payload))
        self.order.add(int(cursor.lastrowid or 0), topic, payload)

    def link_up(self) -> int:
        """The link is up (LinkUp): hand paho, oldest first, the rows it does not hold yet,
        those of a previous run included. Returns how many."""
        return self.order.link_up()

    def link_down(self) -> None:
        self.order.link_down()

    def published(self, mid: int) -> bool:
        """The broker acknowledged message ``mid`` (the caller may not have it). False if not ours."""
        return self.order.published(mid)

    def confirmed(self, ids: list[str]) -> int:
        """The caller has these message ids: forget their rows. How many were ours."""
        rows = self.order.confirm(ids)
        if rows:
            self.db.executemany("DELETE FROM outbox WHERE n = ?", [(n,) for n in rows])
        return len(rows)

    def resend_due(self, caller_accepting: bool) -> int:
        return self.order.resend_due(caller_accepting)
