"""The centre's ingest into PostgreSQL (goal: >= 10,000 events/s, a copy changing nothing),
and the memory of `motcua central`.

1. The store alone: events of 200 communes written in batches (one INSERT ... unnest ...
   ON CONFLICT DO NOTHING per batch), then the same events again (all copies).
2. End to end: a real Mosquitto, `motcua central` as its own process, the events published
   QoS 1 on motcua/<site>/history/event; time until the last is in PostgreSQL, and the
   process's resident memory after.

A real PostgreSQL from the distribution's package is started in a temporary directory
(tests/central/centralrig.py); the central broker runs the central server's shipped settings
(systemd/mosquitto/central.conf). Usage:
.venv/bin/python bench/central_ingest.py [EVENTS] [--end-to-end-only]
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "central")]

from centralrig import PostgreSQL, central_settings  # noqa: E402
from motcua.central.store import CentralStore  # noqa: E402
from rig import Mosquitto, cpu_seconds, eventually, resident_kb, start_daemon  # noqa: E402

from motcua.protocol import HistoryEvent, HistoryKind, encode, new_id  # noqa: E402

SITES = 200
BATCH = 5000
TZ = timezone(timedelta(hours=7))


def events(total: int, *, seed: int = 1) -> list[HistoryEvent]:
    """``total`` events spread over SITES communes, in each site's log order."""
    rng = random.Random(seed)
    per_site = total // SITES
    start = datetime(2026, 11, 2, 7, 30, tzinfo=TZ)
    result = []
    for s in range(SITES):
        site = f"xa-{s:03d}"
        at = start
        for seq in range(1, per_site + 1):
            at += timedelta(seconds=rng.randint(5, 90))
            if seq % 3 == 1:
                ticket_id = new_id()
                kind, counter = HistoryKind.TICKET, None
                body = {"id": ticket_id, "service": "dat-dai", "number": str(1000 + seq),
                        "seq": 1000 + seq, "day": at.date().isoformat(),
                        "issued_at": at.isoformat(), "kiosk": "k1", "priority": False,
                        "doubt": False}
                message_id = ticket_id
            else:
                kind, counter = HistoryKind.COMMAND, str(rng.randint(1, 8))
                message_id = new_id()
                body = {"id": message_id, "action": "next" if seq % 3 == 2 else "done",
                        "target": None}
            result.append(HistoryEvent(site=site, seq=seq, prev=seq - 1, id=message_id,
                                       kind=kind, at=at.isoformat(), body=body, counter=counter,
                                       log=f"{s:016x}"))
    return result


