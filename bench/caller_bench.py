"""Caller: Next -> board latency against the raw QoS 1 round trip, durable command rate, memory.

Runs ``motcua caller --audio speaker`` as its own process against a real Mosquitto (the
test rig's), with a generated site of 100 counters for the throughput part. The speaker is
SDL's dummy driver unless SDL_AUDIODRIVER says otherwise: it plays in real time, so speech
is rendered as a hub renders it, a call or two ahead of what is being said. (With
``--audio none`` the speech process renders every call as fast as espeak-ng can, a core's
load no office has; on a 2-core machine that alone pushed the back-to-back p99 to 5-9x.)

The raw round trip is the same shape as Next -> board with no work in between: this
script publishes on ``bench/ping`` (QoS 1), an echo process (a bare paho client, like the
caller's) republishes each message on ``bench/pong`` (QoS 1) from its on_message, and the
time until the pong arrives is one round trip. The one-way publish -> receive time is
printed too, for scale.

Both are measured twice: after the same quiet gap (``GAP_S``) before every sample, raw or
Next — presses come seconds apart in an office — and back to back. Back to back, a Next
often arrives while the caller is committing, acknowledging or announcing what came just
before it (the board goes out first, the fsync runs on a thread of its own).

Memory is the caller's process and, separately, its speech process.

    .venv/bin/python bench/caller_bench.py [--calls 200] [--commands 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from rig import Mosquitto  # noqa: E402

from motcua.cli import load_rooms  # noqa: E402
from motcua.config import load_config  # noqa: E402
from motcua.protocol import Board, CounterCommand, Ticket, Topics, encode, new_id  # noqa: E402
from motcua.service_day import service_day  # noqa: E402

load_rooms()     # this script reads a site config: every room's section

TOPICS = Topics("liem-chung")
EXAMPLE = ROOT / "examples" / "liem-chung.toml"
BROKER_EXTRA = os.environ.get("BENCH_BROKER_EXTRA", "set_tcp_nodelay true")
GAP_S = 0.01
SERVED_BY = {"dat-dai": "1", "tu-phap": "2", "ldtbxh": "3", "chung-thuc": "4"}   # example counters


class Receiver:
    """A subscriber that records arrival times of messages on its topics."""

    def __init__(self, port: int, *topics: str) -> None:
        self.arrivals: list[tuple[float, str, bytes]] = []
        self.changed = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{new_id()[:8]}")
        ready = threading.Event()
        self.client.on_subscribe = lambda *args: ready.set()
        self.client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        ready.wait(10)

    def _on_message(self, client, userdata, message) -> None:
        with self.changed:
            self.arrivals.append((time.perf_counter(), message.topic, bytes(message.payload)))
            self.changed.notify_all()

    def wait(self, predicate, timeout: float = 30) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: predicate(self.arrivals), timeout):
                raise TimeoutError("nothing arrived")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publisher(port: int, name: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def figures(name: str, samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    median = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(f"{name:<30} median {median:7.2f} ms   p99 {p99:7.2f} ms   (n={len(samples)})")
    return median, p99


def site(directory: Path, port: int, counters: int) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^state_dir = .*$', f'state_dir = "{directory}"', text)
    text = re.sub(r'(?m)^url = .*$', f'url = "mqtt://127.0.0.1:{port}"', text)
    if counters > 4:
        text = text[:text.index("[[counters]]")] + "".join(
            f'[[counters]]\nid = "{i}"\nservices = ["dat-dai", "tu-phap", "ldtbxh", "chung-thuc"]\n'
            for i in range(1, counters + 1)) + text[text.index("[[kiosks]]"):]
    path = directory / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_caller(config: Path, db: Path, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "motcua.cli", "caller", "--config", str(config),
         "--audio", "speaker", "--db", str(db)], stdout=log.open("ab"), stderr=subprocess.STDOUT,
        env={"SDL_AUDIODRIVER": "dummy", **os.environ})
    return process


def stop(process: subprocess.Popen) -> None:
    """SIGTERM; the announcer may still be speaking a backlog of calls, so then SIGKILL."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tickets(config: Path, count: int) -> list[Ticket]:
    loaded = load_config(config)
    day = service_day(datetime.now().astimezone(), loaded.site.tz, loaded.site.day_starts_at).isoformat()
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    # Numbers a real kiosk of the example office prints (the caller refuses others: caller/intake.py).
    services = loaded.services
    result = []
    for i in range(count):
        service = services[i % len(services)]
        seq = service.first + (i // len(services)) % (service.last - service.first + 1)
        number = f"{service.prefix}{seq:0{len(str(service.last))}d}" if service.prefix else str(seq)
        result.append(Ticket(id=new_id(), service=service.id, number=number, seq=seq, day=day,
                             issued_at=now, kiosk="k1"))
    return result


def rss_kb(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    value = {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) for k in ("VmRSS", "VmHWM")}
    return value["VmRSS"], value["VmHWM"]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def memory_line(pid: int) -> str:
    rss, peak = rss_kb(pid)
    line = f"caller process {rss / 1024:.1f} MB, peak {peak / 1024:.1f} MB (target <= 60 MB)"
    for child in children(pid):
        child_rss, child_peak = rss_kb(child)
        line += f"; speech process {child_rss / 1024:.1f} MB, peak {child_peak / 1024:.1f} MB"
    return line


def echo(port: int) -> None:
    """The echo process: every ping straight back as a pong, from paho's thread."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-echo")

    def on_connect(c: mqtt.Client, *args: object) -> None:
        # As the caller does (motcua/mqtt.py): no Nagle delay on a PUBACK then a publish.
        c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.subscribe(f"{TOPICS.root}/bench/ping", 1)

    client.on_connect = on_connect
    client.on_subscribe = lambda *a: print("ready", flush=True)
    client.on_message = lambda c, u, m: c.publish(f"{TOPICS.root}/bench/pong", m.payload, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_forever()


def round_trips(port: int, client: mqtt.Client, count: int, gap: float) -> list[float]:
    process = subprocess.Popen([sys.executable, __file__, "--echo", str(port)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        pongs = Receiver(port, f"{TOPICS.root}/bench/pong")
        samples = []
        for _ in range(count):
            before = len(pongs.arrivals)
            time.sleep(gap)
            start = time.perf_counter()
            client.publish(f"{TOPICS.root}/bench/ping", b'{"v":1}', qos=1)
            pongs.wait(lambda a, n=before: len(a) > n)
            samples.append(pongs.arrivals[-1][0] - start)
        pongs.close()
        return samples
    finally:
        process.kill()
        process.wait()


def latency(work: Path, calls: int) -> None:
    broker = Mosquitto(work / "broker-latency", extra_config=BROKER_EXTRA)
    broker.start()
    config = site(work, broker.port, 4)
    process = start_caller(config, work / "latency.db", work / "caller-latency.log")
    try:
        raw = Receiver(broker.port, f"{TOPICS.root}/bench")
        client = publisher(broker.port, "bench-latency")
        samples = []
        for _ in range(calls):
            before = len(raw.arrivals)
            start = time.perf_counter()
            client.publish(f"{TOPICS.root}/bench", b'{"v":1}', qos=1)
            raw.wait(lambda a, n=before: len(a) > n)
            samples.append(raw.arrivals[-1][0] - start)
        raw.close()
        figures("one way: publish -> receive", samples)
        boards = Receiver(broker.port, TOPICS.board)
        boards.wait(lambda a: a)   # the retained board: the caller is up
        ticket_stream = iter(tickets(config, 2 * calls))
        for gap, label in ((GAP_S, f"after a {GAP_S * 1000:.0f} ms quiet gap"),
                           (0.0, "back to back (no gap)")):
            print(f"-- {label}")
            raw_median, raw_p99 = figures("raw QoS 1 round trip (echo)",
                                          round_trips(broker.port, client, calls, gap))
            samples = [next_to_board(client, boards, next(ticket_stream), gap)
                       for _ in range(calls)]
            median, p99 = figures("Next -> board received", samples)
            print(f"{'ratio to the round trip':<30} median {median / raw_median:5.1f}x "
                  f"(target <= 3x)   p99 {p99 / raw_p99:5.1f}x (target <= 5x)")
        print(f"memory, example office after {2 * calls} calls spoken: {memory_line(process.pid)}")
        boards.close()
        client.disconnect()
        client.loop_stop()
    finally:
        stop(process)
        broker.stop()


def next_to_board(client: mqtt.Client, boards: Receiver, ticket: Ticket, gap: float) -> float:
    """One ticket in, then (after ``gap``) Next at its counter: seconds until the board shows it."""
    client.publish(TOPICS.ticket, encode(ticket), qos=1).wait_for_publish(5)
    boards.wait(lambda a: Board.decode(a[-1][2]).waiting.get(ticket.service))
    before = len(boards.arrivals)
    time.sleep(gap)
    start = time.perf_counter()
    client.publish(TOPICS.counter_cmd(SERVED_BY[ticket.service]),
                   encode(CounterCommand(id=new_id(), action="next")), qos=1)
    boards.wait(lambda a: any(Board.decode(p).calls and Board.decode(p).calls[0].number
                              == ticket.number for _, _, p in a[before:]))
    return next(at for at, _, p in boards.arrivals[before:]
                if Board.decode(p).calls[0].number == ticket.number) - start


def throughput(work: Path, total: int, counters: int) -> None:
    broker = Mosquitto(work / "broker-throughput", extra_config=BROKER_EXTRA)
    broker.start()
    config = site(work, broker.port, counters)
    db = work / "throughput.db"
    process = start_caller(config, db, work / "caller-throughput.log")
    try:
        boards = Receiver(broker.port, TOPICS.board)
        boards.wait(lambda a: a)
        loader = publisher(broker.port, "bench-kiosk")
        for ticket in tickets(config, total // 2):
            info = loader.publish(TOPICS.ticket, encode(ticket), qos=1)
        info.wait_for_publish(30)
        log = sqlite3.connect(db, timeout=30)
        wait_for_rows(log, "ticket", total // 2)    # all in the queue, not only at the broker
        idle_rss = rss_kb(process.pid)
        per_counter = total // counters
        actions = ["next", "recall", "done", "next", "skip"]
        clients = [publisher(broker.port, f"bench-counter-{i}") for i in range(1, counters + 1)]
        sent: list[str] = []
        lock = threading.Lock()

        def counter(index: int) -> None:
            client, last = clients[index], None
            for n in range(per_counter):
                command = CounterCommand(id=new_id(), action=actions[n % len(actions)])
                last = client.publish(TOPICS.counter_cmd(str(index + 1)), encode(command), qos=1)
                with lock:
                    sent.append(command.id)
            last.wait_for_publish(60)

        start = time.perf_counter()
        threads = [threading.Thread(target=counter, args=(i,)) for i in range(counters)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        published = time.perf_counter() - start
        wait_for_rows(log, "command", len(sent))
        elapsed = time.perf_counter() - start
        ids = [row[0] for row in log.execute("SELECT msg_id FROM events WHERE kind = 'command'")]
        lost = len(set(sent) - set(ids))
        doubled = len(ids) - len(set(ids))
        print(f"{len(sent)} commands from {counters} counters: published in {published:.2f} s, "
              f"all committed in {elapsed:.2f} s -> {len(ids) / elapsed:,.0f} durable commands/s "
              f"(target >= 1,000); lost {lost}, doubled {doubled}")
        print(f"memory, {counters} counters: caller process {idle_rss[0] / 1024:.1f} MB with "
              f"{total // 2} tickets waiting; after the burst: {memory_line(process.pid)}")
        print(f"event log: {db.stat().st_size / 1e6:.1f} MB, counts "
              f"{json.dumps(dict(log.execute('SELECT kind, count(*) FROM events GROUP BY kind')))}")
        for client in clients:
            client.disconnect()
            client.loop_stop()
        boards.close()
    finally:
        stop(process)
        broker.stop()


def wait_for_rows(log: sqlite3.Connection, kind: str, count: int, timeout: float = 120) -> None:
    """Until the caller's event log holds ``count`` events of ``kind`` (or the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0] >= count:
            return
        threading.Event().wait(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--commands", type=int, default=20000)
    parser.add_argument("--counters", type=int, default=100)
    parser.add_argument("--echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.echo:
        echo(options.echo)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as work:
        latency(Path(work), options.calls)
        throughput(Path(work), options.commands, options.counters)


if __name__ == "__main__":
    main()
