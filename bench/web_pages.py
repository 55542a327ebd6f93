"""The web role: board change -> page updated with many phone pages open, tap -> rating
committed, the process's memory, and the pages' weight.

A real Mosquitto, the real caller (``--audio none``) and ``motcua web`` run as processes; the
phone pages are Server-Sent Events clients in this process (plain asyncio sockets, one
connection each, as a browser's EventSource keeps one), not browsers. A board change is timed
from the Next press that makes it (so the caller's press -> board is included) to each page's
next event, all on this process's one thread (a paho thread's timestamps would queue behind
the pages' reads for the GIL).

    .venv/bin/python bench/web_pages.py [--pages 300] [--rounds 40] [--ratings 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "web")]

from rig import cpu_seconds, resident_kb  # noqa: E402
from web_rig import WebOffice  # noqa: E402

from motcua.protocol import CounterCommand, Ticket, encode, new_id  # noqa: E402


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def report(name: str, samples: list[float]) -> None:
    print(f"{name:<44} p50 {percentile(samples, 50) * 1000:7.1f} ms   "
          f"p99 {percentile(samples, 99) * 1000:7.1f} ms   max {max(samples) * 1000:7.1f} ms   "
          f"(n={len(samples)})")


class Page:
    """One phone page's live stream: the arrival time of each event."""

    def __init__(self, ticket: str) -> None:
        self.ticket = ticket
        self.events: list[float] = []
        self.views: list[dict] = []
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, port: int) -> None:
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(f"GET /t/{self.ticket}/events HTTP/1.1\r\nHost: hub\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        await self.writer.drain()
        self.task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            if line.startswith(b"data: "):
                self.events.append(time.perf_counter())
                self.views.append(json.loads(line[6:]))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def publish_tickets(office: WebOffice, count: int) -> list[str]:
    day = office.day()
    ids = []
    for n in range(count):
        ticket = Ticket(id=new_id(), service="dat-dai", number=str(1001 + n), seq=1001 + n, day=day,
                        issued_at=datetime.now().astimezone().isoformat(timespec="microseconds"),
                        kiosk="k1")
        office.listener.client.publish(office.topics.ticket, encode(ticket), qos=1)
        ids.append(ticket.id)
    deadline = time.monotonic() + 60
    while office.health().get("tickets", 0) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return ids


async def press_to_pages(office: WebOffice, pages: list[Page],
                         rounds: int) -> tuple[list[float], list[float], int]:
    """Each waiting page's delay from a Next press to its update, each round's slowest page (a
    stall shows in all of a round's pages), and how many pages missed an update."""
    samples, slowest, missed = [], [], 0
    command = office.topics.counter_cmd("1")
    for _ in range(rounds):
        before = {page.ticket: len(page.events) for page in pages}
        # Every page still waiting changes with a Next in its service: one fewer ahead, or called.
        waiting = [page for page in pages if page.views[-1]["stage"] == "waiting"]
        start = time.perf_counter()
        # Not waiting for the PUBACK: the pages' streams are read on this thread meanwhile.
        office.listener.client.publish(command, encode(CounterCommand(id=new_id(), action="next")), qos=1)
        deadline = time.monotonic() + 10
        while any(len(p.events) == before[p.ticket] for p in waiting) and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        delays = [page.events[before[page.ticket]] - start for page in waiting
                  if len(page.events) > before[page.ticket]]
        missed += len(waiting) - len(delays)
        samples += delays
        slowest.append(max(delays))
        await asyncio.sleep(0.2)
    return samples, slowest, missed


def tap_to_commit(office: WebOffice, count: int) -> tuple[list[float], list[float]]:
    """Done at counter 4, then the phone's tap: until the 202, and until the caller's commit."""
    answers, commits = [], []
    db = sqlite3.connect(f"file:{office.db}?mode=ro", uri=True)
    try:
        for _ in range(count):
            office.press("4", "next")
            deadline = time.monotonic() + 10
            while ((state := office.counter_state("4")) is None or state.ticket is None) \
                    and time.monotonic() < deadline:
                time.sleep(0.005)
            serving = state.ticket
            office.press("4", "done")
            while ((state := office.counter_state("4")) is None or state.last is None
                   or state.last.ticket != serving) and time.monotonic() < deadline:
                time.sleep(0.005)
            while office.request(f"/t/{serving}")[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(0.05)                 # the web role has the Done too
            start = time.perf_counter()
            status, _ = office.post_json(f"/t/{serving}/rating", {"level": 1})
            answers.append(time.perf_counter() - start)
            assert status == 202, status
            while not db.execute("SELECT rating FROM tickets WHERE id = ?", (serving,)).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise TimeoutError("the rating did not reach the caller")
                time.sleep(0.001)
            commits.append(time.perf_counter() - start)
    finally:
        db.close()
    return answers, commits


def weight(office: WebOffice, ticket: str) -> dict[str, int]:
    def size(path: str) -> int:
        with urllib.request.urlopen(f"{office.url}{path}") as response:
            return len(response.read())

    common = size("/static/style.css") + size("/static/common.js")
    return {"phone page (HTML + CSS + JS)": size(f"/t/{ticket}") + common + size("/static/phone.js"),
            "tablet page (HTML + CSS + JS)": size("/tablet") + common + size("/static/tablet.js")}


async def main_async(options: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        office = WebOffice(Path(tmp))
        try:
            assert office.web is not None
            time.sleep(2)
            idle_kb = resident_kb(office.web.pid)
            ids = publish_tickets(office, options.pages)
            pages = [Page(ticket) for ticket in ids]
            for page in pages:
                await page.open(office.port)
            while any(not page.views for page in pages):
                await asyncio.sleep(0.05)
            await asyncio.sleep(1)
            open_kb = resident_kb(office.web.pid)
            cpu = cpu_seconds(office.web.pid)
            samples, slowest, missed = await press_to_pages(office, pages, options.rounds)
            cpu_per_change = (cpu_seconds(office.web.pid) - cpu) / options.rounds
            busy_kb = resident_kb(office.web.pid)
            for page in pages:
                page.close()
            answers, commits = tap_to_commit(office, options.ratings)
            sizes = weight(office, ids[-1])
        finally:
            office.close()
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"web role, {options.pages} phone pages open (SSE), {options.rounds} Next presses "
          f"(load average {load} at the end):")
    report("Next press -> phone page updated", samples)
    report("  the round's slowest page", slowest)
    print(f"{'  pages that missed an update':<44} {missed}")
    print(f"{'web CPU time per change (all pages)':<44} {cpu_per_change * 1000:7.1f} ms")
    report("tap -> 202 answer", answers)
    report("tap -> rating committed by the caller", commits)
    print(f"{'memory (VmRSS) idle':<44} {idle_kb / 1024:7.1f} MB")
    print(f"{'memory with the pages open':<44} {open_kb / 1024:7.1f} MB")
    print(f"{'memory after the updates':<44} {busy_kb / 1024:7.1f} MB")
    for name, size in sizes.items():
        print(f"{name:<44} {size / 1024:7.1f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--ratings", type=int, default=30)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
