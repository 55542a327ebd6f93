"""The web role's test office: a real Mosquitto, the real caller and the real web role as
processes, a kiosk and counter buttons as MQTT messages, and a headless Chromium from Debian."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from rig import EXAMPLE, Listener, Mosquitto, eventually, free_port, start_daemon, write_site_config

from motcua.errors import ProtocolError
from motcua.protocol import Board, CounterCommand, CounterState, Ticket, Topics, encode, new_id

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=800,1100")
SITE = "liem-chung"


def have_chromium() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def browser(profile: Path):
    """Selenium driving Debian's chromium through its chromedriver: nothing is downloaded."""
    os.environ["SE_OFFLINE"] = "true"          # Selenium Manager must never reach the Internet
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


class WebOffice:
    """Broker, caller and web role of one test module."""

    def __init__(self, directory: Path, *, extra: str = "") -> None:
        self.dir = directory
        self.logs = directory / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.broker = Mosquitto(directory / "mosquitto")
        self.broker.start()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = write_site_config(directory, broker_url=self.broker.url,
                                        extra=f'[web]\nurl = "{self.url}"\n{extra}')
        self.state = directory / "state"
        self.db = self.state / "caller.db"
        self.topics = Topics(SITE)
        self.listener = Listener(self.broker.url, self.topics.board, self.topics.counter_state("+"))
        self.caller = start_daemon("caller", ["caller", "--config", str(self.config), "--audio", "none"],
                                   self.logs)
        self.web: subprocess.Popen | None = None
        self.start_web()

    def start_web(self) -> None:
        self.web = start_daemon("web", ["web", "--config", str(self.config), "--listen",
                                        f"127.0.0.1:{self.port}"], self.logs)
        assert eventually(lambda: self.health().get("caller") is True, 30), self.log("web")

    def stop_web(self, *, kill: bool = False) -> None:
        assert self.web is not None
        self.web.kill() if kill else self.web.terminate()
        self.web.wait(10)

    def close(self) -> None:
        for process in (self.web, self.caller):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.listener.close()
        self.broker.stop()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    # -- HTTP ------------------------------------------------------------------------
    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return json.loads(response.read())
        except (OSError, ValueError):
            return {}

    def request(self, path: str, body: bytes | None = None, *, method: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
        """(status, body, content type) of one request; 4xx and 5xx are answers too."""
        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read(), response.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("content-type", "")

    def post_json(self, path: str, body: object, token: str | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        status, raw, _ = self.request(path, json.dumps(body).encode(), headers=headers)
        return status, json.loads(raw)

    # -- the office's other devices, as messages ---------------------------------------
    def day(self) -> str:
        assert self.listener.wait_for(lambda li: li.payloads(self.topics.board), 15)
        return latest(self.listener.payloads(self.topics.board), Board).day

    def take_ticket(self, number: str, service: str = "dat-dai", name: str | None = None) -> Ticket:
        """A printed ticket as the kiosk sends it (``name``: a scanned CCCD's)."""
        ticket = Ticket(id=new_id(), service=service, number=number, seq=int(number), day=self.day(),
                        issued_at=datetime.now().astimezone().isoformat(timespec="seconds"), kiosk="k1",
                        name=name)
        self.listener.publish(self.topics.ticket_from(ticket.kiosk), encode(ticket))
        assert eventually(lambda: ticket.id in self.web_ticket_ids(), 10)
        return ticket

    def web_ticket_ids(self) -> set[str]:
        status, _, _ = self.request("/health")
        db = self.state / "web.db"
        if status != 200 or not db.exists():
            return set()
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return {row[0] for row in conn.execute("SELECT id FROM tickets")}

    def press(self, counter: str, action: str) -> None:
        self.listener.publish(self.topics.counter_cmd(counter),
                              encode(CounterCommand(id=new_id(), action=action)))

    def counter_state(self, counter: str) -> CounterState | None:
        return latest(self.listener.payloads(self.topics.counter_state(counter)), CounterState)

    def pair(self, counter: str) -> tuple[str, str]:
        """``motcua web pair``: (the URL its last line prints, the token's id)."""
        out = motcua("web", "pair", "--counter", counter, "--config", str(self.config))
        url = out.strip().splitlines()[-1]
        token_id = out.split("(mã ")[1].split(")")[0]
        return url, token_id

    # -- the caller's database -----------------------------------------------------------
    def caller_rows(self, sql: str, *args: object) -> list[tuple]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return conn.execute(sql, args).fetchall()


def latest(payloads: list[bytes], kind):
    """The newest message that decodes (tests also send junk on these topics)."""
    for payload in reversed(payloads):
        try:
            return kind.decode(payload)
        except ProtocolError:
            continue
    return None


def motcua(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "motcua.cli", *args], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


__all__ = ["EXAMPLE", "WebOffice", "browser", "have_chromium", "motcua"]
