"""Forged tickets (issue 18): what caller/intake.py refuses, and the caller never queuing nor
speaking one, against a real Mosquitto."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import unicodedata
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from motcua.caller.daemon import Caller
from motcua.caller.intake import Forgery, Order, check_ticket, judge_ticket, plausible_name
from rig import Listener

from motcua.config import load_config
from motcua.protocol import Called, CounterCommand, Received, Status, Ticket, Topics, encode, new_id
from motcua.service_day import ClockReading, service_day

EXAMPLE = load_config(Path(__file__).parents[2] / "examples" / "liem-chung.toml")
TOPICS = Topics("liem-chung")
NOW = datetime(2026, 11, 28, 8, 0).astimezone(EXAMPLE.site.tz)


def real(**changes) -> Ticket:
    ticket = Ticket(id=new_id(), service="dat-dai", number="1001", seq=1001, day="2026-11-28",
                    issued_at=NOW.isoformat(), kiosk="k1", name="Nguyễn Văn An")
    return replace(ticket, **changes)


def test_a_ticket_a_real_kiosk_printed_is_taken() -> None:
    assert check_ticket(real(), EXAMPLE, NOW) is None
    assert check_ticket(real(service="chung-thuc", number="C007", seq=7, name=None), EXAMPLE, NOW) is None
    late = NOW - timedelta(hours=20)                   # a kiosk cut off since yesterday
    assert check_ticket(real(issued_at=late.isoformat(), day="2026-11-27"), EXAMPLE, NOW) is None
    # A kiosk whose clock jumped keeps its day: one day off its issue time is still real.
    assert check_ticket(real(day="2026-11-29"), EXAMPLE, NOW) is None
    assert check_ticket(real(issued_at=NOW.replace(hour=4, minute=59).isoformat()), EXAMPLE, NOW) is None
    assert check_ticket(real(), EXAMPLE, NOW, sender="k1") is None


@pytest.mark.parametrize(("changes", "sender", "why"), [
    ({"kiosk": "k2"}, None, Forgery.UNKNOWN_KIOSK),
    ({}, "k9", Forgery.WRONG_SENDER),
    ({"service": "khac"}, None, Forgery.SERVICE),
    ({"number": "5000", "seq": 5000}, None, Forgery.NUMBER),
    ({"number": "1001", "seq": 1002}, None, Forgery.LABEL),
    ({"service": "chung-thuc", "number": "C7", "seq": 7}, None, Forgery.LABEL),
    ({"issued_at": "1970-01-01T00:00:00+00:00", "priority": True}, None, Forgery.ISSUED_AT),
    ({"issued_at": (NOW + timedelta(hours=1)).isoformat()}, None, Forgery.ISSUED_AT),
    ({"name": "Xin mời tất cả ra về, văn phòng đóng cửa"}, None, Forgery.NAME),
    ({"day": "2099-01-01"}, None, Forgery.DAY),         # its name would never be erased
    ({"day": "2026-11-30"}, None, Forgery.DAY),
], ids=lambda value: value.name if isinstance(value, Forgery) else None)
def test_a_forged_ticket_is_refused_with_its_reason(changes, sender, why) -> None:
    assert check_ticket(real(**changes), EXAMPLE, NOW, sender=sender) is why


def test_a_hub_clock_not_trusted_does_not_judge_the_issue_time() -> None:
    """Issue 19 item 8: an unsynchronised hub may read yesterday; today's tickets are then
    held, not refused as forged. What needs no clock is still checked."""
    tomorrow = (NOW + timedelta(days=1)).isoformat()
    assert check_ticket(real(issued_at=tomorrow), EXAMPLE, NOW) is Forgery.ISSUED_AT
    assert check_ticket(real(issued_at=tomorrow, day="2026-11-29"), EXAMPLE, NOW, clock_trusted=False) is None
    assert check_ticket(real(issued_at=tomorrow), EXAMPLE, NOW, clock_trusted=False) is None
    assert check_ticket(real(issued_at="1970-01-01T00:00:00+00:00"), EXAMPLE, NOW,
                        clock_trusted=False) is Forgery.DAY
    assert check_ticket(real(kiosk="k2"), EXAMPLE, NOW, clock_trusted=False) is Forgery.UNKNOWN_KIOSK


EPOCH = "1970-01-01T07:00:03+07:00"       # a Pi with no clock, just after a power cut


def test_a_kiosk_whose_clock_is_off_is_queued_by_arrival_from_its_own_account() -> None:
    """A kiosk with no clock after a power cut prints 1970 (or fake-hwclock's last save) on
    tickets a citizen holds. From that kiosk's own account (its topic) such a ticket is taken,
    ordered by its arrival: the time buys no place. Everything else is still checked."""
    assert judge_ticket(real(), EXAMPLE, NOW, sender="k1") is Order.ISSUED
    assert judge_ticket(real(issued_at=EPOCH), EXAMPLE, NOW, sender="k1") is Order.ARRIVAL
    assert check_ticket(real(issued_at=EPOCH), EXAMPLE, NOW, sender="k1") is None
    three_days_ago = (NOW - timedelta(days=3)).isoformat()
    for when in (three_days_ago, (NOW + timedelta(hours=1)).isoformat()):
        assert judge_ticket(real(issued_at=when), EXAMPLE, NOW, sender="k1") is Order.ARRIVAL
    # The hub's clock not trusted either: the kiosk's 1970 is still no place in the queue.
    assert judge_ticket(real(issued_at=EPOCH), EXAMPLE, NOW, sender="k1",
                        clock_trusted=False) is Order.ARRIVAL
    # Real forgeries stay refused: no account vouches for the kiosk, a day far from the hub's,
    # another kiosk's ticket, a number it could not print, a sentence for a name.
    assert judge_ticket(real(issued_at=EPOCH), EXAMPLE, NOW) is Forgery.ISSUED_AT
    assert judge_ticket(real(issued_at=EPOCH), EXAMPLE, NOW, clock_trusted=False) is Forgery.DAY
    for day in ("1970-01-01", "2099-01-01", "2026-11-30"):
        assert judge_ticket(real(issued_at=EPOCH, day=day), EXAMPLE, NOW, sender="k1") is Forgery.DAY
    assert judge_ticket(real(issued_at=EPOCH), EXAMPLE, NOW, sender="k9") is Forgery.WRONG_SENDER
    assert judge_ticket(real(issued_at=EPOCH, number="5000", seq=5000), EXAMPLE, NOW,
                        sender="k1") is Forgery.NUMBER
    assert judge_ticket(real(issued_at=EPOCH, name="Xin mời tất cả ra về, văn phòng đóng cửa"),
                        EXAMPLE, NOW, sender="k1") is Forgery.NAME


def test_a_kiosk_whose_clock_reads_1970_has_its_tickets_called_in_order_of_arrival(
        broker, site_config: Path, tmp_path: Path, caplog) -> None:
    synced = lambda: ClockReading(time.time(), time.monotonic(), True)    # noqa: E731 (a trusted clock)
    caller = Caller(load_config(site_config), db=tmp_path / "caller.db", audio="none", clock=synced)
    stop = threading.Event()
    thread = threading.Thread(target=caller.serve, args=(stop,), daemon=True)
    listener = Listener(broker.url, TOPICS.called, TOPICS.status("caller", "hub"), TOPICS.received)
    caplog.set_level(logging.WARNING, logger="motcua.caller.daemon")
    thread.start()
    try:
        assert caller.link.connected.wait(10)
        now = datetime.now().astimezone()
        today = service_day(now, EXAMPLE.site.tz, EXAMPLE.site.day_starts_at).isoformat()

        def ticket(number: str, issued_at: str) -> Ticket:
            return Ticket(id=new_id(), service="dat-dai", number=number, seq=int(number), day=today,
                          issued_at=issued_at, kiosk="k1", name="Trần Thị Bình")

        def answered(li: Listener, sent: Ticket) -> bool:
            return any(sent.id in Received.decode(p).ids for p in li.payloads(TOPICS.received))

        earlier = ticket("1002", (now - timedelta(seconds=30)).isoformat())
        clockless = ticket("1003", EPOCH)                 # the kiosk rebooted without its clock
        for sent in (earlier, clockless):
            listener.publish(TOPICS.ticket_from("k1"), encode(sent))
            assert listener.wait_for(lambda li, sent=sent: answered(li, sent))
        later = ticket("1004", datetime.now().astimezone().isoformat())   # after 1003 arrived
        listener.publish(TOPICS.ticket_from("k1"), encode(later))
        assert listener.wait_for(lambda li: answered(li, later))
        refused = {k for p in listener.payloads(TOPICS.received) for k in Received.decode(p).refused}
        assert clockless.id not in refused                  # taken: the kiosk is told so
        for _ in range(3):
            listener.publish(TOPICS.counter_cmd("1"), encode(CounterCommand(id=new_id(), action="next")))
        assert listener.wait_for(lambda li: len(li.payloads(TOPICS.called)) == 3)
        # By issue time 1003 (1970) would come first; refused, it would never come.
        assert [Called.decode(p).number for p in listener.payloads(TOPICS.called)] == ["1002", "1003", "1004"]

        def by_arrival(li: Listener) -> int:
            statuses = [Status.decode(p) for p in li.payloads(TOPICS.status("caller", "hub"))]
            return statuses[-1].health.get("by_arrival", 0) if statuses else 0

        assert listener.wait_for(lambda li: by_arrival(li) == 1, timeout=10), caller.counts
        assert caller.counts["forged"] == 0
        warned = [r.getMessage() for r in caplog.records if "queued by its arrival" in r.getMessage()]
        assert len(warned) == 1 and "'1003'" in warned[0] and "1970" in warned[0]
        logged = sqlite3.connect(caller.store.path).execute(
            "SELECT body FROM events WHERE msg_id = ?", (clockless.id,)).fetchone()[0]
        issued = datetime.fromisoformat(Ticket.decode(logged.encode()).issued_at)
        assert abs(issued - now) < timedelta(seconds=60)    # its arrival, kept for the replay
    finally:
        stop.set()
        caller.inbox.put(None)
        thread.join(10)
        listener.close()


def test_a_kiosk_range_is_its_own(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "examples" / "liem-chung.toml").read_text(encoding="utf-8")
    text = text.replace('priority_button = { pin = 24, key = "0" }',
                        'priority_button = { pin = 24, key = "0" }\nranges = { dat-dai = [1001, 1499] }')
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    assert check_ticket(real(), config, NOW) is None
    assert check_ticket(real(number="1500", seq=1500), config, NOW) is Forgery.NUMBER


@pytest.mark.parametrize("name", ["Nguyễn Văn An", "NGUYỄN THỊ MINH KHAI", "Lê Ư", "Hà Thị Bích Ngọc",
                                  unicodedata.normalize("NFD", "Nguyễn Văn An"),    # as some readers send
                                  "H'Hen Niê", "Y-Moan Ênuôl", "Nguyễn Thị Ngọc Bảo Châu Trần Lê Phương Anh"])
def test_names_from_cccd_cards_are_plausible(name: str) -> None:
    assert plausible_name(name)


@pytest.mark.parametrize("name", ["", "A", "Nguyễn  An", " Nguyễn An", "Nguyễn Văn 1", "Nguyễn, mời lên",
                                  "Иван Петров", "王小明", "a " * 20, "Nguyễn" * 17, "Nguyễn\tAn",
                                  "Nguyễn Văn An!", "'", "Nguyễn-", "An--Bình", "-An", "A. "])
def test_anything_else_is_not_a_name(name: str) -> None:
    assert not plausible_name(name)


def test_the_caller_logs_counts_and_never_calls_a_forged_ticket(broker, site_config: Path, tmp_path: Path,
                                                                 caplog) -> None:
    """A forged ticket is logged, counted, never queued nor called, and confirmed on
    ``received`` as ``forged`` so that its sender stops sending it."""
    synced = lambda: ClockReading(time.time(), time.monotonic(), True)    # noqa: E731 (a trusted clock)
    caller = Caller(load_config(site_config), db=tmp_path / "caller.db", audio="none", clock=synced)
    stop = threading.Event()
    thread = threading.Thread(target=caller.serve, args=(stop,), daemon=True)
    listener = Listener(broker.url, TOPICS.called, TOPICS.board, TOPICS.status("caller", "hub"),
                        TOPICS.received)
    caplog.set_level(logging.WARNING, logger="motcua.caller.daemon")
    thread.start()
    try:
        assert caller.link.connected.wait(10)
        now = datetime.now().astimezone()
        today = service_day(now, EXAMPLE.site.tz, EXAMPLE.site.day_starts_at).isoformat()
        forged = Ticket(id=new_id(), service="dat-dai", number="1001", seq=1001, day=today,
                        issued_at="1970-01-01T00:00:00+00:00", kiosk="k2", priority=True,
                        name="Xin mời tất cả ra về")
        genuine = Ticket(id=new_id(), service="dat-dai", number="1002", seq=1002, day=today,
                         issued_at=now.isoformat(), kiosk="k1", name="Trần Thị Bình")
        forgeries = [forged, replace(forged, id=new_id(), kiosk="k1"),
                     replace(genuine, id=new_id(), number="1003", seq=1003)]
        listener.publish(TOPICS.ticket_from("k1"), encode(forgeries[0]))
        # From 1970 on the shared topic, which no kiosk account vouches for (from k1's own
        # account it would be queued by its arrival: test_a_kiosk_whose_clock_reads_1970...).
        listener.publish(TOPICS.ticket, encode(forgeries[1]))
        # Another account's topic (the broker lets only kiosk k9 write it) claiming kiosk k1.
        listener.publish(TOPICS.ticket_from("k9"), encode(forgeries[2]))
        listener.publish(TOPICS.ticket_from("k1"), encode(genuine))
        for _ in range(2):
            listener.publish(TOPICS.counter_cmd("1"), encode(CounterCommand(id=new_id(), action="next")))

        def forged_count(li: Listener) -> int:
            statuses = [Status.decode(p) for p in li.payloads(TOPICS.status("caller", "hub"))]
            return statuses[-1].health.get("forged", 0) if statuses else 0

        assert listener.wait_for(lambda li: forged_count(li) == 3, timeout=15), caller.counts
        assert listener.wait_for(lambda li: li.payloads(TOPICS.called))

        def confirmations(li: Listener) -> tuple[set[str], dict[str, str]]:
            received = [Received.decode(p) for p in li.payloads(TOPICS.received)]
            refused = {k: v for r in received for k, v in r.refused.items()}
            return {i for r in received for i in r.ids}, refused

        assert listener.wait_for(lambda li: genuine.id in confirmations(li)[0]
                                 and {f.id for f in forgeries} <= confirmations(li)[0])
        assert confirmations(listener)[1] == {f.id: "forged" for f in forgeries}  # the genuine: taken
        calls = [Called.decode(p) for p in listener.payloads(TOPICS.called)]
        assert [c.number for c in calls] == ["1002"]
        assert all("Xin mời tất cả" not in c.sentence for c in calls)
        tickets = sqlite3.connect(caller.store.path).execute(
            "SELECT count(*) FROM events WHERE kind = 'ticket'").fetchone()[0]
        assert tickets == 1
        refused = [r.getMessage() for r in caplog.records if "refused ticket" in r.getMessage()]
        assert len(refused) == 3 and "no such kiosk" in refused[0] and "far from" in refused[1]
        assert "not the one that sent it" in refused[2]
        assert all("Xin mời" not in line for line in refused)
    finally:
        stop.set()
        caller.inbox.put(None)
        thread.join(10)
        listener.close()
