"""Issue 19: the faults the first proof did not try, on the real daemons and a real Mosquitto.

- item 3: a fresh broker (no saved session) and the caller started late: every printed
  ticket and every press the pad kept reaches the caller (the senders wait for the caller's
  own confirmation, not the broker's PUBACK);
- item 1: a pad whose network stalls while the clerk presses Next 50 times yields at most one
  call (the pad stops queueing once it cannot hear the caller; the caller refuses stale presses);
- item 7 (and item 1's SIGSTOP case): a frozen caller shows as not answering on the board and
  the pad within a few seconds, and the presses made meanwhile do not become a burst.

Each daemon is its own process (``motcua ...``); the pad of item 1 reaches the broker through
a TCP relay that the test can stall, as a Wi-Fi link that stops carrying packets would.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path

from rig import Listener, eventually, start_daemon, write_site_config

from motcua.config import load_config
from motcua.delivery import STALE_S
from motcua.protocol import Called, Status, Ticket, Topics, encode, new_id
from motcua.service_day import service_day

TOPICS = Topics("liem-chung")
K1_TICKETS = TOPICS.ticket_from("k1")     # kiosk k1 prints on its own topic
CALLER, PAD = TOPICS.status("caller", "hub"), TOPICS.status("counter", "1")
NEXT_KEY = "q"                       # counter 1's Next key in the example office


def office_config(directory: Path, broker_url: str, printer: str | None = None, *,
                  max_press_age_s: int = 15) -> Path:
    """The example office, kiosk presses without hold-off, and a press age limit."""
    path = write_site_config(directory, broker_url=broker_url, printer=printer)
    text = path.read_text(encoding="utf-8")
    text = text.replace("[queue]\n", f"[queue]\nmax_press_age_s = {max_press_age_s}\n", 1)
    text = re.sub(r'(?m)^(paper = "80mm")$', r"\1\nhold_off_ms = 0", text, count=1)
    path.write_text(text, encoding="utf-8")
    return path


def today() -> str:
    config = load_config(Path(__file__).parents[2] / "examples" / "liem-chung.toml")
    return service_day(datetime.now().astimezone(), config.site.tz, config.site.day_starts_at).isoformat()


def ticket(number: int) -> Ticket:
    """A ticket kiosk k1 could print (the caller refuses others: caller/intake.py)."""
    return Ticket(id=new_id(), service="dat-dai", number=str(number), seq=number, day=today(),
                  issued_at=datetime.now().astimezone().isoformat(timespec="seconds"), kiosk="k1")


def key(process, keys: str) -> None:
    process.stdin.write(keys.encode())
    process.stdin.flush()


def log_of(logs: Path, name: str) -> str:
    return (logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")


class Office(Listener):
    """Statuses, calls and tickets as the broker carries them."""

    def __init__(self, broker_url: str) -> None:
        super().__init__(broker_url, TOPICS.status_all, TOPICS.called, K1_TICKETS)

    def status(self, topic: str) -> Status | None:
        payloads = self.payloads(topic)
        return Status.decode(payloads[-1]) if payloads else None

    def health(self, topic: str) -> dict:
        status = self.status(topic)
        return status.health if status and status.state == "online" else {}

    def calls(self) -> list[Called]:
        return [Called.decode(p) for p in self.payloads(TOPICS.called)]

    def display_health(self) -> dict:
        with self.changed:
            found = [p for t, p, _ in self.messages if t.startswith(f"{TOPICS.root}/status/display/")]
        return Status.decode(found[-1]).health if found else {}


class Relay:
    """A TCP relay to the broker that can stall: bytes stop flowing both ways, connections stay
    open (neither end notices before its keep-alive), and flow again on ``resume``."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                for s in (source, sink):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
                return
            self.flowing.wait()
            try:
                sink.sendall(data)
            except OSError:
                return

    def stall(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.flowing.set()
        self.server.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.close()


def stop_all(daemons: dict) -> dict:
    for process in daemons.values():
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
    return {name: process.wait(20) for name, process in daemons.items()}


def test_a_late_caller_on_a_fresh_broker_gets_every_printed_ticket_and_press(
        tmp_path: Path, broker, printer) -> None:
    """Item 3: the broker has no session of the caller (first install, mosquitto.db lost); the
    kiosk prints 8 tickets and the clerk presses Next before the caller runs. The broker
    acknowledges all of them and routes them to nobody; they still all arrive."""
    config = office_config(tmp_path, broker.url, printer.spec, max_press_age_s=600)
    logs = tmp_path / "logs"
    logs.mkdir()
    common = ["--config", str(config)]
    office = Office(broker.url)
    daemons = {"kiosk": start_daemon("kiosk", ["kiosk", *common, "--keyboard"], logs),
               "counter": start_daemon("counter", ["counter", *common, "--counter", "1", "--keyboard"],
                                       logs)}
    try:
        assert office.wait_for(lambda o: o.health(TOPICS.status("kiosk", "k1")) and o.health(PAD),
                               timeout=30), log_of(logs, "kiosk") + log_of(logs, "counter")
        for n, service_key in enumerate("12341234", start=1):
            key(daemons["kiosk"], service_key)
            # The broker has taken it (it routed it to this listener), and nobody else has it.
            assert office.wait_for(lambda o, n=n: len(o.payloads(K1_TICKETS)) >= n, timeout=30), \
                log_of(logs, "kiosk")
        key(daemons["counter"], NEXT_KEY)
        assert eventually(lambda: "→ Gọi số tiếp theo" in log_of(logs, "counter"))
        daemons["caller"] = start_daemon("caller", ["caller", *common, "--audio", "none",
                                                    "--db", str(tmp_path / "caller.db")], logs)
        delivered = office.wait_for(lambda o: o.health(CALLER).get("events", 0) >= 9
                                    and o.health(TOPICS.status("kiosk", "k1")).get("outbox") == 0
                                    and o.health(PAD).get("pending") == 0, timeout=40)
        assert delivered, (office.health(CALLER), log_of(logs, "caller"), log_of(logs, "kiosk"))
    finally:
        codes = stop_all(daemons)
        office.close()
    assert codes == dict.fromkeys(daemons, 0), {d: log_of(logs, d)[-2000:] for d in daemons}
    printed = {Ticket.decode(p).id for p in office.payloads(K1_TICKETS)}
    with sqlite3.connect(tmp_path / "caller.db") as db:
        logged = {row[0] for row in db.execute("SELECT msg_id FROM events WHERE kind = 'ticket'")}
        commands = db.execute("SELECT count(*) FROM events WHERE kind = 'command'").fetchone()[0]
    assert len(printed) == 8 and logged == printed
    assert commands == 1


def test_a_stalled_pad_link_and_50_next_presses_make_at_most_one_call(tmp_path: Path, broker) -> None:
    """Item 1: the pad's link stalls (its connection stays open) while the clerk presses Next
    50 times. Once the pad cannot hear the caller's heartbeat it keeps no more presses; those
    sent into the stall arrive late and the caller refuses them as stale; the pad says so.
    The outage is 10 s with a 2 s age limit instead of 10 minutes with the default."""
    relay = Relay(broker.port)
    logs = tmp_path / "logs"
    logs.mkdir()
    hub = office_config(tmp_path / "hub", broker.url, max_press_age_s=2)
    pad_side = office_config(tmp_path / "pad", f"mqtt://127.0.0.1:{relay.port}", max_press_age_s=2)
    office = Office(broker.url)
    daemons = {"caller": start_daemon("caller", ["caller", "--config", str(hub), "--audio", "none",
                                                 "--db", str(tmp_path / "caller.db")], logs),
               "counter": start_daemon("counter", ["counter", "--config", str(pad_side), "--counter", "1",
                                                   "--keyboard"], logs)}
    try:
        assert office.wait_for(lambda o: o.health(CALLER) and o.health(PAD).get("caller_lost") is False,
                               timeout=30), log_of(logs, "counter")
        for number in range(1001, 1061):
            office.publish(K1_TICKETS, encode(ticket(number)))
        assert office.wait_for(lambda o: o.health(CALLER).get("waiting") == 60, timeout=20)
        key(daemons["counter"], NEXT_KEY)
        assert office.wait_for(lambda o: len(o.calls()) == 1, timeout=20)

        relay.stall()
        stalled = time.monotonic()
        pace = threading.Event()
        for i in range(50):                     # the clerk's presses, spread over 9 s
            pace.wait(max(0.0, stalled + i * 0.18 - time.monotonic()))
            key(daemons["counter"], NEXT_KEY)
        assert eventually(lambda: "mất kết nối với máy gọi số" in log_of(logs, "counter"), timeout=10)
        pace.wait(max(0.0, stalled + 10 - time.monotonic()))
        relay.resume()

        settled = office.wait_for(lambda o: o.health(PAD).get("pending") == 0
                                  and o.health(PAD).get("refused", 0) >= 1
                                  and o.health(CALLER).get("stale", 0) >= 1, timeout=30)
        assert settled, (office.health(PAD), office.health(CALLER), log_of(logs, "counter"))
        calls = office.calls()
        assert len(calls) <= 2, [c.number for c in calls]          # the first Next, and at most one
        pad_health, caller_health = office.health(PAD), office.health(CALLER)
        # Every press was either refused on the pad or sent and refused as stale by the caller.
        assert pad_health["refused"] >= 50 - 1 - caller_health["stale"] - (len(calls) - 1)
        assert "bị từ chối (quá cũ" in log_of(logs, "counter")
        # The pad's count holds its own refusals and those the caller sent back.
        print(f"\n50 Nexts during a 10 s stall: {pad_health['refused'] - caller_health['stale']} "
              f"not sent by the pad, {caller_health['stale']} refused as stale by the caller, "
              f"{len(calls) - 1} called")
    finally:
        codes = stop_all(daemons)
        office.close()
        relay.close()
    assert codes == dict.fromkeys(daemons, 0), {d: log_of(logs, d)[-2000:] for d in daemons}


def test_a_frozen_caller_shows_on_board_and_pad_and_its_presses_do_not_burst(
        tmp_path: Path, broker) -> None:
    """Items 7 and 1: SIGSTOP the caller for 9 s. Its status stays "online" (its connection is
    open); the board and the pad say it does not answer within a few seconds; the Nexts pressed
    meanwhile do not become a burst of calls when it resumes."""
    config = office_config(tmp_path, broker.url, max_press_age_s=2)
    logs = tmp_path / "logs"
    logs.mkdir()
    common = ["--config", str(config)]
    office = Office(broker.url)
    daemons = {"caller": start_daemon("caller", ["caller", *common, "--audio", "none",
                                                 "--db", str(tmp_path / "caller.db")], logs),
               "counter": start_daemon("counter", ["counter", *common, "--counter", "1", "--keyboard"],
                                       logs),
               "display": start_daemon("display", ["display", *common, "--size", "640x360"], logs)}
    try:
        assert office.wait_for(lambda o: o.health(PAD).get("caller_lost") is False
                               and o.display_health().get("caller") == "ok", timeout=30), \
            (log_of(logs, "counter"), log_of(logs, "display"))
        for number in range(1001, 1011):
            office.publish(K1_TICKETS, encode(ticket(number)))
        assert office.wait_for(lambda o: o.health(CALLER).get("waiting") == 10, timeout=20)

        daemons["caller"].send_signal(signal.SIGSTOP)
        frozen = time.monotonic()
        assert office.wait_for(lambda o: o.display_health().get("caller") == "MÁY GỌI SỐ KHÔNG PHẢN HỒI"
                               and o.health(PAD).get("caller_lost") is True, timeout=STALE_S + 5)
        noticed_s = time.monotonic() - frozen
        assert office.status(CALLER).state == "online"      # what the status alone would say
        assert "mất kết nối với máy gọi số" in log_of(logs, "counter")
        pace = threading.Event()
        for i in range(6):                                   # Next, once a second, while frozen
            pace.wait(max(0.0, frozen + 1 + i * 1.2 - time.monotonic()))
            key(daemons["counter"], NEXT_KEY)
        pace.wait(max(0.0, frozen + 9 - time.monotonic()))
        daemons["caller"].send_signal(signal.SIGCONT)

        assert office.wait_for(lambda o: o.health(PAD).get("pending") == 0
                               and o.health(PAD).get("caller_lost") is False
                               and o.display_health().get("caller") == "ok", timeout=30), \
            (office.health(PAD), log_of(logs, "counter"))
        assert len(office.calls()) <= 1, [c.number for c in office.calls()]
        print(f"\nfrozen caller noticed by board and pad after {noticed_s:.1f} s "
              f"(heartbeat stale after {STALE_S:g} s)")
    finally:
        codes = stop_all(daemons)
        office.close()
    assert codes == dict.fromkeys(daemons, 0), {d: log_of(logs, d)[-2000:] for d in daemons}

