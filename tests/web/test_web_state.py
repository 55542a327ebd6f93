"""The web role's view of the office, from protocol messages only (pure, no I/O)."""

from __future__ import annotations

import re

import pytest
from motcua.web.settings import WebSettings, parse_listen
from motcua.web.state import Office, RatingRefusal, Stage

from motcua.protocol import Board, CounterState, LastTicket, Ticket, new_id

DAY = "2026-11-30"


def office() -> Office:
    return Office(levels=3, reason_levels=1, reasons=("Thái độ phục vụ",), window_s=120)


def ticket(o: Office, number: int, *, service: str = "s", priority: bool = False, day: str = DAY,
           minute: int = 0) -> str:
    t = Ticket(id=new_id(), service=service, number=str(number), seq=number, day=day,
               issued_at=f"{day}T08:{minute:02d}:00+07:00", kiosk="k1", priority=priority)
    o.add_ticket(t)
    return t.id


def board(seq: int, day: str = DAY, waiting: int = 0, estimate: int | None = None) -> Board:
    return Board(seq=seq, updated_at=f"{day}T08:00:00+07:00", day=day, waiting={"s": waiting},
                 wait_estimate_s={"s": estimate} if estimate is not None else {})


def test_ahead_counts_the_same_service_priority_first_then_by_issue() -> None:
    o = office()
    a = ticket(o, 1, minute=1)
    b = ticket(o, 2, minute=2)
    other = ticket(o, 3, service="t", minute=0)
    urgent = ticket(o, 4, priority=True, minute=3)
    assert [o.ahead(x) for x in (urgent, a, b, other)] == [0, 1, 2, 0]
    o.new_board(board(1, waiting=3, estimate=900))        # 5 minutes a ticket
    assert o.phone_view(b, 0)["wait_min"] == 10


def test_called_done_left_and_rated_follow_the_counters_states() -> None:
    o = office()
    a, b = ticket(o, 1), ticket(o, 2, minute=1)
    o.counter_state(CounterState(counter="1", status="serving", seq=1, ticket=a), now=0)
    assert (o.tickets[a].stage, o.tickets[a].counter) == (Stage.CALLED, "1")
    assert o.ahead(b) == 0
    # Next while serving: a is finished (the rating's ticket), b called.
    o.counter_state(CounterState(counter="1", status="serving", seq=2, ticket=b,
                                 last=LastTicket(ticket=a, number="1", service="s")), now=10)
    assert o.tickets[a].stage == Stage.DONE and o.tickets[b].stage == Stage.CALLED
    assert o.tablet_view("1", 20)["prompt"]["ticket"] == a
    # Skip: b leaves without being finished.
    o.counter_state(CounterState(counter="1", status="idle", seq=3,
                                 last=LastTicket(ticket=a, number="1", service="s")), now=30)
    assert o.tickets[b].stage == Stage.LEFT
    # An older retained copy changes nothing.
    assert o.counter_state(CounterState(counter="1", status="serving", seq=1, ticket=a), now=40) == []
    o.counter_state(CounterState(counter="1", status="idle", seq=4,
                                 last=LastTicket(ticket=a, number="1", service="s", rated=True)), now=50)
    assert o.phone_view(a, 60)["rated"] and o.tablet_view("1", 60) == {"online": False, "prompt": None,
                                                                        "rated": a}