def count(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as db:
        if db.execute("SELECT to_regclass('history')").fetchone()[0] is None:
            return 0
        return db.execute("SELECT count(*) FROM history").fetchone()[0]


def store_alone(postgres: PostgreSQL, all_events: list[HistoryEvent]) -> None:
    dsn = postgres.create_database()
    store = CentralStore(dsn)
    store.migrate()
    for label in ("new events", "the same again (copies)"):
        started = time.perf_counter()
        added = 0
        for i in range(0, len(all_events), BATCH):
            batch = all_events[i:i + BATCH]
            positions = {(e.site, e.log): (e.seq, e.seq) for e in batch}
            added += store.write(batch, positions, current={e.site: e.log for e in batch})
        took = time.perf_counter() - started
        print(f"store, {label}: {len(all_events):,} events in {took:.2f} s = "
              f"{len(all_events) / took:,.0f} events/s ({added:,} rows added)")
    assert count(dsn) == len(all_events)
    store.close()


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its descendants (PostgreSQL's backends)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, total = {pid}, 0.0
    changed = True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                changed = True
    for member in tree:
        with contextlib.suppress(OSError, IndexError):       # a backend that just ended
            total += cpu_seconds(member)
    return total


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length integer (MQTT 3.1.1 §2.2.3)."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish_packets(events_: list[HistoryEvent]) -> bytes:
    """The events as MQTT 3.1.1 PUBLISH packets, QoS 1, made before the clock starts."""
    out = bytearray()
    for i, event in enumerate(events_):
        topic = f"motcua/{event.site}/history/event".encode()
        mid = i % 65535 + 1
        body = len(topic).to_bytes(2, "big") + topic + mid.to_bytes(2, "big") + encode(event)
        out += b"\x32" + remaining_length(len(body)) + body
    return bytes(out)


class RawHubs:
    """The hubs' bridges as the central broker sees them: one connection publishing QoS 1 as
    fast as the broker reads, from packets made beforehand, so that the load generator's own
    work (a Python MQTT client costs more per message than the centre) stays out of the figure,
    as Mosquitto's bridges (C) would."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client_id = b"bench-raw-hubs"
        body = (b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id)
        self.sock.sendall(b"\x10" + remaining_length(len(body)) + body)
        connack = self.sock.recv(4)
        assert connack[:1] == b"\x20" and connack[3:4] == b"\x00", connack
        self.acked = 0
        self.reader = threading.Thread(target=self._read_acks, daemon=True)
        self.reader.start()

    def _read_acks(self) -> None:
        while True:
            data = self.sock.recv(1 << 16)
            if not data:
                return
            self.acked += len(data) // 4          # PUBACKs only: 4 bytes each

    def send(self, packets: bytes) -> None:
        self.sock.sendall(packets)

    def close(self) -> None:
        self.sock.sendall(b"\xe0\x00")
        self.sock.close()


def end_to_end(postgres: PostgreSQL, all_events: list[HistoryEvent], work: Path) -> None:
    dsn = postgres.create_database()
    broker = Mosquitto(work / "central", extra_config=central_settings(accounts=False))
    broker.start()
    logs = work / "logs"
    logs.mkdir()
    centre = start_daemon("central", ["central", "--broker", broker.url, "--db", dsn], logs)
    try:
        hubs = RawHubs(broker.port)
        # Let it migrate and subscribe: the first event's arrival shows it is listening.
        first = publish_packets(all_events[:1])
        assert eventually(lambda: hubs.send(first) or count(dsn) >= 1, timeout=60), \
            (logs / "central.log").read_text()
        packets = publish_packets(all_events[1:])
        assert broker.process is not None and postgres.process is not None
        cpu_before = (cpu_seconds(centre.pid), cpu_seconds(broker.process.pid),
                      tree_cpu(postgres.process.pid))
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        hubs.send(packets)
        # Watched lightly (one connection, 10 polls a second, the 200 positions rather than a
        # count of the rows): the watching must not take the CPU it measures.
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as db:
            while db.execute("SELECT coalesce(sum(upto), 0) FROM site_logs").fetchone()[0] \
                    < len(all_events):
                assert time.perf_counter() - started < 600, "not all in after 10 minutes"
                time.sleep(0.1)
        took = time.perf_counter() - started
        assert count(dsn) == len(all_events)
        cpu = cpu_seconds(centre.pid) - cpu_before[0]
        cpu_broker = cpu_seconds(broker.process.pid) - cpu_before[1]
        cpu_pg = tree_cpu(postgres.process.pid) - cpu_before[2]
        n = len(all_events) - 1
        print(f"end to end (MQTT -> motcua central -> PostgreSQL): {n:,} events in "
              f"{took:.2f} s = {n / took:,.0f} events/s")
        print(f"  CPU meanwhile: motcua central {cpu:.1f} s ({cpu / n * 1e6:.0f} µs per event), "
              f"Mosquitto {cpu_broker:.1f} s, PostgreSQL {cpu_pg:.1f} s; load average "
              f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores)")
        status = dict(line.split(":", 1) for line in
                      Path(f"/proc/{centre.pid}/status").read_text().splitlines() if ":" in line)
        print(f"motcua central resident memory after: {resident_kb(centre.pid) / 1024:.0f} MiB "
              f"(anonymous {status['RssAnon'].strip()}, files {status['RssFile'].strip()}, "
              f"peak {status['VmHWM'].strip()})")
        hubs.close()
    finally:
        centre.terminate()
        centre.wait(10)
        broker.stop()


def main() -> None:
    numbers = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    total = int(numbers[0]) if numbers else 200_000
    all_events = events(total)
    print(f"{total:,} events of {SITES} communes; PostgreSQL with fsync on (as in production)")
    postgres = PostgreSQL(durable=True)
    postgres.start()
    try:
        if "--end-to-end-only" not in sys.argv:
            store_alone(postgres, all_events)
        with tempfile.TemporaryDirectory() as work:
            end_to_end(postgres, all_events, Path(work))
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
