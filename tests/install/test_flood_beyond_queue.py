"""Issue 18: a flood beyond the broker's queue limit no longer loses a printed ticket.

Mosquitto counts ``max_queued_messages`` per receiver: while the caller is away, a stolen
counter password can fill the caller's queue, and the broker then acknowledges and drops
what comes next, a real kiosk's ticket too. The kiosk keeps every ticket until the caller
lists its id on ``received`` and sends it again while the caller's heartbeat says it accepts
work (motcua/delivery.py), so the ticket still arrives, once.

The real daemons (``motcua caller``, ``motcua kiosk`` with the fake printer), each logging in
with its own account as scripts/install sets it, on the shipped hub config with one change:
``max_queued_messages`` is 200 instead of 100,000 (3,000 with ``--soak``), so the queue fills
in seconds; the mechanism is the same. The shipped 100,000 is not flooded even with ``--soak``:
the broker rewrites its whole queue on every change, so the time grows with the square of the
queue (12,000 took 146 s: docs/reliability.md, "Limits"), hours for 100,000.
"""

from __future__ import annotations

import queue
import re
import sqlite3
from pathlib import Path

from install_helpers import Device
from rig import SHIPPED_CONF, Mosquitto, eventually, start_daemon, write_site_config

from motcua.broker_config import set_device_account, write_broker_files
from motcua.config import load_config
from motcua.protocol import Status, Ticket, Topics

T = Topics("liem-chung")
K1_TICKETS = T.ticket_from("k1")
CALLER, KIOSK = T.status("caller", "hub"), T.status("kiosk", "k1")


class Office(Device):
    """What the hub's web role (its own account) sees: tickets and every status."""

    def __init__(self, port: int, secret: Path) -> None:
        super().__init__(port, "web", secret.read_text(encoding="utf-8").strip())
        self.seen: list[tuple[str, bytes]] = []

    def pump(self) -> None:
        while True:
            try:
                message = self.messages.get_nowait()
            except queue.Empty:
                return
            self.seen.append((message.topic, bytes(message.payload)))

    def health(self, topic: str) -> dict:
        self.pump()
        found = [payload for t, payload in self.seen if t == topic]
        status = Status.decode(found[-1]) if found else None
        return status.health if status and status.state == "online" else {}

    def tickets(self) -> list[Ticket]:
        self.pump()
        return [Ticket.decode(payload) for t, payload in self.seen if t == K1_TICKETS]


def device_config(directory: Path, url: str, printer: str, username: str, secret: Path) -> Path:
    """The example office as scripts/install leaves it on one device: its own account."""
    path = write_site_config(directory, broker_url=url, printer=printer)
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r'(?m)^(paper = "80mm")$', r"\1\nhold_off_ms = 0", text, count=1),
                    encoding="utf-8")
    set_device_account(path, username, secret, url=url)
    return path


def log_of(logs: Path, name: str) -> str:
    return (logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")


def test_a_flood_beyond_the_queue_limit_loses_no_printed_ticket(tmp_path: Path, printer,
                                                               soak: bool) -> None:
    shipped = int(re.search(r"(?m)^max_queued_messages (\d+)$", SHIPPED_CONF.read_text()).group(1))
    limit = 3_000 if soak else 200
    assert limit < shipped
    files = write_broker_files(load_config(write_site_config(tmp_path / "accounts")),
                               tmp_path / "broker-files")
    broker = Mosquitto(tmp_path / "mosquitto", passwords=files.passwords, acl=files.acl,
                       extra_config=f"max_queued_messages {limit}\n")
    broker.start()
    logs = tmp_path / "logs"
    logs.mkdir()
    caller_config = device_config(tmp_path / "hub", broker.url, printer.spec, "caller",
                                  files.secrets["caller"])
    kiosk_config = device_config(tmp_path / "kiosk", broker.url, printer.spec, "kiosk-k1",
                                 files.secrets["kiosk-k1"])
    caller_args = ["caller", "--config", str(caller_config), "--audio", "none",
                   "--db", str(tmp_path / "caller.db")]
    office = Office(broker.port, files.secrets["web"])
    office.connect()
    assert office.subscribe(T.ticket_all) and office.subscribe(T.status_all)
    daemons = {"caller": start_daemon("caller", caller_args, logs),
               "kiosk": start_daemon("kiosk", ["kiosk", "--config", str(kiosk_config), "--keyboard"],
                                     logs)}
    attacker = Device(broker.port, "counter-1", files.secrets["counter-1"].read_text().strip())
    try:
        assert eventually(lambda: office.health(CALLER) and office.health(KIOSK).get("outbox") == 0,
                          timeout=30), log_of(logs, "caller") + log_of(logs, "kiosk")
        # The caller away: its persistent session queues for it, up to the limit.
        daemons["caller"].terminate()
        assert daemons["caller"].wait(20) == 0, log_of(logs, "caller")

        attacker.client.max_inflight_messages_set(1000)
        attacker.connect()

        def flood(count: int) -> None:
            infos = [attacker.client.publish(T.counter_cmd("1"), b"flood", qos=1) for _ in range(count)]
            for info in infos:
                info.wait_for_publish(120)
                assert info.is_published()

        flood(limit + 50)
        assert "Outgoing messages are being dropped for client caller" in broker.log.read_text(
            errors="replace"), "the flood did not fill the caller's queue"
        daemons["kiosk"].stdin.write(b"1")              # a citizen takes a ticket mid-flood
        daemons["kiosk"].stdin.flush()
        assert eventually(lambda: len(office.tickets()) == 1, timeout=30), log_of(logs, "kiosk")
        assert eventually(lambda: printer.data, timeout=30)
        printed = office.tickets()[0]
        flood(50)
        assert office.health(KIOSK).get("outbox", 0) >= 1 or eventually(
            lambda: office.health(KIOSK).get("outbox", 0) >= 1, timeout=15)
        attacker.close()

        daemons["caller"] = start_daemon("caller-again", caller_args, logs)
        delivered = eventually(lambda: office.health(KIOSK).get("outbox") == 0
                               and office.health(CALLER).get("waiting") == 1, timeout=60)
        assert delivered, (office.health(KIOSK), office.health(CALLER), log_of(logs, "caller-again"))
        # The broker handed over exactly its queue's worth of the flood (each logged and dropped
        # as malformed): the ticket's first copy, sent beyond the limit, was not among them.
        assert eventually(lambda: office.health(CALLER).get("dropped") == limit, timeout=30), \
            repr(office.health(CALLER))
    finally:
        attacker.close()
        for process in daemons.values():
            if process.poll() is None:
                process.terminate()
        codes = {name: process.wait(20) for name, process in daemons.items()}
        office.close()
        broker.stop()
    assert codes == dict.fromkeys(daemons, 0), log_of(logs, "caller-again")[-3000:]
    with sqlite3.connect(tmp_path / "caller.db") as db:
        logged = [row[0] for row in db.execute("SELECT msg_id FROM events WHERE kind = 'ticket'")]
    assert logged == [printed.id]               # queued once, the very ticket that was printed
