"""The caller's threads and its speech process's, each with the figure that says why it exists.

Runs the caller in this process (its owner loop on a thread named ``owner``) against a real
Mosquitto (the test rig's), speech rendered by espeak-ng in the speech process and written
to ``wav:DIR`` (as fast as it renders; no real-time pacing). Sends ``--calls`` tickets and
as many Nexts, a little apart, then prints:

- the CPU time of each thread of the caller process over the run (/proc/self/task);
- every fsync of the event log (the ``event-log-sync`` thread's work, which the owner
  would otherwise wait for), as median, p99 and max;
- how many health messages the speech process sent (read by ``voice-health``);
- the CPU time of each thread of the speech process (/proc/PID/task, in the order the
  threads were created: main, ``voice-tts``, ``announcer``);
- espeak-ng's render time against the chime's length (why ``voice-tts`` renders ahead
  while ``announcer`` plays the chime).

    .venv/bin/python bench/caller_threads.py [--calls 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from caller_bench import Receiver, publisher, site, tickets  # noqa: E402
from motcua.caller.audio import RATE, chime  # noqa: E402
from motcua.caller.daemon import Caller  # noqa: E402
from motcua.caller.voice import spoken_sentence  # noqa: E402
from motcua.caller.voice_tts import EspeakRenderer  # noqa: E402
from rig import Mosquitto  # noqa: E402

from motcua.config import load_config  # noqa: E402
from motcua.protocol import CounterCommand, Topics, encode, new_id  # noqa: E402

TOPICS = Topics("liem-chung")
TICK = os.sysconf("SC_CLK_TCK")
SERVED_BY = {"dat-dai": "1", "tu-phap": "2", "ldtbxh": "3", "chung-thuc": "4"}


def cpu_ms(pid: int, tid: int) -> float:
    """User + system time of one thread, in ms (fields 14 and 15 of its stat)."""
    try:
        fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) * 1000 / TICK


def figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"median {statistics.median(ordered):6.2f} ms  p99 {p99:6.2f} ms  "
            f"max {ordered[-1]:6.2f} ms  (n={len(ordered)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "broker", extra_config="set_tcp_nodelay true")
        broker.start()
        try:
            run(work, broker.port, options.calls)
        finally:
            broker.stop()


def run(work: Path, port: int, calls: int) -> None:
    config_path = site(work, port, 4)
    config = load_config(config_path)
    wavs = work / "wav"
    wavs.mkdir()
    caller = Caller(config, db=work / "caller.db", audio=f"wav:{wavs}")
    fsyncs: list[float] = []
    real_sync = caller.store.sync

    def timed_sync() -> None:
        started = time.perf_counter()
        real_sync()
        fsyncs.append((time.perf_counter() - started) * 1000)

    caller.store.sync = timed_sync                         # type: ignore[method-assign]
    health: list[dict] = []
    told = caller.announcer.on_health
    caller.announcer.on_health = lambda message: (health.append(message), told(message))
    stop = threading.Event()
    owner = threading.Thread(target=caller.serve, args=(stop,), name="owner")
    owner.start()
    assert caller.link.connected.wait(20)
    pid = os.getpid()
    threads = {t.name: t.native_id for t in threading.enumerate()
               if t.name in ("owner", "event-log-sync", "motcua-link-watch", "voice-health")}
    before = {name: cpu_ms(pid, tid) for name, tid in threads.items() if tid is not None}
    child = caller.announcer.process.pid if caller.announcer.process else None
    child_tids = sorted(int(t) for t in os.listdir(f"/proc/{child}/task")) if child else []
    child_before = {tid: cpu_ms(child, tid) for tid in child_tids} if child else {}
    called = Receiver(port, TOPICS.called)
    client = publisher(port, "bench-threads")
    started = time.perf_counter()
    for ticket in tickets(config_path, calls):
        client.publish(TOPICS.ticket, encode(ticket), qos=1)
        threading.Event().wait(0.01)
        command = CounterCommand(id=new_id(), action="next")
        client.publish(TOPICS.counter_cmd(SERVED_BY[ticket.service]), encode(command), qos=1)
        threading.Event().wait(0.02)
    called.wait(lambda arrivals: len(arrivals) >= calls, timeout=120)
    deadline = time.monotonic() + 300
    while len(list(wavs.glob("*.wav"))) < calls and time.monotonic() < deadline:
        threading.Event().wait(0.2)
    elapsed = time.perf_counter() - started
    after = {name: cpu_ms(pid, tid) for name, tid in threads.items() if tid is not None}
    child_after = {tid: cpu_ms(child, tid) for tid in child_tids} if child else {}
    stop.set()
    caller.inbox.put(None)
    owner.join(30)
    client.disconnect()
    called.close()

    print(f"{calls} tickets + {calls} Nexts, {len(list(wavs.glob('*.wav')))} calls spoken to wav "
          f"in {elapsed:.1f} s")
    print("caller process, CPU time of each thread over the run:")
    for name in ("owner", "event-log-sync", "voice-health", "motcua-link-watch"):
        if name in before:
            print(f"  {name:<20} {after[name] - before[name]:8.0f} ms")
    print(f"event log fsyncs (event-log-sync; the owner does not wait): {figures(fsyncs)}")
    print(f"health messages from the speech process (voice-health): {len(health)}")
    if child:
        print("speech process, CPU time of each thread (creation order):")
        for label, tid in zip(("main (reads calls)", "voice-tts", "announcer", "other"), child_tids,
                              strict=False):
            print(f"  {label:<20} {child_after[tid] - child_before[tid]:8.0f} ms")
    renderer = EspeakRenderer(config.caller.voice)
    names = {c.id: c.name for c in config.counters}
    renders, spoken = [], []
    for number, counter in (("1001", "1"), ("2014", "2"), ("3007", "3"), ("4120", "4")) * 3:
        sentence = spoken_sentence(config.caller.voice, number=number, counter_name=names[counter],
                                   name=None)
        begun = time.perf_counter()
        samples = renderer.render(sentence)
        renders.append((time.perf_counter() - begun) * 1000)
        spoken.append(len(samples) / RATE)
    print(f"espeak-ng render of a call: {figures(renders)}; chime {len(chime()) / RATE:.2f} s, "
          f"speech {statistics.median(spoken):.2f} s")


if __name__ == "__main__":
    main()
