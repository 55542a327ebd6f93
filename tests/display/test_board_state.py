"""What the board shows (pure): newest board wins, highlight and blink, offline and old-day notes."""

from __future__ import annotations

from board_samples import make_board
from motcua.display.state import BLINK_S, LABELS, BoardKeeper

from motcua.waits import minutes


def keeper_with(office, clocks, board, *, retained=False) -> BoardKeeper:
    keeper = BoardKeeper(office)
    keeper.link_up(clocks.mono())
    assert keeper.offer(board, retained=retained, mono=clocks.mono(), wall=clocks.wall())
    return keeper


def test_newer_boards_replace_older_and_copies_are_ignored(office, clocks) -> None:
    keeper = keeper_with(office, clocks, make_board(clocks.now, seq=10))
    assert not keeper.offer(make_board(clocks.now, seq=10), retained=False, mono=1, wall=clocks.now)
    assert not keeper.offer(make_board(clocks.now, seq=9), retained=False, mono=1, wall=clocks.now)
    assert keeper.offer(make_board(clocks.now, seq=11, serving={"1": "1013"}), retained=False,
                        mono=1, wall=clocks.now)
    assert keeper.view(clocks.now, 1).counters[0].number == "1013"
    assert keeper.stale == 2


def test_a_retained_board_always_wins_so_a_reset_seq_cannot_freeze_the_board(office, clocks) -> None:
    keeper = keeper_with(office, clocks, make_board(clocks.now, seq=1_800_000_000_000))
    restarted = make_board(clocks.now, seq=5, serving={"1": "1001"})   # the caller's clock went back
    assert keeper.offer(restarted, retained=True, mono=clocks.mono(), wall=clocks.now)
    assert keeper.view(clocks.now, clocks.mono()).counters[0].number == "1001"
    assert keeper.offer(make_board(clocks.now, seq=6, serving={"1": "1002"}), retained=False,
                        mono=clocks.mono(), wall=clocks.now)


def test_the_newest_call_blinks_for_highlight_s_then_stays_plain(office, clocks) -> None:
    keeper = keeper_with(office, clocks, make_board(clocks.now))
    start = clocks.mono()
    assert keeper.view(clocks.now, start).highlight
    assert not keeper.view(clocks.now, start + BLINK_S * 1.5).highlight      # blink: off
    assert keeper.view(clocks.now, start + BLINK_S * 2.5).highlight          # and on again
    assert keeper.next_change(start + 0.1) == start + BLINK_S
    end = start + office.board.highlight_s
    assert not keeper.view(clocks.now, end + 0.01).highlight
    assert keeper.next_change(end) is None
    # the same newest call in a later board does not blink again
    keeper.offer(make_board(clocks.now, seq=11, waiting={"dat-dai": 1}), retained=False,
                 mono=end + 5, wall=clocks.now)
    assert not keeper.view(clocks.now, end + 5).highlight
    # a new call does
    keeper.offer(make_board(clocks.now, seq=12, calls=[("4", "1013", "dat-dai")]), retained=False,
                 mono=end + 6, wall=clocks.now)
    assert keeper.view(clocks.now, end + 6).highlight
    assert keeper.view(clocks.now, end + 6).calls[0].counter_name == "Quầy số 4"


def test_a_call_found_late_on_reconnect_does_not_blink(office, clocks) -> None:
    keeper = keeper_with(office, clocks, make_board(clocks.now, call_age_s=3600), retained=True)
    assert not keeper.view(clocks.now, clocks.mono()).highlight
    assert keeper.view(clocks.now, clocks.mono(), force_highlight=True).highlight


def test_offline_keeps_the_data_and_says_since_when(office, clocks) -> None:
    keeper = keeper_with(office, clocks, make_board(clocks.now))
    keeper.link_down()
    clocks.advance(3 * 24 * 3600)                 # days without the broker
    view = keeper.view(clocks.now, clocks.mono())
    assert view.offline
    assert view.notice == f"{LABELS['offline']} · {LABELS['last_update']} 09:30:00 30/11/2026"
    assert view.counters[0].number == "1012" and view.calls[0].number == "3017"
    keeper.link_up(clocks.mono())
    assert not keeper.view(clocks.now, clocks.mono()).offline


def test_before_any_board_and_with_a_board_of_another_day(office, clocks) -> None:
    keeper = BoardKeeper(office)
    keeper.link_up(clocks.mono())
    view = keeper.view(clocks.now, clocks.mono())
    assert view.notice == LABELS["no_data"] and view.calls == ()
    assert {row.status for row in view.counters} == {"unknown"}
    keeper.offer(make_board(clocks.now, day="2026-11-27"), retained=True, mono=clocks.mono(),
                 wall=clocks.now)
    assert keeper.view(clocks.now, clocks.mono()).notice == f"{LABELS['old_day']} 27/11/2026"


