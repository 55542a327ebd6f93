"""Issue 9, item 8: a simulated office day at 20 commands per second.

The four daemons run as their own processes on a real Mosquitto, as on the Pis: the
kiosk prints on the fake network printer from key presses, counter 1's pad sends its
clerk's keys and ratings, counters 2-4 press over MQTT (wireless buttons), the caller
logs, calls and renders speech, the board redraws. Every second brings 20 inputs:
4 ticket presses, 2 pad keys at counter 1 and 14 presses at the other counters.

What a day is here: its traffic, not its hours. A busy district centre issues about
2,000 tickets a day and its clerks press about five times per ticket; ``--soak`` sends
that, 2,000 tickets and 8,000 presses, at 20 per second (about 8 minutes). The normal
run sends a twentieth of it (25 s).

After a warm-up (the first tenth), each daemon's resident memory and open file
descriptors are sampled; at the end resident memory may have grown by 5 MB at most and
the descriptors not at all. Nothing may be lost: every press reaches the caller's log.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from rig import Listener

from motcua.protocol import CounterCommand, Status, Topics, encode, new_id

TOPICS = Topics("liem-chung")
RATE = 20                                   # inputs per second
TICKET_KEYS = "1234"                        # the kiosk's buttons, one per service
PAD_KEYS = "qrw7qwrq"                       # counter 1: next, done, recall, a rating every 4 s
MQTT_ACTIONS = ("next", "done", "recall", "next", "skip", "done", "next")
GROWTH_LIMIT_KB = 5 * 1024


def start(name: str, args: list[str], logs: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "motcua.cli", *args], stdin=subprocess.PIPE,
        stdout=(logs / f"{name}.log").open("wb"), stderr=subprocess.STDOUT,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"})


def resources(pid: int) -> tuple[int, int]:
    """(resident memory in kB, open file descriptors) of one process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def online(listener: Listener, role: str) -> bool:
    seen = [Status.decode(p) for t, p, _ in list(listener.messages)
            if t.startswith(f"{TOPICS.root}/status/{role}/")]
    return bool(seen) and seen[-1].state == "online"


