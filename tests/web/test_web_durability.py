"""A rating the page was thanked for reaches the caller, even if the broker is away at the tap
and the web role is killed before it could send it (its outbox is on disk)."""

from __future__ import annotations

import pytest
from rig import eventually
from web_rig import WebOffice


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """An office of this module's own: its tests stop and restart the broker and the web role."""
    office = WebOffice(tmp_path_factory.mktemp("web-durability"))
    yield office
    office.close()


def test_a_rating_survives_the_broker_away_and_the_web_role_killed(office: WebOffice) -> None:
    ticket = office.take_ticket("1001")
    office.press("1", "next")
    office.press("1", "done")
    assert eventually(lambda: (s := office.counter_state("1")) is not None and s.last is not None
                      and s.last.ticket == ticket.id, 15)
    # The web role has seen it finished (its web.db says so): its page offers the rating.
    assert eventually(lambda: web_stage(office, ticket.id) == "done", 10)
    assert office.request(f"/t/{ticket.id}")[0] == 200

    office.broker.stop()
    assert eventually(lambda: office.health().get("link") is False, 15)
    status, answer = office.post_json(f"/t/{ticket.id}/rating", {"level": 2})
    assert status == 202, answer
    office.stop_web(kill=True)                 # before any PUBACK: only the outbox holds it
    assert office.caller_rows("SELECT rating FROM tickets WHERE id = ?", ticket.id) == [(None,)]

    office.broker.start()
    office.start_web()
    assert eventually(lambda: office.caller_rows(
        "SELECT rating FROM tickets WHERE id = ?", ticket.id) == [(2,)], 40), office.log("web")
    assert office.caller_rows("SELECT count(*) FROM events WHERE kind = 'rating'") == [(1,)]
    # Once the broker took it, the outbox is empty; a second try is refused.
    assert eventually(lambda: office.health().get("link") is True, 10)
    status, answer = office.post_json(f"/t/{ticket.id}/rating", {"level": 1})
    assert status == 409 and "đã được đánh giá" in answer["error"]


def test_sigterm_stops_the_web_role_cleanly_and_it_says_offline(office: WebOffice) -> None:
    from rig import Listener

    from motcua.protocol import Status

    topic = office.topics.status("web", "hub")
    assert office.web is not None
    office.web.terminate()
    assert office.web.wait(15) == 0, office.log("web")
    listener = Listener(office.broker.url, topic)
    try:
        assert listener.wait_for(lambda li: li.payloads(topic), 10)
        assert Status.decode(listener.payloads(topic)[-1]).state == "offline"
    finally:
        listener.close()
    assert "Traceback" not in office.log("web")
    office.start_web()


def web_stage(office: WebOffice, ticket_id: str) -> str | None:
    import sqlite3

    with sqlite3.connect(f"file:{office.state / 'web.db'}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT stage FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    return row[0] if row else None


def test_a_ticket_finished_before_a_restart_of_the_web_role_can_still_be_rated(office: WebOffice) -> None:
    """The finish time is kept (web.db) and taken from the caller where it is here: after a
    restart the page still offers the rating within the window, and the caller counts it; a
    ticket finished while the web role was down is offered too, from the caller's finish time."""
    before = office.take_ticket("1003")
    office.press("1", "next")
    assert eventually(lambda: getattr(office.counter_state("1"), "ticket", None) == before.id, 15)
    office.press("1", "done")
    assert eventually(lambda: getattr(getattr(office.counter_state("1"), "last", None), "ticket", None)
                      == before.id, 15)
    assert eventually(lambda: web_stage(office, before.id) == "done", 10)      # the web role saw it
    assert eventually(lambda: office.caller_rows("SELECT status FROM tickets WHERE id = ?", before.id)
                      == [("done",)], 10)
    during = office.take_ticket("1004")
    office.press("1", "next")
    assert eventually(lambda: getattr(office.counter_state("1"), "ticket", None) == during.id, 15)
    assert eventually(lambda: (during.id, "called") in office.caller_rows(
        "SELECT id, 'called' FROM tickets WHERE called_at IS NOT NULL"), 10)

    office.stop_web()
    office.press("1", "done")                 # while the web role is down
    assert eventually(lambda: office.caller_rows("SELECT status FROM tickets WHERE id = ?", during.id)
                      == [("done",)], 15)
    office.start_web()
    status, answer = office.post_json(f"/t/{before.id}/rating", {"level": 1})
    assert status == 202, answer
    assert eventually(lambda: office.caller_rows("SELECT rating FROM tickets WHERE id = ?", before.id)
                      == [(1,)], 20), office.log("caller")[-2000:]
    assert eventually(lambda: office.post_json(f"/t/{during.id}/rating", {"level": 2})[0] == 202, 10)
    assert eventually(lambda: office.caller_rows("SELECT rating FROM tickets WHERE id = ?", during.id)
                      == [(2,)], 20), office.log("caller")[-2000:]


def test_a_page_open_when_a_new_day_starts_says_its_ticket_is_old(office: WebOffice) -> None:
    import http.client
    import json
    from datetime import date, timedelta

    from motcua.protocol import Board, encode

    ticket = office.take_ticket("1002")
    conn = http.client.HTTPConnection("127.0.0.1", office.port, timeout=10)
    conn.request("GET", f"/t/{ticket.id}/events")
    stream = conn.getresponse()
    assert stream.status == 200 and stream.headers["content-type"].startswith("text/event-stream")

    def next_view() -> dict:
        while True:
            line = stream.readline()
            assert line, "the stream ended"
            if line.startswith(b"data: "):
                return json.loads(line[6:])

    assert next_view()["stage"] == "waiting"
    tomorrow = (date.fromisoformat(office.day()) + timedelta(days=1)).isoformat()
    # As the caller's first board of the next day (not retained: the caller's own stays).
    office.listener.publish(office.topics.board, encode(Board(
        seq=2**53, updated_at=f"{tomorrow}T05:00:00+07:00", day=tomorrow)))
    view = next_view()
    while view.get("stage") == "waiting":
        view = next_view()
    assert view["stage"] == "old"
    conn.close()
    status, body, _ = office.request(f"/t/{ticket.id}")
    assert status == 404 and "ngày làm việc trước" in body.decode()
