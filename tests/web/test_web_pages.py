"""Both pages in a real headless Chromium against a real Mosquitto, the real caller and the real
web role: the tablet rates what its counter finished, the phone follows its ticket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rig import eventually
from web_rig import WebOffice, browser, have_chromium, motcua

pytestmark = pytest.mark.skipif(not have_chromium(),
                                reason="chromium and chromium-driver are missing (scripts/system-deps test)")

WAIT = 15


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    driver = browser(tmp_path_factory.mktemp("chromium-profile"))
    driver.set_script_timeout(10)
    yield driver
    driver.quit()


def shown(driver, element_id: str) -> bool:
    """The element is there and visible (as the browser lays it out)."""
    return driver.execute_script(
        "var e = document.getElementById(arguments[0]);"
        "return !!e && e.offsetParent !== null && e.getClientRects().length > 0;", element_id)


def text(driver, element_id: str) -> str:
    return driver.execute_script("var e = document.getElementById(arguments[0]); "
                                 "return e ? e.innerText : '';", element_id)


def buttons(driver, group: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, group).find_elements(By.TAG_NAME, "button")


def browser_post(driver, path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    """A POST made by the page itself (a reload or a replayed tap)."""
    status, raw = driver.execute_async_script("""
        var done = arguments[arguments.length - 1], x = new XMLHttpRequest();
        x.open('POST', arguments[0]); x.setRequestHeader('Content-Type', 'application/json');
        if (arguments[2]) { x.setRequestHeader('Authorization', 'Bearer ' + arguments[2]); }
        x.onload = function () { done([x.status, x.responseText]); };
        x.send(JSON.stringify(arguments[1]));""", path, body, token)
    return status, json.loads(raw)


def test_tablet_rates_the_ticket_its_counter_finished_once(office: WebOffice, chrome, tmp_path: Path) -> None:
    url, _ = office.pair("1")
    assert url.startswith(f"{office.url}/tablet#")
    chrome.get(url)
    tablet = chrome.current_window_handle
    # At rest: the counter's name and the code of conduct; the token left the address bar.
    assert eventually(lambda: shown(chrome, "rest") and text(chrome, "counter-name") == "Quầy số 1", WAIT)
    assert "5 biết" in text(chrome, "conduct")
    assert "#" not in chrome.current_url
    token = chrome.execute_script("return localStorage.getItem('motcua-tablet-token');")
    assert token and token == url.split("#", 1)[1]

    ticket = office.take_ticket("1001", name="Nguyễn Văn An")
    chrome.switch_to.new_window("tab")
    phone = chrome.current_window_handle
    chrome.get(f"{office.url}/t/{ticket.id}")
    assert eventually(lambda: shown(chrome, "waiting") and text(chrome, "number") == "1001", WAIT)
    assert text(chrome, "service") == "Đất đai" and text(chrome, "ahead") == "0"
    assert chrome.execute_script("return document.documentElement.lang;") == "vi"

    office.press("1", "next")
    assert eventually(lambda: shown(chrome, "called"), WAIT)
    assert text(chrome, "call") == "Mời công dân đến Quầy số 1"
    office.press("1", "done")
    assert eventually(lambda: shown(chrome, "done") and shown(chrome, "rate"), WAIT)

    chrome.switch_to.window(tablet)
    assert eventually(lambda: shown(chrome, "prompt") and text(chrome, "prompt-number") == "1001", WAIT)
    assert text(chrome, "prompt-name") == "Nguyễn V. A.", "the masked name, never the full one"
    assert "Văn An" not in chrome.page_source
    levels = buttons(chrome, "tablet-levels")
    assert [b.text for b in levels] == ["Rất hài lòng", "Hài lòng", "Không hài lòng"]
    levels[-1].click()
    assert eventually(lambda: shown(chrome, "tablet-reasons"), WAIT)
    reasons = buttons(chrome, "tablet-reasons")
    assert [b.text for b in reasons][:2] == ["Thái độ phục vụ", "Thời gian chờ lâu"]
    reasons[0].click()
    assert eventually(lambda: shown(chrome, "thanks"), WAIT)

    # The caller took it: in its event log with the ticket and the reason, and on the ticket.
    assert eventually(lambda: office.caller_rows(
        "SELECT rating FROM tickets WHERE id = ?", ticket.id) == [(3,)], WAIT)
    (body,) = office.caller_rows("SELECT body FROM events WHERE kind = 'rating'")[0]
    assert json.loads(body) | {"id": ""} == {"v": 1, "id": "", "score": 3, "ticket": ticket.id,
                                              "reason": "Thái độ phục vụ"}
    assert "rating 3 (Thái độ phục vụ) of ticket 1001 at counter 1" in office.log("caller")
    day = office.day()
    report = motcua("report", "--config", str(office.config), "--db", str(office.db), "--from", day)
    assert "Đánh giá (1 lượt): Không hài lòng: 1" in report
    assert "Lý do chưa hài lòng: Thái độ phục vụ: 1" in report

    # A second tap, a replayed POST: refused with a clear message, nothing changes.
    status, answer = browser_post(chrome, "/tablet/rating",
                                  {"ticket": ticket.id, "level": 1}, token)
    assert status == 409 and "đã được đánh giá" in answer["error"]
    # The phone follows: rated, no buttons; its own try is refused too.
    chrome.switch_to.window(phone)
    assert eventually(lambda: shown(chrome, "rated") and not shown(chrome, "rate"), WAIT)
    status, answer = browser_post(chrome, f"/t/{ticket.id}/rating", {"level": 1})
    assert status == 409 and "đã được đánh giá" in answer["error"]
    assert office.caller_rows("SELECT count(*) FROM events WHERE kind = 'rating'") == [(1,)]
    assert office.caller_rows("SELECT rating FROM tickets WHERE id = ?", ticket.id) == [(3,)]
    chrome.close()
    chrome.switch_to.window(tablet)
    assert eventually(lambda: shown(chrome, "rest"), WAIT), "back to rest after the thanks"


def test_phone_follows_its_ticket_from_waiting_to_called_to_rated(office: WebOffice, chrome) -> None:
    first = office.take_ticket("1002")
    mine = office.take_ticket("1003", name="Trần Thị Bình")
    chrome.get(f"{office.url}/t/{mine.id}")
    assert eventually(lambda: shown(chrome, "waiting") and text(chrome, "ahead") == "1", WAIT)
    office.press("4", "next")                 # counter 4 serves Đất đai too
    assert eventually(lambda: text(chrome, "ahead") == "0", WAIT), "one fewer ahead, live"
    assert eventually(lambda: (s := office.counter_state("4")) is not None and s.ticket == first.id, WAIT)
    office.press("1", "next")
    assert eventually(lambda: shown(chrome, "called"), WAIT)
    assert text(chrome, "call") == "Mời công dân đến Quầy số 1"
    office.press("1", "done")
    assert eventually(lambda: shown(chrome, "rate"), WAIT)
    buttons(chrome, "phone-levels")[0].click()          # "Rất hài lòng": no reason asked
    assert eventually(lambda: shown(chrome, "rated"), WAIT)
    assert not shown(chrome, "phone-reasons")
    assert eventually(lambda: office.caller_rows(
        "SELECT rating, counter FROM tickets WHERE id = ?", mine.id) == [(1, "1")], WAIT)
    # Counter 1's state says its last ticket is rated: its tablet has nothing to ask.
    assert eventually(lambda: (s := office.counter_state("1")) is not None and s.last.ticket == mine.id
                      and s.last.rated, WAIT)
    # No name, no personal data on the page: only what the ticket id unlocks.
    assert "Trần" not in chrome.page_source and "Bình" not in chrome.page_source
    # Every control is a button a screen reader can name.
    names = chrome.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('button'), function (b) {"
        " return b.textContent.trim(); });")
    assert names and all(names), names


def test_an_unknown_ticket_gets_a_plain_vietnamese_page(office: WebOffice, chrome) -> None:
    chrome.get(f"{office.url}/t/{'0' * 32}")
    assert "Không tìm thấy số thứ tự" in chrome.find_element("tag name", "body").text
    chrome.get(f"{office.url}/t/..%2f..%2fetc%2fpasswd")
    assert "root:" not in chrome.page_source and "Không tìm thấy" in chrome.page_source


def test_a_tablet_without_a_valid_token_cannot_rate_and_says_so(office: WebOffice, chrome) -> None:
    chrome.get(f"{office.url}/tablet#not-a-token")
    assert eventually(lambda: shown(chrome, "unpaired"), WAIT)
    assert "chưa được ghép" in text(chrome, "unpaired-text")
    assert not shown(chrome, "prompt")


def test_the_page_says_when_the_broker_or_the_hub_is_away_and_recovers(office: WebOffice, chrome) -> None:
    # Last in this module: it restarts the shared office's broker and web role.
    ticket = office.take_ticket("1009")
    chrome.get(f"{office.url}/t/{ticket.id}")
    assert eventually(lambda: shown(chrome, "waiting") and not shown(chrome, "offline"), WAIT)
    office.broker.stop()
    assert eventually(lambda: shown(chrome, "offline"), WAIT)
    assert "mất kết nối" in text(chrome, "offline")
    office.broker.start()
    assert eventually(lambda: not shown(chrome, "offline"), 40), "back by itself"
    office.stop_web()
    assert eventually(lambda: shown(chrome, "offline"), WAIT)
    office.start_web()
    assert eventually(lambda: not shown(chrome, "offline") and shown(chrome, "waiting"), 30)
    assert text(chrome, "number") == "1009"
