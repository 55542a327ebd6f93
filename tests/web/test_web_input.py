"""Bad input to every endpoint: a 4xx with a clear Vietnamese message, and nothing stored."""

from __future__ import annotations

import http.client
import json
import sqlite3

import pytest
from rig import eventually
from web_rig import WebOffice, motcua

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def scene(office: WebOffice) -> dict:
    """A ticket counter 2 finished, one still waiting, and tablet tokens for counters 2 and 3."""
    done = office.take_ticket("2001", "tu-phap")
    office.press("2", "next")
    assert eventually(lambda: (s := office.counter_state("2")) is not None and s.ticket == done.id, 15)
    office.press("2", "done")
    assert eventually(lambda: (s := office.counter_state("2")) is not None and s.last is not None
                      and s.last.ticket == done.id, 15)
    waiting = office.take_ticket("3001", "ldtbxh")
    url2, _ = office.pair("2")
    url, _ = office.pair("3")
    revoked_url, revoked_id = office.pair("3")
    motcua("web", "revoke", "--token", revoked_id, "--config", str(office.config))
    return {"done": done.id, "waiting": waiting.id, "token": url.split("#")[1],
            "token2": url2.split("#")[1],
            "revoked": revoked_url.split("#")[1]}


def stored(office: WebOffice) -> tuple:
    """Everything a rating could have changed: the caller's log and tickets, the web's outbox."""
    outbox = office.state / "web-outbox.db"
    with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True) as conn:
        pending = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    return (office.caller_rows("SELECT count(*) FROM events WHERE kind = 'rating'"),
            office.caller_rows("SELECT count(*) FROM tickets WHERE rating IS NOT NULL"),
            pending, office.health().get("tickets"))


def assert_refused(office: WebOffice, answer: tuple, status: int, words: str) -> None:
    code, body, kind = answer
    assert code == status, (code, body)
    if "json" in kind:
        message = json.loads(body)["error"]
    else:
        assert "text/html" in kind
        message = body.decode()
    assert words in message, message


BAD_BODIES = [
    (b"{nope", 400, "không phải JSON"),
    (b"\xff\xfe{}", 400, "không phải JSON"),
    (b"[1, 2]", 400, "đối tượng JSON"),
    (b'{"level": 1, "admin": true}', 400, "Trường không hợp lệ"),
    (b'{"level": 0}', 400, "Mức đánh giá"),
    (b'{"level": 4}', 400, "Mức đánh giá"),
    (b'{"level": "1"}', 400, "Mức đánh giá"),
    (b'{"level": true}', 400, "Mức đánh giá"),
    (b'{"level": 1.5}', 400, "Mức đánh giá"),
    (b'{}', 400, "Mức đánh giá"),
    (b'{"level": 1, "reason": "Th\\u00e1i \\u0111\\u1ed9 ph\\u1ee5c v\\u1ee5"}', 400, "Lý do"),
    (b'{"level": 3, "reason": "<script>"}', 400, "Lý do"),
    (b'{"level": 3, "reason": 5}', 400, "Lý do"),
]


@pytest.mark.parametrize(("body", "status", "words"), BAD_BODIES)
def test_bad_bodies_on_the_phones_rating(office: WebOffice, scene: dict, body: bytes, status: int,
                                         words: str) -> None:
    before = stored(office)
    answer = office.request(f"/t/{scene['done']}/rating", body, headers=JSON)
    assert_refused(office, answer, status, words)
    # The same body from a paired tablet (with a ticket of its own counter) is refused the same way.
    try:
        tablet = json.loads(body)
    except ValueError:
        tablet = None
    raw = json.dumps({**tablet, "ticket": scene["done"]}).encode() if isinstance(tablet, dict) else body
    answer = office.request("/tablet/rating", raw,
                            headers={**JSON, "Authorization": f"Bearer {scene['token2']}"})
    assert_refused(office, answer, status, words)
    assert stored(office) == before