def test_an_office_day_leaks_neither_memory_nor_descriptors(
        tmp_path: Path, broker, printer, site_config: Path, soak: bool) -> None:
    text = site_config.read_text(encoding="utf-8")
    text = text.replace('footer = "Cảm ơn quý công dân!"',
                        'footer = "Cảm ơn quý công dân!"\nhold_off_ms = 0')   # a test, not a crowd
    site_config.write_text(text + '\n[counter_pad.rating]\nkeys = ["7", "8", "9"]\n',
                           encoding="utf-8")
    tickets = 2000 if soak else 100
    seconds = tickets / 4

    logs = tmp_path / "logs"
    logs.mkdir()
    db = tmp_path / "caller.db"
    common = ["--config", str(site_config)]
    daemons = {
        "caller": start("caller", ["caller", *common, "--audio", "none", "--db", str(db)], logs),
        "kiosk": start("kiosk", ["kiosk", *common, "--keyboard"], logs),
        "counter": start("counter", ["counter", *common, "--counter", "1", "--keyboard"], logs),
        "display": start("display", ["display", *common, "--size", "640x360"], logs),
    }
    listener = Listener(broker.url, TOPICS.status_all)
    samples: dict[str, list[tuple[int, int]]] = {}
    sent_ids: list[str] = []
    try:
        assert listener.wait_for(lambda li: all(online(li, r) for r in daemons), timeout=30), \
            {d: (logs / f"{d}.log").read_text()[-1500:] for d in daemons}
        speech = children(daemons["caller"].pid)
        assert len(speech) == 1, "the caller's speech process"
        pids = {name: p.pid for name, p in daemons.items()} | {"caller speech": speech[0]}

        def sample() -> None:
            for name, pid in pids.items():
                samples.setdefault(name, []).append(resources(pid))

        # One second's inputs at a time, on a monotonic schedule (load, not a wait).
        start_at = time.monotonic()
        warm_up_done = False
        next_sample = start_at + seconds / 10
        pad_index = mqtt_index = 0
        for second in range(int(seconds)):
            # Four quarters of a second, one ticket press in each: the kiosk ignores a
            # press while it is printing, as a citizen's second press would be.
            for quarter in range(4):
                daemons["kiosk"].stdin.write(TICKET_KEYS[(second + quarter) % 4].encode())
                daemons["kiosk"].stdin.flush()
                if quarter % 2 == 0:
                    daemons["counter"].stdin.write(PAD_KEYS[pad_index % len(PAD_KEYS)].encode())
                    daemons["counter"].stdin.flush()
                    pad_index += 1
                for _ in range(4 if quarter < 2 else 3):
                    command = CounterCommand(id=new_id(), action=MQTT_ACTIONS[mqtt_index % 7])
                    listener.client.publish(TOPICS.counter_cmd(str(2 + mqtt_index % 3)),
                                            encode(command), qos=1)
                    sent_ids.append(command.id)
                    mqtt_index += 1
                threading.Event().wait(
                    max(0.0, start_at + second + (quarter + 1) / 4 - time.monotonic()))
            if time.monotonic() >= next_sample:
                if not warm_up_done:
                    samples.clear()          # the first tenth warms the daemons up
                    warm_up_done = True
                sample()
                next_sample += seconds / 10
        elapsed = time.monotonic() - start_at

        # Nothing lost: every printed ticket, pad key and MQTT press is in the caller's log.
        # (The kiosk ignores a press while it is still printing: most presses print.)
        kiosk_db = sqlite3.connect(site_config.parent / "state" / "kiosk-k1.db", timeout=30)
        printed = kiosk_db.execute("SELECT count(*) FROM tickets WHERE state = 'printed'").fetchone()[0]
        kiosk_db.close()
        assert printed >= 0.9 * 4 * int(seconds)
        log = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)

        def counted(kind: str) -> int:
            return log.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0]

        deadline = time.monotonic() + 60
        while (counted("ticket") < printed or counted("command") + counted("rating")
               < 2 * int(seconds) + len(sent_ids)) and time.monotonic() < deadline:
            threading.Event().wait(0.2)
        logged = set(r[0] for r in log.execute("SELECT msg_id FROM events WHERE kind = 'command'"))
        assert counted("ticket") == printed
        assert counted("command") + counted("rating") == 2 * int(seconds) + len(sent_ids)
        assert set(sent_ids) <= logged
        called = log.execute("SELECT count(*) FROM tickets WHERE called_at IS NOT NULL").fetchone()[0]
        log.close()
        sample()
        sample()
        for name, process in daemons.items():
            assert process.poll() is None, (logs / f"{name}.log").read_text()[-3000:]
    finally:
        for process in daemons.values():
            process.terminate()
        codes = {name: process.wait(20) for name, process in daemons.items()}
        listener.close()
    assert codes == dict.fromkeys(daemons, 0)

    report = [f"{int(seconds)} s at {RATE} inputs/s in {elapsed:.0f} s: {4 * int(seconds)} ticket "
              f"presses ({printed} printed), "
              f"{2 * int(seconds)} pad keys, {len(sent_ids)} MQTT presses; {called} tickets called"]
    for name, values in samples.items():
        warm_rss, warm_fds = values[0]
        end_rss = max(rss for rss, _ in values[-3:])
        end_fds = min(fds for _, fds in values[-3:])
        report.append(f"{name:14} RSS {warm_rss / 1024:6.1f} -> {end_rss / 1024:6.1f} MB "
                      f"(+{(end_rss - warm_rss) / 1024:.1f}); fds {warm_fds} -> {end_fds}")
    print("\n".join(report))
    (tmp_path / "soak-figures.txt").write_text("\n".join(report))
    for values in samples.values():
        warm_rss, warm_fds = values[0]
        assert max(rss for rss, _ in values[-3:]) - warm_rss <= GROWTH_LIMIT_KB, report
        assert min(fds for _, fds in values[-3:]) <= warm_fds, report
