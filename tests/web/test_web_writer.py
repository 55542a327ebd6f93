"""web.db and the ratings' outbox are written by one writer thread, not on the event loop: while
a write waits for the disk the loop handles messages and pages; a rating is answered only once
its outbox row is on disk; and the caller's own finish time is the rating window's."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

from motcua.caller.store import EventStore
from motcua.web.daemon import WebRole
from motcua.web.state import RatingRefusal, Stage
from motcua.web.store import CallerTimes
from rig import write_site_config

from motcua.config import load_config
from motcua.mqtt import Inbound
from motcua.protocol import CounterState, LastTicket, Rating, Ticket, Topics, encode, new_id

SITE = "liem-chung"


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_writes_wait_for_the_disk_off_the_loop_and_a_rating_is_thanked_once_on_disk(tmp_path: Path) -> None:
    config = load_config(write_site_config(tmp_path, broker_url="mqtt://127.0.0.1:9"))
    state = config.site.state_dir
    topics = Topics(SITE)

    async def scenario() -> None:
        role = WebRole(config, asyncio.get_running_loop())     # its link is never started here
        try:
            disk = threading.Event()
            role.writer.later(disk.wait, 30)                    # the disk is slow: every write waits
            ticket = Ticket(id=new_id(), service="dat-dai", number="1001", seq=1, day="2026-11-30",
                            issued_at="2026-11-30T08:00:00+07:00", kiosk="k1")
            role.handle(Inbound(topics.ticket_from("k1"), encode(ticket), 1, 1, False))
            role.handle(Inbound(topics.counter_state("1"), encode(CounterState(
                counter="1", status="idle", seq=1, last=LastTicket(ticket=ticket.id, number="1001",
                                                                  service="dat-dai"))), 2, 1, False))
            # The loop went on: the pages already know the ticket is finished; the disk has nothing.
            assert role.office.tickets[ticket.id].stage == Stage.DONE
            assert rows(state / "web.db", "SELECT count(*) FROM tickets") == [(0,)]
            rating = asyncio.create_task(role.send_rating(ticket.id, 3, "Thái độ phục vụ"))
            done, _ = await asyncio.wait({rating}, timeout=0.3)
            assert not done, "the rating was thanked before its row was on disk"
            assert rows(state / "web-outbox.db", "SELECT count(*) FROM outbox") == [(0,)]
            # A second tap meanwhile is refused at once.
            assert role.office.check_rating(ticket.id, 1, None, 0) is RatingRefusal.ALREADY_RATED
            disk.set()
            await asyncio.wait_for(rating, 10)
            # Thanked: the row is on disk, in the order handed to paho.
            [(payload,)] = rows(state / "web-outbox.db", "SELECT payload FROM outbox")
            sent = Rating.decode(payload)
            assert (sent.ticket, sent.score, sent.reason) == (ticket.id, 3, "Thái độ phục vụ")
            assert len(role.outbox.order) == 1
            await role.writer.now(lambda: None)                 # the writes asked before are done
            assert rows(state / "web.db", "SELECT stage, rated, finished_at IS NOT NULL FROM tickets") \
                == [("done", 1, 1)]
        finally:
            role.close()

    asyncio.run(scenario())


def test_the_finish_time_is_the_callers_where_its_database_is_here(tmp_path: Path) -> None:
    db = tmp_path / "caller.db"
    times = CallerTimes(db)
    assert times.done_at("t1") is None                          # no caller database (yet): unknown
    EventStore(db).db.close()
    insert = ("INSERT INTO tickets (id, day, service, number, priority, status, counter, issued_at,"
              " called_at, done_at) VALUES (?, '2026-11-30', 'dat-dai', ?, 0, ?, ?, ?, ?, ?)")
    with sqlite3.connect(db) as conn:
        conn.execute(insert, ("t1", "1001", "done", "1", "2026-11-30T08:00:00+07:00",
                              "2026-11-30T08:05:00+07:00", "2026-11-30T08:10:00.250+07:00"))
        conn.execute(insert, ("t2", "1002", "waiting", None, "2026-11-30T08:01:00+07:00", None, None))
    assert times.done_at("t1") == datetime.fromisoformat("2026-11-30T08:10:00.250+07:00").timestamp()
    assert times.done_at("t2") is None and times.done_at("nope") is None
    times.close()