def test_rating_rules() -> None:
    o = office()
    a, waiting = ticket(o, 1), ticket(o, 2)
    o.counter_state(CounterState(counter="1", status="idle", seq=1,
                                 last=LastTicket(ticket=a, number="1", service="s")), now=100)
    assert o.check_rating(a, 1, None, 101) is None
    assert o.check_rating(a, 3, "Thái độ phục vụ", 101) is None
    assert o.check_rating(a, 2, "Thái độ phục vụ", 101) is RatingRefusal.BAD_REASON, "not asked on level 2"
    assert o.check_rating(a, 3, "Khác", 101) is RatingRefusal.BAD_REASON
    assert o.check_rating(a, 0, None, 101) is RatingRefusal.BAD_LEVEL
    assert o.check_rating(a, True, None, 101) is RatingRefusal.BAD_LEVEL
    assert o.check_rating(a, 1, None, 101, counter="2") is RatingRefusal.NOT_THIS_COUNTER
    assert o.check_rating(waiting, 1, None, 101) is RatingRefusal.NOT_FINISHED
    assert o.check_rating(new_id(), 1, None, 101) is RatingRefusal.UNKNOWN_TICKET
    assert o.check_rating(a, 1, None, 221) is RatingRefusal.TOO_LATE
    assert o.tablet_view("1", 221)["prompt"] is None, "the prompt goes once the window is over"
    o.rating_sent(a, 1)
    assert o.check_rating(a, 1, None, 102) is RatingRefusal.ALREADY_RATED


def test_a_new_day_drops_the_old_days_tickets() -> None:
    o = office()
    old = ticket(o, 1, day="2026-11-29")
    o.new_board(board(1))
    assert old not in o.tickets and o.phone_view(old, 0) is None
    late = ticket(o, 2, day="2026-11-29")
    assert o.tickets[late].stage == Stage.OLD


@pytest.mark.parametrize(("text", "expected"), [("0.0.0.0:8080", ("0.0.0.0", 8080)),
                                                (":80", ("0.0.0.0", 80)), ("[::]:8080", ("::", 8080))])
def test_listen_addresses(text: str, expected: tuple) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["8080", "host:", "host:99999", "host:x"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(text)


def test_reasons_are_asked_on_the_lowest_levels() -> None:
    assert WebSettings().asks_reason(3) == 1 and WebSettings().asks_reason(5) == 2
    assert WebSettings(reason_levels=0).asks_reason(5) == 0


@pytest.mark.parametrize(("lines", "words"), [
    ('url = "motcua-hub.local"', "is not http://"),
    ('url = "http://hub:8080/?x=1"', "is not http://"),
    ('listen = "8080"', "is not HOST:PORT"),
    ('reasons = ["a", "a"]', "distinct"),
    ('thanks_s = 0', "at least"),
    ('colour = "red"', "not a known key"),
])
def test_bad_web_sections_name_the_key(tmp_path, lines: str, words: str) -> None:
    from rig import write_site_config

    from motcua.config import load_config
    from motcua.errors import ConfigError

    path = write_site_config(tmp_path, extra=f"[web]\n{lines}\n")
    with pytest.raises(ConfigError, match=words):
        load_config(path)


def test_the_pages_load_nothing_from_elsewhere() -> None:
    from importlib import resources

    pages = resources.files("motcua.web") / "pages"
    for page in pages.iterdir():
        text = page.read_text(encoding="utf-8")
        assert "http:" not in text and "https:" not in text and "//" not in text.replace(
            "// ", "").replace("/* ", ""), page.name
        if page.name.endswith(".html"):
            assert '<html lang="vi">' in text
            for target in re.findall(r'(?:src|href)="([^"]+)"', text):
                assert target.startswith("/static/"), (page.name, target)


def test_the_five_level_scale_is_one_setting_away(tmp_path) -> None:
    from motcua.web.app import page_config
    from rig import write_site_config

    from motcua.config import load_config

    five = '["Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng", "Rất không hài lòng"]'
    path = write_site_config(tmp_path, extra="[web]\n")
    path.write_text(path.read_text(encoding="utf-8").replace(
        "[counter_pad]\n", f"[counter_pad]\nrating = {{ levels = {five} }}\n"), encoding="utf-8")
    settings = page_config(load_config(path))
    assert settings["levels"][2] == "Bình thường" and settings["reason_levels"] == 2
    assert settings["conduct"].startswith("5 biết: Biết nghe dân nói")      # the board's ticker


def test_a_page_open_across_the_new_day_says_old() -> None:
    o = office()
    a = ticket(o, 1)
    o.new_board(board(1))
    assert o.phone_view(a, 0)["stage"] == "waiting"
    o.new_board(board(2, day="2026-12-01"))
    assert o.phone_view(a, 0) is None and a not in o.tickets
