"""The office head's pages in a real headless Chromium against a real Mosquitto, the real caller
and the real web role: log in, the live view follows a Next and a kiosk's printer, the report's
CSV equals `motcua report --csv`, a clerk cannot open the head's pages, wrong passwords lock out."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from datetime import datetime

import pytest
from rig import eventually
from web_rig import WebOffice, browser, have_chromium, motcua

from motcua.protocol import Status, encode

pytestmark = pytest.mark.skipif(not have_chromium(),
                                reason="chromium and chromium-driver are missing (scripts/system-deps test)")

WAIT = 15
HEAD, CLERK = ("truong-phong", "Mật-khẩu-rất-dài-1"), ("can-bo-1", "quay-mot-2026")


def passwd(office: WebOffice, user: str, password: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "motcua.cli", "web", "passwd", user, *args,
                             "--config", str(office.config)], input=password + "\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def users(office: WebOffice) -> None:
    passwd(office, *HEAD, "--role", "head")
    passwd(office, *CLERK, "--role", "clerk", "--counter", "1")


@pytest.fixture()
def chrome(tmp_path):
    driver = browser(tmp_path / "profile")
    driver.set_script_timeout(10)
    yield driver
    driver.quit()


def js(driver, script: str, *args):
    return driver.execute_script(script, *args)


def text_of(driver, element_id: str) -> str:
    return js(driver, "var e = document.getElementById(arguments[0]); return e ? e.innerText : '';",
              element_id)


def log_in(driver, office: WebOffice, user: str, password: str, page: str = "/office") -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{office.url}{page}")
    assert eventually(lambda: "/login" in driver.current_url
                      and js(driver, "return !!document.getElementById('login')"), WAIT)
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-button").click()


def session_cookie(driver) -> str:
    cookie = driver.get_cookie("motcua_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    return f"motcua_session={cookie['value']}"


def get(office: WebOffice, path: str, cookie: str | None = None) -> tuple[int, bytes]:
    status, body, _ = office.request(path, headers={"Cookie": cookie} if cookie else {})
    return status, body


def test_head_sees_the_office_live_and_downloads_the_report(office: WebOffice, users, chrome) -> None:
    log_in(chrome, office, *HEAD)
    assert eventually(lambda: chrome.current_url.endswith("/office") and js(
        chrome, "return !!document.getElementById('no-alerts') || "
                "document.getElementById('alerts').children.length > 0"), WAIT)
    assert js(chrome, "return document.documentElement.lang") == "vi"

    # A counter starts serving: the live view shows it within a second of the Next. (Another
    # module's test may have left a ticket waiting in this shared office: the Next calls what
    # the caller says, ours or that one.)
    ticket = office.take_ticket("1500")
    # The page notes (on the same system clock) when the row first shows a newly called number,
    # so the figure is not the test's polling.
    js(chrome, "window.shownAt = null; window.shown = null;"
               " var cells = function () { var row = document.getElementById('counters-1');"
               "   return row ? [row.cells[1].innerText, row.cells[2].innerText] : ['', '']; };"
               " var before = cells()[1];"
               " new MutationObserver(function (m, observer) { var now = cells();"
               " if (now[0] === 'Đang phục vụ' && now[1] !== before) { window.shownAt = Date.now();"
               " window.shown = now[1]; observer.disconnect(); } })"
               ".observe(document.getElementById('counters'),"
               " {childList: true, subtree: true, characterData: true});")
    pressed = time.time()
    office.press("1", "next")
    assert eventually(lambda: js(chrome, "return window.shownAt") is not None, WAIT), \
        text_of(chrome, "counters")
    shown_after = js(chrome, "return window.shownAt") / 1000 - pressed
    called = office.counter_state("1")
    assert called is not None and js(chrome, "return window.shown").startswith(f"{called.number} – ")
    assert shown_after <= 1.0, f"the live view showed the call {shown_after:.2f} s after the Next"
    # Skip (not Done): the counter's last finished ticket stays what it was, so the shared
    # office's tablet tests do not find a ticket of ours waiting for a rating; and none of
    # ours is left waiting for their Next.
    office.press("1", "skip")
    for _ in range(5):
        if office.caller_rows("SELECT status FROM tickets WHERE id = ?", ticket.id) != [("waiting",)]:
            break
        serving = office.counter_state("1")
        office.press("1", "next")
        assert eventually(lambda serving=serving: office.counter_state("1") != serving
                          and office.counter_state("1").status == "serving", WAIT)
        office.press("1", "skip")
    assert eventually(lambda: "Đang chờ gọi số" in text_of(chrome, "counters-1"), WAIT)
    assert ticket.id

    # The kiosk says its printer is out of paper (as kiosk/daemon.py publishes it), then fixed.
    topic = office.topics.status("kiosk", "k1")

    def kiosk(printer: str) -> None:
        status = Status(role="kiosk", device="k1", state="online",
                        at=datetime.now().astimezone().isoformat(timespec="seconds"),
                        health={"printer": printer, "open": True, "paper": "80mm"})
        office.listener.publish(topic, encode(status), retain=True)

    kiosk("paper_out")
    assert eventually(lambda: "Ki-ốt k1: máy in hết giấy" in text_of(chrome, "alerts"), WAIT)
    assert js(chrome, "return document.querySelector('#alerts [data-key=\"printer:k1\"]')"
                      ".getAttribute('role')") == "alert"
    assert "hết giấy" in text_of(chrome, "devices-kiosk-k1")
    kiosk("ok")
    assert eventually(lambda: "hết giấy" not in text_of(chrome, "alerts"), WAIT)
    assert "Không có cảnh báo" in text_of(chrome, "alerts")
    office.listener.publish(topic, b"", retain=True)       # leave no retained status behind

    # The report of today: the page's numbers and the CSV equal `motcua report` on the same data.
    day = office.day()
    cookie = session_cookie(chrome)
    chrome.get(f"{office.url}/office/report?from={day}&to={day}")
    assert eventually(lambda: text_of(chrome, "issued") != "", WAIT)
    assert js(chrome, "return document.querySelectorAll('svg.chart').length") >= 3
    for by in ("service", "counter"):
        status, body = get(office, f"/office/report.csv?from={day}&to={day}&by={by}", cookie)
        assert status == 200
        out = office.dir / f"report-{by}.csv"
        motcua("report", "--config", str(office.config), "--from", day, "--to", day, "--by", by,
               "--csv", str(out))
        assert body == out.read_bytes()
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        table = "by-service" if by == "service" else "by-counter"
        page_rows = js(chrome, "return Array.prototype.map.call(document.querySelectorAll("
                               "'#' + arguments[0] + ' tbody tr'), function (tr) {"
                               "return [tr.cells[0].innerText, tr.cells[1].innerText,"
                               " tr.cells[2].innerText]; });",
                       table)
        # The CSV ends with the period's total row (motcua report's); the page shows the total
        # above its tables.
        assert rows[-1][0] == "Tổng cộng"
        assert page_rows == [row[:3] for row in rows[1:-1]]
    status, body = get(office, f"/office/report.csv?from={day}&to={day}", cookie)
    out = office.dir / "report-total.csv"
    motcua("report", "--config", str(office.config), "--from", day, "--to", day, "--csv", str(out))
    assert status == 200 and body == out.read_bytes()
    total = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[1]
    assert text_of(chrome, "issued") == total[1] and text_of(chrome, "served") == total[2]

    # Logging out needs the form's CSRF token; a forged POST without it changes nothing.
    status, _, _ = office.request("/logout", b"", headers={"Cookie": cookie,
                                                         "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and get(office, "/office/report.csv", cookie)[0] == 200
    from selenium.webdriver.common.by import By
    chrome.find_element(By.CSS_SELECTOR, "nav form button").click()
    assert eventually(lambda: "/login" in chrome.current_url, WAIT)
    assert get(office, "/office/report.csv", cookie)[0] == 401


def test_a_clerk_sees_the_live_view_and_only_their_counter(office: WebOffice, users, chrome) -> None:
    log_in(chrome, office, *CLERK)
    assert eventually(lambda: chrome.current_url.endswith("/office")
                      and "Quầy số 1" in text_of(chrome, "counters"), WAIT)
    assert js(chrome, "return document.querySelector('nav a[href=\"/office/report\"]')") is None
    # On a phone's width the page does not run off the screen: wide tables scroll in their box.
    chrome.set_window_size(390, 844)
    assert eventually(lambda: js(chrome, "return window.innerWidth") <= 400, WAIT)
    assert js(chrome, "return document.documentElement.scrollWidth <= window.innerWidth")
    assert js(chrome, "return document.getElementById('counters').getBoundingClientRect().height") > 0
    cookie = session_cookie(chrome)
    chrome.get(f"{office.url}/office/report")
    assert eventually(lambda: "chỉ dành cho lãnh đạo" in chrome.find_element("tag name", "body").text, WAIT)
    assert get(office, "/office/report", cookie)[0] == 403
    assert get(office, "/office/report.csv", cookie)[0] == 403
    chrome.get(f"{office.url}/office/ratings")
    assert eventually(lambda: text_of(chrome, "ratings") != "", WAIT)
    keys = js(chrome, "return Array.prototype.map.call(document.querySelectorAll('#ratings tbody tr'),"
                      " function (tr) { return tr.getAttribute('data-key'); });")
    assert set(keys) <= {"1"}
    # A login posted from elsewhere (no login form's token), or not a form at all: refused.
    form = f"user={CLERK[0]}&password={CLERK[1]}&csrf=guess".encode()
    status, body, _ = office.request("/login", form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": "motcua_login=other"})
    assert status == 403 and "motcua_session" not in body.decode()
    status, _, _ = office.request("/login", b'{"user": 1}', headers={"Content-Type": "application/json"})
    assert status == 403
    # Without a session, every office page sends to the login (or says 401 to a script).
    assert get(office, "/office/events")[0] == 401
    status, body = get(office, "/office/report")       # urllib follows the redirect
    assert status == 200 and b'id="login"' in body


def test_wrong_passwords_lock_the_account_out(office: WebOffice, users, chrome) -> None:
    user = ("tam-khoa", "dung-mat-khau-9")
    passwd(office, *user, "--role", "head")
    for attempt in range(5):
        log_in(chrome, office, user[0], f"sai-mat-khau-{attempt}")
        assert eventually(lambda: text_of(chrome, "login-error") != "", WAIT)
    assert "tạm khóa" in text_of(chrome, "login-error")
    log_in(chrome, office, *user)             # the right password, while locked: refused
    assert eventually(lambda: "tạm khóa" in text_of(chrome, "login-error"), WAIT)
    assert chrome.get_cookie("motcua_session") is None
    # A new password (motcua web passwd) lifts the lock.
    passwd(office, user[0], "mat-khau-moi-10", "--role", "head")
    log_in(chrome, office, user[0], "mat-khau-moi-10")
    assert eventually(lambda: chrome.current_url.endswith("/office"), WAIT)


def test_guesses_sent_in_parallel_still_lock_the_account(office: WebOffice, users) -> None:
    """Twelve wrong passwords at once: each check sees the failures before it, so the account
    locks and the right password is refused too (each guess used to read the same count)."""
    import threading
    from urllib.parse import urlencode

    user = ("song-song", "dung-mat-khau-12")
    passwd(office, *user, "--role", "head")
    token = "t" * 32                                    # the login form's double-submit token

    def attempt(password: str) -> int:
        body = urlencode({"csrf": token, "user": user[0], "password": password, "next": "/office"})
        status, _, _ = office.request("/login", body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"motcua_login={token}"})
        return status

    statuses: list[int] = []
    guesses = [threading.Thread(target=lambda n=n: statuses.append(attempt(f"sai-{n}")))
               for n in range(12)]
    for guess in guesses:
        guess.start()
    for guess in guesses:
        guess.join(60)
    assert sorted(set(statuses)) == [401, 429], statuses
    assert attempt(user[1]) == 429                      # locked: the right password is refused


def test_a_period_with_today_counts_arriving_tickets_as_the_command_does(tmp_path, chrome) -> None:
    """Settled days come from the role's memory, today and yesterday from the database: the page
    and its CSV still equal `motcua report` while tickets arrive and are served."""
    import sqlite3
    from datetime import date, timedelta

    office = WebOffice(tmp_path / "office")
    try:
        passwd(office, *HEAD, "--role", "head")
        today = date.fromisoformat(office.day())
        with sqlite3.connect(office.db) as conn:     # ten earlier days of the office, in the caller's table
            for n in range(40):
                day = today - timedelta(days=1 + n % 10)
                conn.execute("INSERT INTO tickets (id, day, service, number, priority, status, counter,"
                             " issued_at, called_at, done_at, rating) VALUES (?,?,?,?,0,?,?,?,?,?,?)",
                             (f"past-{n}", day.isoformat(), ("dat-dai", "tu-phap")[n % 2], str(1001 + n),
                              "done" if n % 5 else "skipped", str(1 + n % 2), f"{day}T08:00:00+07:00",
                              f"{day}T08:{n:02d}:30+07:00", f"{day}T09:{n:02d}:00+07:00" if n % 5 else None,
                              1 + n % 3 if n % 5 else None))
        log_in(chrome, office, *HEAD)
        assert eventually(lambda: chrome.current_url.endswith("/office"), WAIT)
        cookie = session_cookie(chrome)
        start, end = (today - timedelta(days=10)).isoformat(), today.isoformat()

        def page_equals_command(round_: int) -> str:
            for by in ("service", "day"):
                status, body = get(office, f"/office/report.csv?from={start}&to={end}&by={by}", cookie)
                out = office.dir / f"today-{round_}-{by}.csv"
                motcua("report", "--config", str(office.config), "--from", start, "--to", end, "--by", by,
                       "--csv", str(out))
                assert status == 200 and body == out.read_bytes(), (round_, by)
            chrome.get(f"{office.url}/office/report?from={start}&to={end}")
            assert eventually(lambda: text_of(chrome, "issued") != "", WAIT)
            total = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[-1]
            assert text_of(chrome, "issued") == total[1] and text_of(chrome, "served") == total[2]
            return total[1]

        assert page_equals_command(0) == "40"
        assert eventually(lambda: "report history" in office.log("web"), WAIT)   # settled days kept

        def in_caller(number: str) -> None:
            assert eventually(lambda: office.caller_rows("SELECT 1 FROM tickets WHERE number = ?", number),
                              WAIT)

        in_caller(office.take_ticket("1601").number)
        assert page_equals_command(1) == "41"
        in_caller(office.take_ticket("1602").number)
        office.press("1", "next")
        assert eventually(lambda: getattr(office.counter_state("1"), "number", None) == "1601", WAIT)
        office.press("1", "done")
        assert eventually(lambda: office.caller_rows("SELECT status FROM tickets WHERE number = '1601'")
                          == [("done",)], WAIT)
        assert page_equals_command(2) == "42"
    finally:
        office.close()


def test_a_chart_downloads_as_the_png_the_browser_draws(office: WebOffice, users, chrome, tmp_path) -> None:
    """The report's "PNG" button: the chart as a picture file, twice its drawn size; each bar of
    the SVG is in the picture at its place, in its colour (read back with Pillow)."""
    import sqlite3
    from datetime import date, timedelta

    from PIL import Image
    from selenium.webdriver.common.by import By

    # A day of its own, older than the history the role keeps (read from the database), so the
    # shared office's other tests find no ticket of ours waiting.
    day = (date.fromisoformat(office.day()) - timedelta(days=800)).isoformat()
    with sqlite3.connect(office.db) as conn:
        for n, service in enumerate(("dat-dai", "dat-dai", "tu-phap")):
            conn.execute("INSERT INTO tickets (id, day, service, number, priority, status, counter,"
                         " issued_at, called_at, done_at) VALUES (?,?,?,?,0,'done','1',?,?,?)",
                         (f"png-{n}", day, service, str(1001 + n), f"{day}T08:00:00+07:00",
                          f"{day}T08:1{n}:00+07:00", f"{day}T08:30:00+07:00"))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chrome.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    log_in(chrome, office, *HEAD)
    assert eventually(lambda: chrome.current_url.endswith("/office"), WAIT)
    chrome.get(f"{office.url}/office/report?from={day}&to={day}")
    assert eventually(lambda: js(chrome, "return !!document.getElementById('chart-service-png')"), WAIT)
    assert text_of(chrome, "issued") == "3"
    bars = js(chrome, "return Array.prototype.map.call(document.querySelectorAll('#chart-service rect'),"
                      " function (r) { return [+r.getAttribute('x'), +r.getAttribute('y'),"
                      " +r.getAttribute('width'), +r.getAttribute('height'), r.getAttribute('fill')]; });")
    box = js(chrome, "var b = document.getElementById('chart-service').viewBox.baseVal;"
                     " return [b.width, b.height];")
    chrome.find_element(By.ID, "chart-service-png").click()
    name = f"bieu-do-service-{day}-{day}.png"
    assert eventually(lambda: (downloads / name).exists() and (downloads / name).stat().st_size > 0, WAIT), \
        sorted(p.name for p in downloads.iterdir())
    picture = Image.open(downloads / name).convert("RGB")
    assert picture.size == (int(box[0]) * 2, int(box[1]) * 2)
    assert picture.getpixel((2, 2)) == (255, 255, 255)                      # a white background
    drawn = [b for b in bars if b[3] >= 4 and b[2] >= 4]                      # bars (and the legend's keys)
    assert any(b[4] == "#0b3d91" for b in drawn), bars
    for x, y, width, height, fill in drawn:
        colour = tuple(int(fill[i:i + 2], 16) for i in (1, 3, 5))
        assert picture.getpixel((int((x + width / 2) * 2), int((y + height / 2) * 2))) == colour, (x, y, fill)
    # The title's text is drawn (dark pixels in the top band).
    assert any(sum(picture.getpixel((x, y))) < 200 for x in range(0, picture.width, 2) for y in range(10, 40))
