"""The office head's range report in the browser on a year of a busy district centre
(500,000 tickets, bench/report_year.py's history plus rating events with reasons): how long
the hub takes to answer GET /office/report for the whole year, and the CSV. Target: <= 2 s.

The real `motcua web` runs as a process on the year's caller.db, with a real Mosquitto holding
the caller's retained board (its service day follows the year); the bench logs in as an
office head and times the HTTP requests end to end.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from motcua.caller.history import read_report
from report_year import TICKETS, build

from motcua.protocol import Board, Topics, encode

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "liem-chung.toml"
REASONS = ("Thái độ phục vụ", "Thời gian chờ lâu", "Hướng dẫn chưa rõ", "Lý do khác")
RUNS = 3


def add_reasons(db: Path) -> int:
    """A rating event for every rated ticket of the lowest level, a reason on each (as the web
    role sends them and the caller logs them)."""
    rng = random.Random(11)
    connection = sqlite3.connect(db)
    rows = connection.execute("SELECT id, done_at, counter FROM tickets WHERE rating = 3").fetchall()
    events = []
    for seq, (ticket, done_at, counter) in enumerate(rows, 1):
        events.append((seq, "rating", f"r{seq}", done_at, counter,
                       json.dumps({"id": f"r{seq}", "score": 3, "ticket": ticket,
                                   "reason": rng.choice(REASONS)}, ensure_ascii=False)))
    connection.executemany("INSERT INTO events (seq, kind, msg_id, at, counter, body) VALUES (?,?,?,?,?,?)",
                           events)
    connection.execute("UPDATE tickets SET rated_at = done_at WHERE rating = 3")
    connection.commit()
    connection.close()
    return len(events)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state"
        state.mkdir()
        db = state / "caller.db"
        started = time.perf_counter()
        start, end = build(db)
        events = add_reasons(db)
        print(f"built {TICKETS:,} tickets and {events:,} rating events with reasons "
              f"in {time.perf_counter() - started:.1f} s")
        broker_port = free_port()
        conf = Path(folder) / "mosquitto.conf"
        conf.write_text(f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n"
                        + ("user root\n" if os.geteuid() == 0 else ""))
        broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        # The caller's board says the service day after the year: the year is closed.
        board = Board(seq=1, updated_at=datetime.now().astimezone().isoformat(timespec="seconds"),
                      day=(end + timedelta(days=1)).isoformat())
        import paho.mqtt.publish
        paho.mqtt.publish.single(Topics("liem-chung").board, encode(board), qos=1, retain=True,
                                 hostname="127.0.0.1", port=broker_port)
        config = Path(folder) / "site.toml"
        config.write_text(EXAMPLE.read_text(encoding="utf-8")
                          .replace('state_dir = "/var/lib/motcua"', f'state_dir = "{state}"')
                          .replace("mqtt://motcua-hub.local:1883", f"mqtt://127.0.0.1:{broker_port}"),
                          encoding="utf-8")
        cli = [sys.executable, "-m", "motcua.cli", "web"]
        subprocess.run([*cli, "passwd", "bench", "--config", str(config)], input="mat-khau-bench\n",
                       text=True, check=True, capture_output=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = Path(folder) / "web.log"
        log_file = log_path.open("w")
        web = subprocess.Popen([*cli, "--config", str(config), "--listen", f"127.0.0.1:{port}"],
                               stdout=log_file, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
        launched = time.perf_counter()
        try:
            cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
            opener = urllib.request.build_opener(cookies)
            deadline = time.monotonic() + 30
            while True:
                try:
                    login = opener.open(f"{url}/login", timeout=2).read().decode()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
            form = urllib.parse.urlencode({"csrf": csrf, "user": "bench", "password": "mat-khau-bench",
                                           "next": "/office"}).encode()
            opener.open(urllib.request.Request(f"{url}/login", data=form, headers={
                "Content-Type": "application/x-www-form-urlencoded"}), timeout=10).read()
            # Right after a start: the head opens the live view (the closed days start being
            # read), then the year's report, which waits for them.
            opener.open(f"{url}/office", timeout=10).read()
            began = time.perf_counter()
            with opener.open(f"{url}/office/report?from={start}&to={end}", timeout=60) as response:
                assert response.status == 200 and f">{TICKETS}<" in response.read().decode()
            print("report page, the whole year, right after the start: "
                  f"{time.perf_counter() - began:.2f} s")
            deadline = time.monotonic() + 120
            while "report history" not in log_path.read_text():
                assert time.monotonic() < deadline, log_path.read_text()[-2000:]
                time.sleep(0.2)
            kept = re.search(r"report history .*", log_path.read_text()).group(0)
            print(f"{kept} (after the start: {time.perf_counter() - launched:.1f} s); web process VmRSS "
                  f"{rss_mb(web.pid):.0f} MB")
            # A day before the year: another period than the first look's, the same tickets.
            for name, path in (("report page, the whole year",
                                f"/office/report?from={start - timedelta(days=1)}&to={end}"),
                               ("CSV by service, the whole year",
                                f"/office/report.csv?from={start - timedelta(days=2)}&to={end}&by=service"),
                               ("ratings and reasons page, the whole year",
                                f"/office/ratings?from={start}&to={end}")):
                timings, size = [], 0
                if "report?" in path:        # other closed periods: nothing kept from the first look
                    for days in (30, 90):
                        began = time.perf_counter()
                        opener.open(f"{url}/office/report?from={end - timedelta(days=days - 1)}&to={end}",
                                    timeout=60).read()
                        print(f"report page, the last {days} days: {time.perf_counter() - began:.2f} s")
                if "report?" in path:
                    began = time.perf_counter()
                    read_report(db, start, end, by=("service",), hours=True, target_wait_s=900,
                                satisfied_levels=2)
                    print(f"for comparison, motcua report's reader (total, by service, chart hours) "
                          f"in this run: {time.perf_counter() - began:.2f} s")
                for _ in range(RUNS):
                    began = time.perf_counter()
                    with opener.open(f"{url}{path}", timeout=60) as response:
                        body = response.read()
                        assert response.status == 200
                    timings.append(time.perf_counter() - began)
                    size = len(body)
                if "report?" in path:
                    assert f">{TICKETS}<" in body.decode(), "the page does not count the year's tickets"
                print(f"{name}: first {timings[0]:.2f} s, then best {min(timings[1:]):.2f} s, "
                      f"{size / 1000:.0f} KB  (target <= 2 s)")
        finally:
            web.terminate()
            web.wait(10)
            broker.terminate()
            broker.wait(10)
        print(f"load average during the bench: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
