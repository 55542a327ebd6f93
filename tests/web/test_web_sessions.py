"""In a real headless Chromium: an office page left open ends its session after the idle time
(its own live stream does not keep it), and a revoked tablet's live stream ends at once (its
page then says it is not paired)."""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from pathlib import Path

import pytest
from motcua.web import app
from motcua.web.auth import UserRole, hash_password
from motcua.web.daemon import serve
from motcua.web.store import WebStore
from rig import Mosquitto, eventually, free_port, write_site_config
from web_rig import WebOffice, browser, have_chromium, motcua

from motcua.config import load_config
from motcua.daemon import Systemd

pytestmark = pytest.mark.skipif(not have_chromium(),
                                reason="chromium and chromium-driver are missing (scripts/system-deps test)")

WAIT = 15
HEAD = ("truong-phong", "Mật-khẩu-rất-dài-1")


@pytest.fixture()
def chrome(tmp_path):
    driver = browser(tmp_path / "profile")
    driver.set_script_timeout(10)
    yield driver
    driver.quit()


def js(driver, script: str, *args):
    return driver.execute_script(script, *args)


class ServedHere:
    """The web role in this process (its own thread and event loop, a real broker), so that a
    test can shorten the session's idle time and the keep-alive interval."""

    def __init__(self, directory: Path, *, idle_s: float) -> None:
        self.broker = Mosquitto(directory / "mosquitto")
        self.broker.start()
        config = load_config(write_site_config(directory, broker_url=self.broker.url))
        store = WebStore(config.site.state_dir / "web.db")
        store.set_user(HEAD[0], UserRole.HEAD, None, hash_password(HEAD[1]))
        store.close()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stop = threading.Event()
        ready = threading.Event()

        def started(role) -> None:
            role.sessions.idle_s = idle_s
            ready.set()

        self.thread = threading.Thread(target=lambda: asyncio.run(serve(
            config, "127.0.0.1", self.port, Systemd(), self.stop, started=started)), daemon=True)
        self.thread.start()
        assert ready.wait(30)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(15)
        self.broker.stop()


def test_an_open_office_page_does_not_keep_its_session(tmp_path: Path, chrome, monkeypatch) -> None:
    from selenium.webdriver.common.by import By

    # Keep-alives every half second: the page's stream talks far more often than the idle time.
    monkeypatch.setattr(app, "PING_S", 0.5)
    web = ServedHere(tmp_path, idle_s=4)
    try:
        chrome.get(f"{web.url}/office")
        assert eventually(lambda: js(chrome, "return !!document.getElementById('login')"), WAIT)
        chrome.find_element(By.ID, "user").send_keys(HEAD[0])
        chrome.find_element(By.ID, "password").send_keys(HEAD[1])
        chrome.find_element(By.ID, "login-button").click()
        assert eventually(lambda: chrome.current_url.endswith("/office")
                          and js(chrome, "return document.getElementById('counters').innerText")
                          .find("Quầy số 1") >= 0, WAIT)
        opened = time.monotonic()
        # Nobody touches the page: its stream ends with the session; the page goes back to the login.
        assert eventually(lambda: "/login" in chrome.current_url, 30)
        assert time.monotonic() - opened >= 4 - 0.5
        assert js(chrome, "return !!document.getElementById('login')")
    finally:
        web.close()


def test_revoking_a_tablet_ends_its_live_stream(office: WebOffice, tmp_path: Path, chrome) -> None:
    url, token_id = office.pair("3")
    token = url.split("#", 1)[1]
    chrome.get(url)
    assert eventually(lambda: js(chrome, "var e = document.getElementById('rest');"
                                         "return !!e && e.offsetParent !== null"), WAIT)
    conn = http.client.HTTPConnection("127.0.0.1", office.port, timeout=WAIT)
    conn.request("GET", f"/tablet/events?token={token}")
    stream = conn.getresponse()
    assert stream.status == 200
    while not stream.readline().startswith(b"data: "):
        pass
    motcua("web", "revoke", "--token", token_id, "--config", str(office.config))
    # The stream ends (not at the next reconnection): read to its end, well before the timeout.
    while stream.readline():
        pass
    conn.close()
    assert eventually(lambda: js(chrome, "var e = document.getElementById('unpaired');"
                                         "return !!e && e.offsetParent !== null"), WAIT)
    assert "chưa được ghép" in js(chrome, "return document.getElementById('unpaired-text').innerText")
    status, _, _ = office.request(f"/tablet/events?token={token}")
    assert status == 401
