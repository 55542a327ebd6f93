"""The centre's dashboard (`motcua web --central`) as a process over a real PostgreSQL, in a real
headless Chromium: log in (lockout too), every commune side by side, sorted by a column in the
page, on a phone's width; a commune's page and CSV are its own hub's report page and CSV."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hub_office import SimulatedCaller, carry_to_centre
from motcua.caller.figures import satisfied_levels
from motcua.caller.history import read_reasons_by, read_report
from motcua.central.store import CentralStore
from motcua.web.dashboard import command_csv, group_names, page_groupings, report_body
from rig import eventually, free_port, start_daemon, write_site_config

from motcua.config import load_config
from motcua.protocol import Status

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))      # the web tests' Chromium
from web_rig import browser, have_chromium

pytestmark = pytest.mark.skipif(not have_chromium(),
                                reason="chromium and chromium-driver are missing (scripts/system-deps test)")

WAIT = 20
HEAD = ("lanh-dao-tinh", "Mật-khẩu-tỉnh-2026")
FIRST = date(2026, 11, 2)
DAYS = [FIRST + timedelta(days=i) for i in range(5)]
COMMUNES = {"xa-a": ("UBND xã Ân Thi", 40), "xa-b": ("UBND phường Đông Hải", 90),
            "xa-c": ("UBND xã Yên Mỹ", 0), "xa-d": ("UBND phường Hòa Bình", 0)}      # no history yet


class CentreWeb:
    def __init__(self, directory: Path, dsn: str) -> None:
        self.dir, self.dsn = directory, dsn
        self.sites = directory / "communes"
        self.sites.mkdir()
        self.logs = directory / "logs"
        self.logs.mkdir()
        self.users = directory / "central-web.db"
        self.hubs: dict[str, Path] = {}
        for i, (site, (name, per_day)) in enumerate(COMMUNES.items()):
            hub_dir = directory / site
            hub_dir.mkdir()
            path = write_site_config(hub_dir)
            text = re.sub(r'(?m)^id = "liem-chung".*$', f'id = "{site}"', path.read_text(encoding="utf-8"))
            text = re.sub(r'(?m)^name = "UBND xã Liêm Chung".*$', f'name = "{name}"', text)
            (self.sites / f"{site}.toml").write_text(text, encoding="utf-8")
            if per_day:
                config = load_config(self.sites / f"{site}.toml")
                hub = SimulatedCaller(hub_dir / "caller.db", config)
                hub.traffic(DAYS, per_day, random.Random(i))
                hub.close()
                carry_to_centre(hub_dir / "caller.db", site, dsn)
                self.hubs[site] = hub_dir / "caller.db"
        now = datetime.now(UTC).isoformat()
        store = CentralStore(dsn)
        store.write([], {}, [("xa-a", Status("kiosk", "k1", "online", now, {"printer": "paper_out"})),
                             ("xa-b", Status("counter", "2", "offline", now)),
                             ("xa-b", Status("kiosk", "k1", "online", now, {"printer": "ok"}))])
        store.close()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = start_daemon("web-central", [
            "web", "--central", "--db", dsn, "--sites", str(self.sites), "--users", str(self.users),
            "--listen", f"127.0.0.1:{self.port}"], self.logs)
        assert eventually(lambda: self.get("/health")[0] == 200, 30), self.log()

    def passwd(self, user: str, password: str) -> None:
        result = subprocess.run([sys.executable, "-m", "motcua.cli", "web", "passwd", user, "--central",
                                 "--users", str(self.users)], input=password + "\n", capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr

    def get(self, path: str, cookie: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, headers={"Cookie": cookie} if cookie else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def log(self) -> str:
        return (self.logs / "web-central.log").read_text(errors="replace")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def centre(postgres, tmp_path_factory):
    dsn = postgres.create_database()
    CentralStore(dsn).migrate()
    web = CentreWeb(tmp_path_factory.mktemp("centre-web"), dsn)
    web.passwd(*HEAD)
    yield web
    web.close()


@pytest.fixture()
def chrome(tmp_path):
    driver = browser(tmp_path / "profile")
    yield driver
    driver.quit()


def js(driver, script: str, *args):
    return driver.execute_script(script, *args)


def log_in(driver, centre: CentreWeb, user: str, password: str, page: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(centre.url + page)
    assert eventually(lambda: "/login" in driver.current_url
                      and js(driver, "return !!document.getElementById('login')"), WAIT)
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-button").click()


def column(driver, index: int) -> list[str]:
    return js(driver, "var rows = document.getElementById('province').tBodies[0].rows, out = [];"
                      "for (var i = 0; i < rows.length; i++) {"
                      " out.push(rows[i].cells[arguments[0]].innerText); }"
                      "return out;", index)


ROWS = "return Array.prototype.slice.call(document.getElementById('province').tBodies[0].rows)"


def hub_page_body(centre: CentreWeb, site: str, start: date, end: date) -> str:
    """What the hub's own /office/report page shows for the range (web/dashboard.py on caller.db)."""
    config = load_config(centre.sites / f"{site}.toml")
    levels = tuple(config.counter_pad.rating.levels)
    report = read_report(centre.hubs[site], start, end, by=page_groupings(start, end), hours=True,
                         target_wait_s=900.0, satisfied_levels=satisfied_levels(levels))
    return report_body(report, read_reasons_by(centre.hubs[site], start, end), start, end, 900.0,
                       services={s.id: s.name for s in config.services},
                       counters={c.id: c.name for c in config.counters}, levels=levels,
                       good_levels=satisfied_levels(levels))


