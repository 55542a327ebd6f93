"""The office pages' pure parts: passwords, sessions, the 766 share, the live view's alerts,
the reasons by counter and week (on the caller's real schema)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime

from motcua.caller.figures import TicketRecord, figures, satisfied_levels
from motcua.caller.history import read_reasons, read_reasons_by
from motcua.caller.store import EventStore
from motcua.web.auth import Sessions, User, UserRole, check_password, hash_password
from motcua.web.dashboard import safe_next
from motcua.web.live import live_view
from motcua.web.state import Office, Stage, TicketInfo

from motcua.protocol import Board, CounterState, Status


def test_passwords_are_salted_scrypt_and_checked() -> None:
    first, second = hash_password("mật khẩu dài"), hash_password("mật khẩu dài")
    assert first.startswith("scrypt$16384$8$1$") and first != second      # a salt per hash
    assert "mật khẩu" not in first
    assert check_password("mật khẩu dài", first) and check_password("mật khẩu dài", second)
    assert not check_password("mật khẩu dai", first)
    assert not check_password("x", "garbage") and not check_password("x", "md5$1$2$3$00$00")


def test_sessions_expire_when_idle_and_after_the_day() -> None:
    user = User("a", UserRole.HEAD, None, "h")
    sessions = Sessions(idle_s=100, max_s=1000)
    sid = sessions.open(user, now=0)
    assert sessions.get(sid, 50) is not None and sessions.get(sid, 149) is not None   # seen at 149
    assert sessions.get(sid, 250) is None                                             # idle 101 s
    sid = sessions.open(user, now=0)
    for t in range(90, 1000, 90):
        assert sessions.get(sid, t) is not None
    assert sessions.get(sid, 1001) is None                                            # a day's end
    assert sessions.get("forged", 0) is None and sessions.get(None, 0) is None
    sid = sessions.open(user, 0)
    sessions.close_user("a")
    assert sessions.get(sid, 1) is None
    # The live page's own stream looks without touching: only a person's requests keep it open.
    sid = sessions.open(user, now=0)
    for t in range(10, 100, 10):
        assert sessions.get(sid, t, touch=False) is not None
    assert sessions.ends(sessions.by_id[sid]) == 100
    assert sessions.get(sid, 100, touch=False) is None


def test_login_goes_back_only_to_office_pages() -> None:
    assert safe_next("/office/report?from=2026-01-01") == "/office/report?from=2026-01-01"
    for bad in ("https://evil.example/", "//evil.example/office", "/office//evil", "/t/abc", None, ""):
        assert safe_next(bad) == "/office"


def test_the_766_share_counts_every_level_above_khong_hai_long() -> None:
    assert satisfied_levels(("Rất hài lòng", "Hài lòng", "Không hài lòng")) == 2
    five = ("Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng", "Rất không hài lòng")
    assert satisfied_levels(five) == 3
    assert satisfied_levels(("Hài lòng", "KHÔNG HÀI LÒNG")) == 1
    assert satisfied_levels(("Tốt", "Khá", "Kém")) == 2        # no such name: all but the last
    # `motcua report` and the pages pass it to the readers: 3 of 5 levels are "not dissatisfied".
    records = [TicketRecord(day="2026-11-30", service="dat-dai", hour=8, outcome="served", rating=level)
               for level in (1, 2, 3, 4, 5)]
    assert figures(records, target_wait_s=900, satisfied_levels=satisfied_levels(five)).satisfied == 0.6


def office_with_devices() -> Office:
    office = Office(levels=3, reason_levels=1, reasons=("Lý do khác",), window_s=60)
    office.new_board(Board(seq=1, updated_at="2026-11-30T08:00:00+07:00", day="2026-11-30",
                           waiting={"dat-dai": 1}, wait_estimate_s={"dat-dai": 600}))
    office.tickets["a"] = TicketInfo(id="a", number="1001", service="dat-dai", day="2026-11-30",
                                     issued_at="2026-11-30T08:00:00+07:00", seq=1, stage=Stage.WAITING)
    office.counter_state(CounterState(counter="1", status="serving", number="1000", service="dat-dai",
                                      ticket="b", seq=1), now=0.0, wall=1000.0)
    return office


def test_live_view_alerts_for_paper_offline_pads_and_long_waits() -> None:
    office = office_with_devices()
    eight = datetime.fromisoformat("2026-11-30T08:00:00+07:00").timestamp()
    settings = dict(services={"dat-dai": "Đất đai"}, counters={"1": "Quầy số 1"}, target_wait_s=900)
    view = live_view(office, eight + 60, **settings)
    assert view["alerts"] == []
    assert view["counters"][0] == {"id": "1", "name": "Quầy số 1", "status": "serving",
                                        "status_text": "Đang phục vụ", "number": "1000",
                                        "service": "Đất đai", "since": 1000.0, "served_today": 0}
    office.device_status(Status(role="kiosk", device="k1", state="online", at="2026-11-30T08:01:00+07:00",
                                health={"printer": "paper_out"}))
    office.device_status(Status(role="counter", device="1", state="offline"))
    view = live_view(office, eight + 16 * 60, **settings)
    texts = [a["text"] for a in view["alerts"]]
    assert texts == ["Bàn phím quầy Quầy số 1 mất kết nối", "Ki-ốt k1: máy in hết giấy",
                     "Đất đai: có công dân chờ quá 15 phút"]
    office.device_status(Status(role="kiosk", device="k1", state="online", health={"printer": "ok"}))
    office.device_status(Status(role="counter", device="1", state="online"))
    office.tickets["a"].stage = Stage.CALLED
    assert live_view(office, eight + 16 * 60, **settings)["alerts"] == []


def test_reasons_by_counter_and_week_are_the_accepted_ratings(tmp_path) -> None:
    db = tmp_path / "caller.db"
    EventStore(db).db.close()
    with sqlite3.connect(db) as conn:
        def ticket(tid: str, day: str, counter: str, rated_at: str | None) -> None:
            conn.execute("INSERT INTO tickets (id, day, service, number, priority, status, counter,"
                         " issued_at, rating, rated_at) VALUES (?,?,?,?,0,'done',?,?,3,?)",
                         (tid, day, "dat-dai", tid, counter, f"{day}T08:00:00+07:00", rated_at))

        def rating(tid: str, at: str, reason: str | None, seq: int) -> None:
            conn.execute("INSERT INTO events (seq, kind, msg_id, at, counter, body) VALUES (?,?,?,?,?,?)",
                         (seq, "rating", f"m{seq}", at, "1",
                          json.dumps({"ticket": tid, "score": 3, "reason": reason})))

        ticket("t1", "2026-11-23", "1", "2026-11-23T09:00:00+07:00")    # Monday
        ticket("t2", "2026-11-29", "1", "2026-11-29T09:00:00+07:00")    # Sunday, same week
        ticket("t3", "2026-11-30", "2", "2026-11-30T09:00:00+07:00")    # next Monday
        rating("t1", "2026-11-23T09:00:00+07:00", "Thái độ phục vụ", 1)
        rating("t2", "2026-11-29T08:59:00+07:00", "Lý do khác", 2)      # refused (not the accepted one)
        rating("t2", "2026-11-29T09:00:00+07:00", "Thái độ phục vụ", 3)
        rating("t3", "2026-11-30T09:00:00+07:00", "Thời gian chờ lâu", 4)
    rows = read_reasons_by(db, date(2026, 11, 1), date(2026, 11, 30))
    assert rows == [("1", "2026-11-23", "Thái độ phục vụ", 2), ("2", "2026-11-30", "Thời gian chờ lâu", 1)]
    totals: dict[str, int] = {}
    for _, _, reason, n in rows:
        totals[reason] = totals.get(reason, 0) + n
    assert totals == read_reasons(db, date(2026, 11, 1), date(2026, 11, 30))


def test_report_cache_keeps_settled_days_and_reads_the_others(tmp_path) -> None:
    from motcua.caller.history import read_report
    from motcua.web.dashboard import ReportCache, command_csv

    db = tmp_path / "caller.db"
    EventStore(db).db.close()

    def add(tid: str, day: str, service: str, wait_min: int, rating: int | None) -> None:
        with sqlite3.connect(db) as conn:
            conn.execute("INSERT INTO tickets (id, day, service, number, priority, status, counter,"
                         " issued_at, called_at, done_at, rating) VALUES (?,?,?,?,0,'done','1',?,?,?,?)",
                         (tid, day, service, tid, f"{day}T08:00:00+07:00", f"{day}T08:{wait_min:02}:00+07:00",
                          f"{day}T08:59:00+07:00", rating))

    for i, day in enumerate(("2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30")):
        add(f"a{i}", day, "dat-dai", 5 + i, 1)
        add(f"b{i}", day, "tu-phap", 20 + i, 3)
    cache = ReportCache(db)
    today = date(2026, 11, 30)                # the board's day; 11-29 may still take a late rating
    cache.load_closed(today)
    assert cache.closed is not None and cache.closed.days == ["2026-11-26", "2026-11-27", "2026-11-28"]
    settings = dict(target_wait_s=900, satisfied_levels=2)
    levels = ("a", "b", "c")

    def both(start: date, end: date, on: date | None = today) -> tuple:
        page = cache.report(start, end, on, by=("service", "day"), hours=True, target=900, good_levels=2)
        return page, read_report(db, start, end, by=("service", "day"), hours=True, **settings)

    for start, end in ((date(2026, 11, 27), date(2026, 11, 28)), (date(2026, 11, 27), today),
                       (date(2026, 11, 20), date(2026, 12, 5))):
        kept, read = both(start, end)
        assert kept == read
        assert command_csv(kept, "service", {}, levels) == command_csv(read, "service", {}, levels)
    # Today and yesterday are read each time: tickets arriving, and a late rating of yesterday's
    # last ticket, are in the next report of a period that includes them.
    add("c", "2026-11-30", "dat-dai", 1, None)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE tickets SET rating = 3 WHERE id = 'a3'")
    kept, read = both(date(2026, 11, 26), today)
    assert kept == read and kept.total.issued == 11 and kept.total.ratings == {1: 4, 3: 6}
    # A settled day is kept; without the board's day nothing is taken as settled.
    add("d", "2026-11-27", "dat-dai", 1, None)
    assert both(date(2026, 11, 27), date(2026, 11, 27))[0].total.issued == 2
    assert both(date(2026, 11, 27), date(2026, 11, 27), None)[0].total.issued == 3
    # The next service day: the newly settled day joins the kept columns, the oldest stay.
    cache.load_closed(date(2026, 12, 1))
    assert cache.closed.days == ["2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"]
    assert len(cache.closed) == 8
