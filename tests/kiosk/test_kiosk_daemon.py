"""The kiosk daemon in-process with its real wiring: mock GPIO, real broker, network FakePrinter."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from rig import Listener, eventually

from motcua.protocol import Board, Received, Status, Ticket, Topics, encode
from motcua.service_day import ClockReading

TOPICS = Topics("liem-chung")
CUT = b"\x1bd\x05\x1dV\x00"          # feed and full cut: one per ticket
DAT_DAI, TU_PHAP, LDTBXH, CHUNG_THUC, PRIORITY = 17, 27, 22, 23, 24


def tickets(listener: Listener) -> list[Ticket]:
    return [Ticket.decode(p) for p in listener.payloads(TOPICS.ticket_from("k1"))]


def wait_tickets(listener: Listener, count: int) -> list[Ticket]:
    assert listener.wait_for(lambda lst: len({t.id for t in tickets(lst)}) >= count), tickets(listener)
    return tickets(listener)


def last_status(listener: Listener) -> Status:
    payloads = listener.payloads(TOPICS.status("kiosk", "k1"))
    return Status.decode(payloads[-1]) if payloads else Status("kiosk", "k1", "offline")


def test_a_press_prints_and_the_ticket_reaches_the_broker(start_kiosk, broker, printer) -> None:
    listener = Listener(broker.url, TOPICS.ticket_from("k1"), TOPICS.status("kiosk", "k1"))
    kiosk = start_kiosk()
    kiosk.press(DAT_DAI)
    wait_tickets(listener, 1)
    kiosk.press(CHUNG_THUC)
    got = wait_tickets(listener, 2)
    assert [(t.service, t.number, t.seq, t.kiosk, t.priority, t.name) for t in got] == [
        ("dat-dai", "1001", 1001, "k1", False, None), ("chung-thuc", "C001", 1, "k1", False, None)]
    assert printer.data().count(CUT) == 2
    assert kiosk.rows("SELECT number, state FROM tickets ORDER BY n") == [("1001", "printed"),
                                                                         ("C001", "printed")]
    # The outbox keeps a ticket until the caller confirms it (the broker's PUBACK is not
    # delivery); here the listener plays the caller's part.
    assert kiosk.rows("SELECT count(*) FROM outbox") == [(2,)]
    listener.publish(TOPICS.received, encode(Received(ids=[t.id for t in got])))
    assert eventually(lambda: kiosk.rows("SELECT count(*) FROM outbox") == [(0,)])
    assert listener.wait_for(lambda lst: last_status(lst).health.get("outbox") == 0)
    health = last_status(listener).health
    assert health["printer"] == "ok" and health["open"] is True and health["paper"] == "80mm"
    listener.close()


def test_presses_while_printing_do_not_stack(start_kiosk, broker) -> None:
    listener = Listener(broker.url, TOPICS.ticket_from("k1"))
    kiosk = start_kiosk("hold_off_ms = 0")
    for pin in (DAT_DAI, DAT_DAI, DAT_DAI, TU_PHAP):    # all before the first ticket is out
        kiosk.press(pin)
    wait_tickets(listener, 1)
    kiosk.press(LDTBXH)
    got = wait_tickets(listener, 2)
    assert [t.number for t in got] == ["1001", "3001"]
    assert kiosk.rows("SELECT count(*) FROM tickets") == [(2,)]
    listener.close()


def test_priority_then_service_and_hold_off_against_mashing(start_kiosk, broker) -> None:
    listener = Listener(broker.url, TOPICS.ticket_from("k1"))
    kiosk = start_kiosk("hold_off_ms = 5000")
    kiosk.press(PRIORITY)
    kiosk.press(TU_PHAP)
    wait_tickets(listener, 1)
    for _ in range(5):              # mashing the same button after its ticket came out
        kiosk.press(TU_PHAP)
    kiosk.press(LDTBXH)
    got = wait_tickets(listener, 2)
    assert [(t.number, t.priority) for t in got] == [("2001", True), ("3001", False)]
    assert kiosk.rows("SELECT count(*) FROM tickets") == [(2,)]
    listener.close()


def test_waiting_ahead_and_estimate_come_from_the_retained_board(start_kiosk, broker) -> None:
    day = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    listener = Listener(broker.url, TOPICS.ticket_from("k1"))
    board = Board(seq=3, updated_at=day.isoformat(timespec="seconds"), day="",
                  waiting={"dat-dai": 4}, wait_estimate_s={"dat-dai": 610})
    kiosk = start_kiosk()
    board = Board(**{**board.__dict__, "day": str(kiosk.kiosk.day)})
    listener.publish(TOPICS.board, encode(board), retain=True)
    assert eventually(lambda: kiosk.kiosk.board is not None)     # subscribed by now
    listener.publish(TOPICS.board, b"not json", retain=False)
    views = []
    real_print = kiosk.kiosk.printer.print_ticket
    kiosk.kiosk.printer.print_ticket = lambda view: (views.append(view), real_print(view))
    assert eventually(lambda: kiosk.kiosk.dropped == 1)
    kiosk.press(DAT_DAI)
    wait_tickets(listener, 1)
    kiosk.press(TU_PHAP)
    wait_tickets(listener, 2)
    assert [(v.waiting_ahead, v.wait_estimate_min) for v in views] == [(4, 11), (None, None)]
    listener.close()


def test_a_priority_ticket_counts_only_who_is_really_ahead(start_kiosk, broker) -> None:
    """Issue 15: one normal ticket waiting, a priority ticket is called first: "0" ahead,
    and the estimate scaled to the tickets really ahead (none: "dưới 1 phút")."""
    day = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    listener = Listener(broker.url, TOPICS.ticket_from("k1"))
    kiosk = start_kiosk()
    board = Board(seq=3, updated_at=day.isoformat(timespec="seconds"), day=str(kiosk.kiosk.day),
                  waiting={"tu-phap": 1, "dat-dai": 3}, wait_estimate_s={"tu-phap": 300, "dat-dai": 900},
                  ahead_normal={"tu-phap": 1, "dat-dai": 3}, ahead_priority={"tu-phap": 0, "dat-dai": 1})
    listener.publish(TOPICS.board, encode(board), retain=True)
    assert eventually(lambda: kiosk.kiosk.board is not None and kiosk.kiosk.board.seq == 3)
    views = []
    real_print = kiosk.kiosk.printer.print_ticket
    kiosk.kiosk.printer.print_ticket = lambda view: (views.append(view), real_print(view))
    kiosk.press(PRIORITY)
    kiosk.press(TU_PHAP)
    wait_tickets(listener, 1)
    kiosk.press(PRIORITY)
    kiosk.press(DAT_DAI)
    wait_tickets(listener, 2)
    assert [(v.priority, v.waiting_ahead, v.wait_estimate_min) for v in views] == [
        (True, 0, 0), (True, 1, 5)]
    listener.close()


def test_closed_hours_print_nothing_and_say_so(start_kiosk, broker, printer) -> None:
    listener = Listener(broker.url, TOPICS.status("kiosk", "k1"))
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    kiosk = start_kiosk(f'days_off = ["{now.date()}", "{now.date().replace(day=1)}"]\nhold_off_ms = 0')
    assert listener.wait_for(lambda lst: last_status(lst).health.get("open") is False)
    kiosk.press(DAT_DAI)
    assert eventually(lambda: "refused" in kiosk.kiosk.indicator.beeps)
    assert kiosk.kiosk.indicator.state == "closed"
    assert kiosk.rows("SELECT count(*) FROM tickets") == [(0,)] and printer.data().count(CUT) == 0
    listener.close()


def test_paper_out_refuses_then_recovers(start_kiosk, broker, printer) -> None:
    listener = Listener(broker.url, TOPICS.ticket_from("k1"), TOPICS.status("kiosk", "k1"))
    printer.paper_out = True
    kiosk = start_kiosk()
    assert listener.wait_for(lambda lst: last_status(lst).health.get("printer") == "paper_out")
    kiosk.press(DAT_DAI)
    assert eventually(lambda: "refused" in kiosk.kiosk.indicator.beeps)
    assert kiosk.kiosk.indicator.state == "fault"
    printer.paper_out = False
    assert listener.wait_for(lambda lst: last_status(lst).health.get("printer") == "ok")
    kiosk.press(DAT_DAI)
    assert [t.number for t in wait_tickets(listener, 1)] == ["1001"]   # nothing was used up
    listener.close()


def test_a_failed_print_is_void_and_never_sent(start_kiosk, broker, printer) -> None:
    listener = Listener(broker.url, TOPICS.ticket_from("k1"))
    kiosk = start_kiosk()
    from motcua.kiosk.printer import PrinterError

    def broken(view) -> None:
        raise PrinterError("the printer went away", "offline")

    real_print = kiosk.kiosk.printer.print_ticket
    kiosk.kiosk.printer.print_ticket = broken
    kiosk.press(DAT_DAI)
    assert eventually(lambda: kiosk.rows("SELECT state FROM tickets") == [("void",)])
    kiosk.kiosk.printer.print_ticket = real_print
    kiosk.press(TU_PHAP)
    assert [t.number for t in wait_tickets(listener, 1)] == ["2001"]
    assert kiosk.rows("SELECT number, state, void_reason FROM tickets ORDER BY n") == [
        ("1001", "void", "offline"), ("2001", "printed", None)]
    listener.close()


def test_a_scanned_name_is_the_only_personal_data_that_leaves(start_kiosk, broker, caplog) -> None:
    from motcua.kiosk.presses import Scan

    card_id, born, address = "035095001234", "07031995", "Thôn Đồng Lạc, Liêm Chung, Hà Nam"
    scan = f"{card_id}|168456789|Trần Thị Bình|{born}|Nữ|{address}|15082021\r\n"
    listener = Listener(broker.url, "motcua/#")
    caplog.set_level(logging.DEBUG)
    kiosk = start_kiosk()
    views = []
    real_print = kiosk.kiosk.printer.print_ticket
    kiosk.kiosk.printer.print_ticket = lambda view: (views.append(view), real_print(view))
    kiosk.kiosk.link.inbox.put(Scan(scan, time.monotonic()))
    kiosk.kiosk.link.inbox.put(Scan("garbage|" + card_id, time.monotonic()))
    assert eventually(lambda: "scan_refused" in kiosk.kiosk.indicator.beeps)
    kiosk.press(DAT_DAI)
    wait_tickets(listener, 1)
    kiosk.press(TU_PHAP)
    got = wait_tickets(listener, 2)
    assert [t.name for t in got] == ["Trần Thị Bình", None]
    assert [v.name for v in views] == ["Trần Thị Bình", None]
    kiosk.stop()
    stored = b"".join(p.read_bytes() for p in kiosk.db_path.parent.glob("kiosk-k1.db*"))
    published = b"".join(payload for _, payload, _ in listener.messages)
    logged = caplog.text
    view_text = json.dumps([v.__dict__ for v in views], default=str, ensure_ascii=False)
    for secret in (card_id, "168456789", born, address, "15082021"):
        for where, text in (("db", stored.decode("utf-8", "replace")),
                            ("mqtt", published.decode("utf-8")), ("log", logged), ("ticket", view_text)):
            assert secret not in text, f"{secret} leaked into the {where}"
    assert "Trần Thị Bình" not in logged
    listener.close()


def test_the_day_does_not_reset_on_an_unsynchronised_jump(start_kiosk, broker) -> None:
    listener = Listener(broker.url, TOPICS.ticket_from("k1"))
    base = datetime(2025, 6, 10, 10, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()
    clock = {"wall": base, "mono": 100.0, "synced": False}

    def read() -> ClockReading:
        return ClockReading(clock["wall"], clock["mono"], clock["synced"])

    kiosk = start_kiosk(clock=read)
    kiosk.press(DAT_DAI)
    wait_tickets(listener, 1)
    clock["wall"] += 86400                      # +1 day jump, not synchronised
    kiosk.press(TU_PHAP)
    wait_tickets(listener, 2)
    kiosk.press(DAT_DAI)
    got = wait_tickets(listener, 3)
    assert {t.day for t in got} == {"2025-06-10"}
    assert [t.number for t in got] == ["1001", "2001", "1002"]
    listener.close()


def test_the_led_says_no_hub_while_the_broker_is_away(start_kiosk, broker, printer) -> None:
    """Issue 15: the kiosk was silent with the hub away; tickets still print meanwhile."""
    listener = Listener(broker.url, TOPICS.ticket_from("k1"))
    kiosk = start_kiosk()
    assert eventually(lambda: kiosk.kiosk.indicator.state == "ready")
    broker.stop()
    assert eventually(lambda: kiosk.kiosk.indicator.state == "no_hub", timeout=15)
    kiosk.press(DAT_DAI)                                   # printed, waits in the outbox
    assert eventually(lambda: printer.data().count(CUT) == 1)
    assert eventually(lambda: kiosk.kiosk.indicator.state == "no_hub")   # after "printing"
    broker.start()
    assert eventually(lambda: kiosk.kiosk.indicator.state == "ready", timeout=30)
    wait_tickets(listener, 1)
    listener.close()


def test_a_printer_fault_says_why_in_the_log_and_on_the_status(start_kiosk, broker, printer,
                                                                caplog) -> None:
    """Issue 15: "cover open", not a state name, in the log and on status/kiosk/<id>."""
    caplog.set_level(logging.INFO)
    listener = Listener(broker.url, TOPICS.status("kiosk", "k1"))
    printer.cover_open = True
    kiosk = start_kiosk()
    assert listener.wait_for(lambda lst: last_status(lst).health.get("printer_says") == "cover open")
    assert last_status(listener).health["printer"] == "cover_open"
    assert any(f"printer {printer.spec}: cover open" in r.getMessage() for r in caplog.records)
    printer.cover_open = False
    assert listener.wait_for(lambda lst: last_status(lst).health.get("printer_says") == "ready")
    assert kiosk.kiosk.printer_state.state == "ok"
    listener.close()
