"""The centre's ingest into PostgreSQL (goal: >= 10,000 events/s, a copy changing nothing),
and the memory of `motcua central`.

1. The store alone: events of 200 communes written in batches (one INSERT ... unnest ...
   ON CONFLICT DO NOTHING per batch), then the same events again (all copies).
2. End to end: a real Mosquitto, `motcua central` as its own process, the events published
   QoS 1 on motcua/<site>/history/event; time until the last is in PostgreSQL, and the
   process's resident memory after.

A real PostgreSQL from the distribution's package is started in a temporary directory
(tests/central/centralrig.py). Usage: .venv/bin/python bench/central_ingest.py [EVENTS]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "central")]

from centralrig import PostgreSQL  # noqa: E402
from motcua.central.store import CentralStore  # noqa: E402
from rig import Mosquitto, eventually, resident_kb, start_daemon  # noqa: E402

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
                                       kind=kind, at=at.isoformat(), body=body, counter=counter))
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
            positions = {e.site: (e.seq, e.seq) for e in batch}
            added += store.write(batch, positions)
        took = time.perf_counter() - started
        print(f"store, {label}: {len(all_events):,} events in {took:.2f} s = "
              f"{len(all_events) / took:,.0f} events/s ({added:,} rows added)")
    assert count(dsn) == len(all_events)
    store.close()


def end_to_end(postgres: PostgreSQL, all_events: list[HistoryEvent], work: Path) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    dsn = postgres.create_database()
    broker = Mosquitto(work / "central", extra_config="max_inflight_messages 5000\n")
    broker.start()
    logs = work / "logs"
    logs.mkdir()
    centre = start_daemon("central", ["central", "--broker", broker.url, "--db", dsn], logs)
    try:
        # Let it migrate and subscribe: the first event's arrival shows it is listening.
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-hubs")
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        first = all_events[0]
        assert eventually(lambda: (client.publish(f"motcua/{first.site}/history/event",
                                                  encode(first), qos=1) and count(dsn) >= 1),
                          timeout=60), (logs / "central.log").read_text()
        payloads = [(f"motcua/{e.site}/history/event", encode(e)) for e in all_events[1:]]
        started = time.perf_counter()
        for i, (topic, payload) in enumerate(payloads):
            info = client.publish(topic, payload, qos=1)
            if i % 20_000 == 19_999:
                # paho keys its queue by message id (1..65535): never hold more than that.
                info.wait_for_publish(120)
        assert eventually(lambda: count(dsn) == len(all_events), timeout=600)
        took = time.perf_counter() - started
        print(f"end to end (MQTT -> motcua central -> PostgreSQL): {len(payloads):,} events in "
              f"{took:.2f} s = {len(payloads) / took:,.0f} events/s")
        print(f"motcua central resident memory after: {resident_kb(centre.pid) / 1024:.0f} MiB")
        client.disconnect()
        client.loop_stop()
    finally:
        centre.terminate()
        centre.wait(10)
        broker.stop()


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    all_events = events(total)
    print(f"{total:,} events of {SITES} communes; PostgreSQL with fsync on (as in production)")
    postgres = PostgreSQL(durable=True)
    postgres.start()
    try:
        store_alone(postgres, all_events)
        with tempfile.TemporaryDirectory() as work:
            end_to_end(postgres, all_events, Path(work))
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