def test_wrong_type_huge_bodies_and_wrong_methods(office: WebOffice, scene: dict) -> None:
    before = stored(office)
    path = f"/t/{scene['done']}/rating"
    assert_refused(office, office.request(path, b'{"level": 1}', headers={"Content-Type": "text/plain"}),
                   415, "JSON")
    assert_refused(office, office.request(path, b"{" + b" " * 200_000 + b"}", headers=JSON), 413, "quá lớn")
    # Chunked, with no length announced: cut off at the limit all the same.
    conn = http.client.HTTPConnection("127.0.0.1", office.port, timeout=5)
    conn.request("POST", path, body=iter([b'{"level": 1, "x": "', b"a" * 4096] * 20 + [b'"}']),
                  headers=JSON, encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 413 and "quá lớn" in json.loads(response.read())["error"]
    conn.close()
    assert_refused(office, office.request(path), 405, "Yêu cầu không hợp lệ")
    assert_refused(office, office.request("/tablet", b"{}", headers=JSON), 405, "không hợp lệ")
    assert stored(office) == before


@pytest.mark.parametrize("path", [
    "/t/" + "0" * 32, "/t/../../etc/passwd", "/t/..%2f..%2fetc%2fpasswd", "/t/%00", "/t/" + "A" * 32,
    "/static/../setup.cfg", "/static/..%2f..%2fsetup.cfg", "/static/nothing.js", "/t", "/admin",
])
def test_unknown_pages_and_path_tricks_get_a_plain_vietnamese_404(office: WebOffice, path: str) -> None:
    status, body, kind = office.request(path)
    assert status == 404 and "text/html" in kind
    text = body.decode()
    assert "Không tìm thấy" in text and "Traceback" not in text and "[metadata]" not in text


@pytest.mark.parametrize("path", ["/t/" + "0" * 32 + "/rating", "/t/../x/rating",
                                  "/t/" + "0" * 31 + "g/rating"])
def test_a_rating_for_an_unknown_ticket_is_refused(office: WebOffice, scene: dict, path: str) -> None:
    before = stored(office)
    status, body, _ = office.request(path, b'{"level": 1}', headers=JSON)
    assert status == 404 and "Không tìm thấy" in body.decode()
    assert stored(office) == before


def test_a_ticket_still_waiting_cannot_be_rated(office: WebOffice, scene: dict) -> None:
    before = stored(office)
    assert_refused(office, office.request(f"/t/{scene['waiting']}/rating", b'{"level": 1}', headers=JSON),
                   409, "chưa được phục vụ xong")
    assert stored(office) == before


@pytest.mark.parametrize("token", [None, "", "x" * 30, "x" * 5000, "revoked"])
def test_the_tablet_without_a_valid_token_is_refused_everywhere(office: WebOffice, scene: dict,
                                                               token: str | None) -> None:
    before = stored(office)
    if token == "revoked":
        token = scene["revoked"]
    headers = {**JSON, **({"Authorization": f"Bearer {token}"} if token is not None else {})}
    body = json.dumps({"ticket": scene["done"], "level": 1}).encode()
    assert_refused(office, office.request("/tablet/rating", body, headers=headers), 401, "chưa được ghép")
    assert_refused(office, office.request("/tablet/whoami", headers=headers), 401, "chưa được ghép")
    assert_refused(office, office.request(f"/tablet/events?token={token or ''}"), 401, "chưa được ghép")
    assert stored(office) == before


def test_a_tablet_cannot_rate_another_counters_ticket(office: WebOffice, scene: dict) -> None:
    before = stored(office)
    auth = {**JSON, "Authorization": f"Bearer {scene['token']}"}
    answer = office.request("/tablet/rating", json.dumps({"ticket": scene["done"], "level": 1}).encode(),
                            headers=auth)
    assert_refused(office, answer, 403, "không được phục vụ tại quầy này")
    for ticket in (None, "../../x", "0" * 33, 7):
        body = {"level": 1, **({"ticket": ticket} if ticket is not None else {})}
        assert_refused(office, office.request("/tablet/rating", json.dumps(body).encode(), headers=auth),
                       400, "Thiếu mã số thứ tự")
    assert stored(office) == before
    # Its own token is fine: the page may open its live stream.
    status, body, _ = office.request("/tablet/whoami", headers=auth)
    assert status == 200 and json.loads(body) == {"counter": "3"}


def test_tokens_are_listed_and_revoked(office: WebOffice, scene: dict) -> None:
    listing = motcua("web", "tokens", "--config", str(office.config))
    assert "revoked" in listing and "active" in listing
    with sqlite3.connect(f"file:{office.state / 'web.db'}?mode=ro", uri=True) as conn:
        hashes = [row[0] for row in conn.execute("SELECT hash FROM tokens")]
    assert scene["token"] not in hashes and all(len(h) == 64 for h in hashes), "only hashes are kept"


def test_malformed_messages_are_dropped_and_the_pages_keep_working(office: WebOffice, scene: dict) -> None:
    before = stored(office)
    topics = office.topics
    tickets = topics.ticket_from("k1")
    junk = [(tickets, b"\xff"), (tickets, b'{"v":1,"id":"x"}'), (topics.board, b"[]"),
            (topics.counter_state("2"), b'{"v":1,"counter":"3","status":"idle"}'),
            (topics.counter_state("2"), b'{"v":1,"counter":"2","status":"idle","last":[1]}'),
            (topics.status("caller", "hub"), b"{}")]
    for topic, payload in junk:
        office.listener.publish(topic, payload)
    assert eventually(lambda: "dropped a message on" in office.log("web")
                      and office.log("web").count("dropped a message on") >= len(junk), 10)
    status, body, _ = office.request(f"/t/{scene['done']}")
    assert status == 200 and "phone.js" in body.decode() and office.health().get("caller") is True
    assert stored(office) == before