def test_province_side_by_side_sorted_and_each_commune_is_its_hubs_report(centre: CentreWeb, chrome):
    start, end = DAYS[0], DAYS[-1]
    page = f"/centre?from={start}&to={end}"
    log_in(chrome, centre, *HEAD, page=page)
    assert eventually(lambda: js(chrome, "return !!document.getElementById('province')"), WAIT), centre.log()
    assert js(chrome, "return document.documentElement.lang") == "vi"
    text = js(chrome, "return document.body.innerText")
    for words in ("Các xã, phường", "Số phiếu", "Vắng mặt", "Chờ trung vị (phút)", "Tỷ lệ hài lòng (QĐ 766)",
                  "Máy in hết giấy", "Lần cuối nhận tin", "UBND phường Đông Hải", "chưa bao giờ"):
        assert words in text, words

    # Each commune's line: the hub's own totals for the range.
    rows = {js(chrome, "return arguments[0].getAttribute('data-site')", r): r for r in
            js(chrome, ROWS)}
    assert set(rows) == set(COMMUNES)
    for site, db in centre.hubs.items():
        config = load_config(centre.sites / f"{site}.toml")
        total = read_report(db, start, end, target_wait_s=900.0,
                            satisfied_levels=satisfied_levels(config.counter_pad.rating.levels)).total
        cells = js(chrome, "return Array.prototype.map.call(arguments[0].cells, function (c) "
                           "{ return c.innerText; })", rows[site])
        assert cells[1:4] == [str(total.issued), str(total.served), str(total.no_shows)]
        assert cells[4] == f"{total.wait.median / 60:.1f}".replace(".", ",")
        assert cells[5] == f"{total.wait.p90 / 60:.1f}".replace(".", ",")
        assert cells[6] == f"{total.satisfied * 100:.1f}".replace(".", ",") + "%"
        assert cells[7] == str(total.rated)
    paper = column(chrome, 9)
    offline = column(chrome, 8)
    sites = [js(chrome, "return arguments[0].getAttribute('data-site')", r) for r in
             js(chrome, ROWS)]
    assert dict(zip(sites, paper, strict=True)) == {"xa-a": "1", "xa-b": "0", "xa-c": "0", "xa-d": "0"}
    assert dict(zip(sites, offline, strict=True)) == {"xa-a": "0", "xa-b": "1", "xa-c": "0", "xa-d": "0"}

    # Sort by the tickets column in the page: ascending, then descending on a second tap.
    from selenium.webdriver.common.by import By

    button = chrome.find_element(By.CSS_SELECTOR, '#province button.sort[data-col="1"]')
    button.click()
    assert [int(v) for v in column(chrome, 1)] == sorted(int(v) for v in column(chrome, 1))
    assert js(chrome, "return document.querySelectorAll('#province th')[1]"
                      ".getAttribute('aria-sort')") == "ascending"
    button.click()
    assert [int(v) for v in column(chrome, 1)] == sorted((int(v) for v in column(chrome, 1)), reverse=True)
    chrome.find_element(By.CSS_SELECTOR, '#province button.sort[data-col="0"]').click()
    names = column(chrome, 0)
    assert names == ["UBND phường Đông Hải", "UBND phường Hòa Bình", "UBND xã Ân Thi", "UBND xã Yên Mỹ"]

    # On a phone's width the page does not scroll sideways: the table scrolls in its box.
    chrome.set_window_size(390, 844)
    assert eventually(lambda: js(chrome, "return document.documentElement.scrollWidth") <=
                      js(chrome, "return window.innerWidth") + 1, WAIT)

    # A commune's page: its hub's report page, figure for figure.
    chrome.find_element(By.LINK_TEXT, "UBND phường Đông Hải").click()
    assert eventually(lambda: js(chrome, "return !!document.getElementById('issued')"), WAIT)
    cookie = chrome.get_cookie("motcua_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    session = f"motcua_session={cookie['value']}"
    for first, last in [(start, end), (DAYS[1], DAYS[1])]:
        status, body = centre.get(f"/centre/xa/xa-b?from={first}&to={last}", session)
        assert status == 200
        expected = hub_page_body(centre, "xa-b", first, last).replace(
            'href="/office/report.csv?', 'href="/centre/xa/xa-b/report.csv?')
        assert expected in body.decode(), f"the commune's page differs from its hub's for {first}..{last}"

    # Its CSV is the file `motcua report --csv` writes on the hub (web/dashboard.py command_csv).
    config = load_config(centre.sites / "xa-b.toml")
    levels = tuple(config.counter_pad.rating.levels)
    services = {s.id: s.name for s in config.services}
    counters = {c.id: c.name for c in config.counters}
    for by in (None, "service", "counter", "day"):
        query = f"from={start}&to={end}" + (f"&by={by}" if by else "")
        status, data = centre.get(f"/centre/xa/xa-b/report.csv?{query}", session)
        report = read_report(centre.hubs["xa-b"], start, end, by=(by,) if by else (), target_wait_s=900.0,
                             satisfied_levels=satisfied_levels(levels))
        names = group_names(by, services, counters)
        assert status == 200 and data == command_csv(report, by, names, levels), by


def test_login_is_required_and_wrong_passwords_lock_out(centre: CentreWeb):
    assert centre.get("/centre")[0] == 200              # followed to the login page
    status, _ = centre.get("/centre/xa/xa-b/report.csv")
    assert status == 401
    request = urllib.request.Request(centre.url + "/centre")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert "/login?next=/centre" in response.url
    centre.passwd("nguoi-thu", "mat-khau-dung-1")

    def attempt(password: str) -> int:
        with urllib.request.urlopen(centre.url + "/login", timeout=30) as response:
            token = response.headers.get_all("Set-Cookie")[0].split(";")[0]
        form = urllib.parse.urlencode({"csrf": token.split("=", 1)[1], "user": "nguoi-thu",
                                       "password": password, "next": "/centre"}).encode()
        request = urllib.request.Request(centre.url + "/login", data=form, headers={
            "Cookie": token, "Content-Type": "application/x-www-form-urlencoded"})
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert [attempt("sai-mat-khau") for _ in range(5)] == [401, 401, 401, 401, 429]
    assert attempt("mat-khau-dung-1") == 429            # locked: even the right password waits


def test_guesses_sent_in_parallel_still_lock_the_centres_account(centre: CentreWeb):
    """Twelve wrong passwords at once at the centre, as at the hub (tests/web/test_web_office.py):
    each check sees the failures before it, so the account locks and the right password waits."""
    from concurrent.futures import ThreadPoolExecutor

    user = ("song-song-tt", "dung-mat-khau-12")
    centre.passwd(*user)
    token = "t" * 32                                    # the login form's double-submit token

    def attempt(password: str) -> int:
        form = urllib.parse.urlencode({"csrf": token, "user": user[0], "password": password,
                                       "next": "/centre"}).encode()
        request = urllib.request.Request(centre.url + "/login", data=form, headers={
            "Cookie": f"motcua_login={token}", "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.build_opener(NoRedirect).open(request, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    with ThreadPoolExecutor(12) as pool:                # all twelve in flight together
        statuses = list(pool.map(attempt, [f"sai-{n}" for n in range(12)]))
    assert sorted(set(statuses)) == [401, 429], statuses
    assert attempt(user[1]) == 429                      # locked: the right password is refused


def test_the_centres_login_leads_only_to_its_own_pages():
    from motcua.web.login import safe_next

    assert safe_next("/centre/xa/xa-a?from=2026-01-01", "/centre") == "/centre/xa/xa-a?from=2026-01-01"
    for bad in ("https://evil.example/", "//evil.example/centre", "/centre//evil", "/office", None, ""):
        assert safe_next(bad, "/centre") == "/centre"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_history_arriving_later_shows_on_the_next_look(centre: CentreWeb, chrome, tmp_path):
    """xa-d had no history; its hub's rows arrive while the dashboard runs: the next look at the
    page counts them (replayed before the page reads), equal to that hub's own report."""
    config = load_config(centre.sites / "xa-d.toml")
    hub = SimulatedCaller(tmp_path / "caller.db", config)
    hub.traffic(DAYS[:2], 30, random.Random(5))
    hub.close()
    carry_to_centre(tmp_path / "caller.db", "xa-d", centre.dsn)
    log_in(chrome, centre, *HEAD, page=f"/centre?from={DAYS[0]}&to={DAYS[-1]}")
    assert eventually(lambda: js(chrome, "return !!document.getElementById('province')"), WAIT), centre.log()
    total = read_report(tmp_path / "caller.db", DAYS[0], DAYS[-1], target_wait_s=900.0,
                        satisfied_levels=satisfied_levels(config.counter_pad.rating.levels)).total
    row = js(chrome, "return document.querySelector('#province tr[data-site=\"xa-d\"]').innerText")
    cells = row.split("\t")
    assert cells[1:4] == [str(total.issued), str(total.served), str(total.no_shows)], row
    assert total.issued > 0
