"""Issue 9, item 5: generated malformed payloads on every topic each daemon reads.

The four daemons run as their own processes against a real Mosquitto; hypothesis
generates the junk (random bytes, text, and valid messages with a field replaced by
a value of another shape). No daemon may crash; each counts what it dropped; all keep
working afterwards. With --soak, 100,000 payloads per topic, as the issue asks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rig import Listener

from motcua.config import load_config
from motcua.errors import ProtocolError
from motcua.protocol import (
    Board,
    Called,
    CounterCommand,
    CounterState,
    Rating,
    Status,
    Ticket,
    Topics,
    encode,
    new_id,
)
from motcua.service_day import service_day

TOPICS = Topics("liem-chung")
AT = "2020-01-02T09:30:00+07:00"
# The junk is built from a day long past: a valid-looking junk ticket closes as expired on
# arrival and never stands in the queue ahead of the real ticket the test sends at the end.
VALID = {
    TOPICS.ticket: Ticket(id="t", service="dat-dai", number="1001", seq=1001, day="2020-01-02",
                          issued_at=AT, kiosk="k1"),
    TOPICS.counter_cmd("1"): {"id": "c", "action": "next"},
    TOPICS.counter_rating("1"): Rating(id="r", score=1),
    TOPICS.counter_state("1"): CounterState(counter="1", status="idle"),
    TOPICS.board: Board(seq=1, updated_at=AT, day="2020-01-02"),
}
DECODERS = {
    TOPICS.ticket: Ticket.decode,
    TOPICS.counter_cmd("1"): CounterCommand.decode,
    TOPICS.counter_rating("1"): Rating.decode,
    TOPICS.counter_state("1"): CounterState.decode,
    TOPICS.board: Board.decode,
}
READERS = {   # daemon -> the topics it reads
    "caller": [TOPICS.ticket, TOPICS.counter_cmd("1"), TOPICS.counter_rating("1")],
    "kiosk": [TOPICS.board],
    "counter": [TOPICS.counter_state("1")],
    "display": [TOPICS.board],
}
STATUS = {"caller": TOPICS.status("caller", "hub"), "kiosk": TOPICS.status("kiosk", "k1"),
          "counter": TOPICS.status("counter", "1"), "display": TOPICS.status("display", "+")}


def statuses(listener: Listener, daemon: str) -> list[Status]:
    prefix = STATUS[daemon].removesuffix("+")
    return [Status.decode(p) for t, p, _ in list(listener.messages)
            if t == STATUS[daemon] or (STATUS[daemon].endswith("+") and t.startswith(prefix))]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


def mutated(topic: str) -> st.SearchStrategy[bytes]:
    body = json.loads(encode(VALID[topic]))
    return st.builds(lambda key, value: json.dumps({**body, key: value}).encode(),
                     st.sampled_from(sorted(body)), json_values)


def junk(topic: str) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=120), st.text(max_size=60).map(str.encode),
                     mutated(topic)).filter(lambda p: p.strip().lower() not in
                                            {b"next", b"recall", b"skip", b"done", b"pause",
                                             b"resume"})


def start(name: str, args: list[str], logs: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "motcua.cli", *args], stdin=subprocess.PIPE,
        stdout=(logs / f"{name}.log").open("wb"), stderr=subprocess.STDOUT,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"})


def health(listener: Listener, daemon: str) -> dict:
    seen = statuses(listener, daemon)
    return seen[-1].health if seen else {}


def test_no_daemon_falls_over_and_each_counts_what_it_dropped(tmp_path: Path, broker, printer,
                                                              site_config: Path, soak: bool) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    common = ["--config", str(site_config)]
    daemons = {
        "caller": start("caller", ["caller", *common, "--audio", "none",
                                   "--db", str(tmp_path / "caller.db")], logs),
        "kiosk": start("kiosk", ["kiosk", *common, "--keyboard"], logs),
        "counter": start("counter", ["counter", *common, "--counter", "1", "--keyboard"], logs),
        "display": start("display", ["display", *common, "--size", "320x240"], logs),
    }
    listener = Listener(broker.url, TOPICS.status_all, TOPICS.called)
    sent = dict.fromkeys(VALID, 0)
    malformed = dict.fromkeys(VALID, 0)      # what the contract itself refuses
    try:
        assert listener.wait_for(lambda li: all(
            statuses(li, d) and statuses(li, d)[-1].state == "online" for d in daemons), timeout=30), \
            {d: (logs / f"{d}.log").read_text() for d in daemons}

        def flood_topic(topic: str) -> None:
            # Batches of 100 keep hypothesis's per-example cost off a 100,000-payload run.
            @settings(max_examples=1000 if soak else 3, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            @given(st.lists(junk(topic), min_size=100, max_size=100))
            def flood(payloads: list[bytes]) -> None:
                for payload in payloads:
                    info = listener.client.publish(topic, payload, qos=1)
                    sent[topic] += 1
                    try:
                        DECODERS[topic](payload)
                    except ProtocolError:
                        malformed[topic] += 1
                info.wait_for_publish(30)        # one batch in flight at a time

            flood()

        for topic in VALID:
            flood_topic(topic)
        listener.publish(TOPICS.board, b"flush", qos=1)   # the last junk has reached the broker

        # Every daemon is alive and has counted what it dropped.
        for name, process in daemons.items():
            assert process.poll() is None, (logs / f"{name}.log").read_text()[-3000:]
        # Each daemon drops at least every payload the contract refuses ("flush" included),
        # and never more than it was sent.
        expected = {d: sum(malformed[t] for t in topics) + (1 if TOPICS.board in topics else 0)
                    for d, topics in READERS.items()}
        assert all(expected[d] > 0.8 * sum(sent[t] for t in READERS[d]) for d in daemons)
        assert listener.wait_for(lambda li: all(
            expected[d] <= health(li, d).get("dropped", 0) <= sum(sent[t] for t in READERS[d]) + 1
            for d in daemons), timeout=60), \
            ({d: health(listener, d).get("dropped") for d in daemons}, expected)

        # ... and still works: a real ticket of today and a Next make a call.
        site = load_config(site_config).site
        now = datetime.now(site.tz)
        ticket = Ticket(id=new_id(), service="dat-dai", number="1042", seq=1042,
                        day=service_day(now, site.tz, site.day_starts_at).isoformat(),
                        issued_at=now.isoformat(timespec="seconds"), kiosk="k1")
        listener.publish(TOPICS.ticket, encode(ticket))
        listener.publish(TOPICS.counter_cmd("1"), encode({"id": new_id(), "action": "next"}))
        assert listener.wait_for(lambda li: any(Called.decode(p).number == "1042"
                                                for p in li.payloads(TOPICS.called)), timeout=30), \
            (logs / "caller.log").read_text(errors="replace")[-3000:]
        log = (logs / "caller.log").read_text(errors="replace")
        assert "dropped" in log
    finally:
        for process in daemons.values():
            process.terminate()
        codes = {name: process.wait(20) for name, process in daemons.items()}
        listener.close()
    assert codes == dict.fromkeys(daemons, 0), {d: (logs / f"{d}.log").read_text()[-2000:]
                                                for d in daemons}
