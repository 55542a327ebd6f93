"""The office head's range report in the browser on a busy district centre's history: two
years of bench/report_year.py's year (500,000 tickets each, plus rating events with reasons),
the second year ending today. How long the hub takes to answer GET /office/report for the last
365 days (today included, tickets arriving), for settled periods and the CSV, and how much
memory the web process holds. Targets: <= 2 s a report; the process well under 80 MB.

The real `motcua web` runs as a process on the history's caller.db, with a real Mosquitto
holding the caller's retained board (its service day is the history's last day); the bench
logs in as an office head and times the HTTP requests end to end.
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
from datetime import date, datetime, timedelta
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


def second_year(db: Path) -> tuple[date, date]:
    """The year again, 365 days later (another year of the same office): two years in all."""
    connection = sqlite3.connect(db)
    shift = "date(substr({0}, 1, 10), '+365 days') || substr({0}, 11)"
    connection.execute("INSERT INTO tickets (id, day, service, number, priority, status, counter, issued_at,"
                       " called_at, done_at, rating, rated_at) SELECT 'y2-' || id, date(day, '+365 days'),"
                       " service, number, priority, status, counter, "
                       + ", ".join(shift.format(c) for c in ("issued_at", "called_at", "done_at"))
                       + ", rating, " + shift.format("rated_at") + " FROM tickets")
    connection.execute("INSERT INTO events (seq, kind, msg_id, at, counter, body) SELECT seq + 1000000, kind,"
                       " 'y2-' || msg_id, " + shift.format("at") + ", counter, json_set(body, '$.ticket',"
                       " 'y2-' || json_extract(body, '$.ticket')) FROM events WHERE kind = 'rating'")
    first, last = connection.execute("SELECT min(day), max(day) FROM tickets WHERE id LIKE 'y2-%'").fetchone()
    connection.commit()
    connection.close()
    return date.fromisoformat(first), date.fromisoformat(last)


def arrive(db: Path, day: date, n: int) -> None:
    """A ticket printed today (the caller's row), as the office works on."""
    issued = datetime.now().astimezone().replace(year=day.year, month=day.month, day=day.day)
    connection = sqlite3.connect(db)
    connection.execute("INSERT INTO tickets (id, day, service, number, priority, status, issued_at)"
                       " VALUES (?,?,'dat-dai',?,0,'waiting',?)",
                       (f"today-{n}", day.isoformat(), str(5000 + n), issued.isoformat(timespec="seconds")))
    connection.commit()
    connection.close()


def memory_mb(pid: int) -> tuple[float, float]:
    """The process's resident memory now and its peak (VmRSS, VmHWM), in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def issued_on(page: str) -> int:
    return int(re.search(r'<dd id="issued">(\d+)<', page).group(1))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state"
        state.mkdir()
        db = state / "caller.db"
        started = time.perf_counter()
        build(db)
        events = add_reasons(db)
        first_year_start = date(2025, 1, 2)
        _, today = second_year(db)
        print(f"built {2 * TICKETS:,} tickets ({first_year_start}..{today}) and {2 * events:,} rating "
              f"events with reasons in {time.perf_counter() - started:.1f} s")
        broker_port = free_port()
        conf = Path(folder) / "mosquitto.conf"
        conf.write_text(f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n"
                        + ("user root\n" if os.geteuid() == 0 else ""))
        broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        # The caller's board says the history's last day is the service day: it is today.
        board = Board(seq=1, updated_at=datetime.now().astimezone().isoformat(timespec="seconds"),
                      day=today.isoformat())
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
            print(f"web process at rest (nothing read yet): VmRSS {memory_mb(web.pid)[0]:.0f} MB")
            csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
            form = urllib.parse.urlencode({"csrf": csrf, "user": "bench", "password": "mat-khau-bench",
                                           "next": "/office"}).encode()
            opener.open(urllib.request.Request(f"{url}/login", data=form, headers={
                "Content-Type": "application/x-www-form-urlencoded"}), timeout=10).read()

            def get(path: str) -> tuple[float, str]:
                began = time.perf_counter()
                with opener.open(f"{url}{path}", timeout=60) as response:
                    body = response.read().decode()
                    assert response.status == 200
                return time.perf_counter() - began, body

            # Right after a start: the head opens the live view (the settled days start being
            # read), then the last year's report, which waits for them.
            year = f"/office/report?from={today - timedelta(days=364)}&to={today}"
            get("/office")
            took, page = get(year)
            assert issued_on(page) == TICKETS, issued_on(page)
            print(f"report page, the last 365 days (today included), right after the start: {took:.2f} s")
            deadline = time.monotonic() + 120
            while "report history" not in log_path.read_text():
                assert time.monotonic() < deadline, log_path.read_text()[-2000:]
                time.sleep(0.2)
            kept = re.search(r"report history .*", log_path.read_text()).group(0)
            rss, peak = memory_mb(web.pid)
            print(f"{kept} (after the start: {time.perf_counter() - launched:.1f} s); "
                  f"web process VmRSS {rss:.0f} MB, peak {peak:.0f} MB")

            # Today's tickets keep arriving: each look counts them, and takes the same time.
            timings = []
            for n in range(RUNS + 1):
                arrive(db, today, n)
                took, page = get(year)
                assert issued_on(page) == TICKETS + n + 1, "the page missed a ticket of today"
                timings.append(took)
            print(f"report page, the last 365 days (today included, a ticket arriving before each): "
                  f"first {timings[0]:.2f} s, then best {min(timings[1:]):.2f} s, "
                  f"worst {max(timings[1:]):.2f} s, "
                  f"{len(page) / 1000:.0f} KB  (target <= 2 s)")
            took, page = get(f"/office/report?from={first_year_start}&to={today}")
            assert issued_on(page) == 2 * TICKETS + RUNS + 1
            print(f"report page, both years to today ({2 * TICKETS:,} tickets): {took:.2f} s")
            for days in (1, 30, 90):
                took, _ = get(f"/office/report?from={today - timedelta(days=days - 1)}&to={today}")
                print(f"report page, the last {days} days: {took:.2f} s")
            began = time.perf_counter()
            read_report(db, today - timedelta(days=364), today, by=("service",), hours=True,
                        target_wait_s=900, satisfied_levels=2)
            print(f"for comparison, motcua report's reader (total, by service, chart hours), the same year: "
                  f"{time.perf_counter() - began:.2f} s")
            settled = today - timedelta(days=2)
            last_year = f"from={today - timedelta(days=364)}&to={today}"
            for name, path in (("report page, a settled year (to the day before yesterday)",
                                f"/office/report?from={settled - timedelta(days=364)}&to={settled}"),
                               ("CSV by service, the last 365 days",
                                f"/office/report.csv?{last_year}&by=service"),
                               ("ratings and reasons page, the last 365 days",
                                f"/office/ratings?{last_year}")):
                timings = [get(path)[0] for _ in range(RUNS)]
                print(f"{name}: first {timings[0]:.2f} s, then best {min(timings[1:]):.2f} s")
            rss, peak = memory_mb(web.pid)
            print(f"web process after the reports: VmRSS {rss:.0f} MB, peak {peak:.0f} MB")
        finally:
            web.terminate()
            web.wait(10)
            broker.terminate()
            broker.wait(10)
        print(f"load average during the bench: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