def test_view_texts(office, clocks) -> None:
    keeper = keeper_with(office, clocks, make_board(clocks.now))
    view = keeper.view(clocks.now, clocks.mono())
    assert view.title == "UBND xã Liêm Chung"
    assert (view.date, view.time) == ("Thứ Hai, 30/11/2026", "09:30:00")
    assert [row.status for row in view.counters] == ["serving", "serving", "serving", "idle"]
    assert view.counters[2].person == "Nguyễn V. A."
    first = view.waiting[0]
    assert (first.service_name, first.count, first.estimate) == ("Đất đai", 7, "khoảng 21 phút")
    assert view.waiting[1].estimate == ""
    assert len(view.calls) == 3 and view.calls[0].service_name == "Lao động – Thương binh và Xã hội"
    assert view.ticker.startswith("5 biết: Biết nghe dân nói, biết nói dân hiểu")


def test_recent_calls_are_cut_to_the_configured_count(office, clocks) -> None:
    calls = [("1", f"{1001 + i}", "dat-dai") for i in range(office.board.recent_calls + 4)]
    keeper = keeper_with(office, clocks, make_board(clocks.now, calls=calls))
    assert len(keeper.view(clocks.now, clocks.mono()).calls) == office.board.recent_calls


def test_the_board_says_the_tickets_words_and_nothing_for_an_empty_queue(office, clocks) -> None:
    """Issue 15: "0 ~1 phút" for an empty service, "~1 phút" where the ticket said "dưới 1 phút"."""
    from dataclasses import replace

    from motcua.kiosk.ticket import TicketView, layout

    board = replace(make_board(clocks.now), waiting={"dat-dai": 0, "tu-phap": 1, "ldtbxh": 2},
                    wait_estimate_s={"dat-dai": 0, "tu-phap": 40, "ldtbxh": 4000})
    view = keeper_with(office, clocks, board).view(clocks.now, clocks.mono())
    rows = {row.service_name: (row.count, row.estimate) for row in view.waiting}
    assert rows["Đất đai"] == (0, "")
    assert rows["Tư pháp – Hộ tịch"] == (1, "khoảng 1 phút")
    assert rows["Lao động – Thương binh và Xã hội"] == (2, "khoảng 1 giờ 7 phút")
    ticket = TicketView(office="UBND", unit="BP", service_name="Tư pháp – Hộ tịch", number="2002",
                        priority=False, waiting_ahead=1, wait_estimate_min=minutes(40), name=None,
                        issued_at=clocks.now, ticket_id="x", footer="", paper="80mm")
    lines = {line.role: line.text for line in layout(ticket)}
    assert lines["estimate"] == "Dự kiến chờ: khoảng 1 phút"


def test_a_board_that_never_reached_the_hub_says_mat_ket_noi(office, clocks) -> None:
    """Issue 15: with the hub away from the start the board waited "for data" forever."""
    keeper = BoardKeeper(office)
    assert keeper.view(clocks.now, clocks.mono()).notice == LABELS["no_data"]   # still connecting
    keeper.link_down()                                  # the link's warning: the hub is away
    view = keeper.view(clocks.now, clocks.mono())
    assert view.offline and view.notice == "MẤT KẾT NỐI · chưa liên lạc được máy gọi số"
    keeper.link_up(clocks.mono())
    assert keeper.view(clocks.now, clocks.mono()).notice == LABELS["no_data"]
def test_a_caller_that_stops_beating_is_shown_as_not_answering(office, clocks) -> None:
    """A frozen caller keeps its retained board and status: only its heartbeat tells."""
    from motcua.delivery import STALE_S
    from motcua.protocol import Heartbeat

    keeper = keeper_with(office, clocks, make_board(clocks.now))
    beat = 0

    def heartbeat(accepting: bool = True) -> None:
        nonlocal beat
        beat += 1
        keeper.heartbeat(Heartbeat(at=clocks.now.isoformat(), seq=beat, accepting=accepting,
                                   reason=None if accepting else "disk full"), clocks.mono())

    for _ in range(int(STALE_S) + 3):             # a caller beating every second: all is well
        heartbeat()
        clocks.advance(1)
        view = keeper.view(clocks.now, clocks.mono())
        assert (view.notice, view.offline) == ("", False)
    clocks.advance(STALE_S + 0.5)                 # then silence (SIGSTOP, a hung disk)
    view = keeper.view(clocks.now, clocks.mono())
    assert view.offline and view.notice.startswith(LABELS["caller_silent"])
    assert view.notice.endswith(f"{LABELS['last_update']} 09:30:00 30/11/2026")
    assert view.counters[0].number == "1012"      # the last data stays, marked
    heartbeat()
    assert keeper.view(clocks.now, clocks.mono()).notice == ""
    heartbeat(accepting=False)                    # alive, but its event log refuses writes
    view = keeper.view(clocks.now, clocks.mono())
    assert view.offline and view.notice.startswith(LABELS["caller_refusing"])
