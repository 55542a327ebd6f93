"""Real parts for tests: a Mosquitto broker on a free port, a fake network printer.

Nothing here is a mock: the broker is the real mosquitto binary, and the printer
is a TCP server that keeps every byte, as a networked ESC/POS printer on port
9100 would receive them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "liem-chung.toml"
SHIPPED_CONF = REPO / "systemd" / "mosquitto" / "motcua.conf"
# Lines of the shipped config that belong to the hub's own files and ports, not to the
# broker's behaviour: the rig puts its own listener (and accounts, when asked) in their place.
_HUB_ONLY = {"listener", "cafile", "certfile", "keyfile", "tls_version", "max_connections",
             "password_file", "acl_file", "allow_anonymous"}


def shipped_settings(*, leave_out: set[str] = frozenset()) -> str:
    """The hub's broker settings (systemd/mosquitto/motcua.conf) without its listeners, files
    and accounts, so that tests and benches measure what a hub runs."""
    lines = []
    for line in SHIPPED_CONF.read_text(encoding="utf-8").splitlines():
        key = line.split(maxsplit=1)[0] if line.strip() and not line.startswith("#") else ""
        if key and key not in _HUB_ONLY and key not in leave_out:
            lines.append(line)
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            threading.Event().wait(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


class Mosquitto:
    """A real mosquitto process; restartable on the same port with its persistence.

    It runs the hub's shipped settings (limits, persistence, client ids bound to user names);
    ``passwords`` and ``acl`` (from ``motcua broker-config``) switch anonymous access off as
    on a hub, otherwise anonymous clients are let in. A setting named in ``extra_config``
    replaces the shipped one.
    """

    def __init__(self, workdir: Path, *, extra_config: str = "", passwords: Path | None = None,
                 acl: Path | None = None) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise RuntimeError("mosquitto is not installed (apt install mosquitto)")
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.extra_config = extra_config
        self.passwords, self.acl = passwords, acl
        self.process: subprocess.Popen | None = None
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        default = ""
        if self.passwords is not None:
            default += f"allow_anonymous false\npassword_file {self.passwords}\n"
            if self.acl is not None:
                default += f"acl_file {self.acl}\n"
        elif "allow_anonymous" not in self.extra_config:
            default += "allow_anonymous true\n"
        # Run as root, mosquitto drops to the "mosquitto" user, which cannot save its
        # persistence into pytest's private tmp dirs: stay root in tests.
        if os.geteuid() == 0 and "\nuser " not in f"\n{self.extra_config}":
            default += "user root\n"
        # Mosquitto refuses a client without a user name when client ids are user names.
        self._not_anonymous = {"per_listener_settings"} | (
            set() if self.passwords is not None else {"use_username_as_clientid"})
        overridden = {line.split(maxsplit=1)[0] for line in self.extra_config.splitlines()
                      if line.strip() and not line.startswith("#")}
        self.conf.write_text(
            "per_listener_settings false\n"
            f"listener {self.port} 127.0.0.1\n"
            f"{default}"
            f"persistence_location {self.workdir}/\n"
            f"{shipped_settings(leave_out=overridden | self._not_anonymous)}"
            f"{self.extra_config}\n"
        )

    def start(self) -> None:
        self.write_config()
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.conf)],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class FakePrinter:
    """A TCP printer on loopback that records what each connection sent.

    ``status_reply`` answers the ESC/POS real-time status requests (DLE EOT n)
    the way a printer would; ``paper_out`` makes it answer "paper end", ``cover_open``
    "offline, cover open".
    ``close_after`` closes the next connection after that many bytes.
    ``on_status(job)``, if set, runs on the printer's thread when a status request arrives,
    before the answer, with the connection's bytes so far: a test acts at a step of the
    kiosk's print path there (the kiosk waits for the answer), e.g. kills it.
    """

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.jobs: list[bytearray] = []
        self.paper_out = False
        self.cover_open = False
        self.close_after: int | None = None
        self.on_status: Callable[[bytes], None] | None = None
        self.received = threading.Condition()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def spec(self) -> str:
        return f"network:127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        job = bytearray()
        with self.received:
            self.jobs.append(job)
        limit, self.close_after = self.close_after, None
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                with self.received:
                    job.extend(chunk)
                    self.received.notify_all()
                if self.on_status is not None and re.search(rb"\x10\x04[\x01-\x04]", chunk):
                    self.on_status(bytes(job))
                try:
                    for reply in self._status_replies(chunk):
                        conn.sendall(reply)
                except OSError:            # the kiosk went away (a test killed it)
                    break
                if limit is not None and len(job) >= limit:
                    break

    def _status_replies(self, chunk: bytes) -> list[bytes]:
        replies = []
        for n in (1, 2, 3, 4):
            for _ in range(chunk.count(bytes([0x10, 0x04, n]))):
                if n == 4 and self.paper_out:
                    replies.append(bytes([0x7E]))   # paper end sensor: paper out
                elif self.cover_open and n in (1, 2):
                    replies.append(bytes([0x1A if n == 1 else 0x16]))   # offline; cause: cover open
                elif n == 4:
                    replies.append(bytes([0x12]))   # paper present
                else:
                    replies.append(bytes([0x12]))   # online, no error
        return replies

    def data(self) -> bytes:
        with self.received:
            return b"".join(bytes(job) for job in self.jobs)

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until predicate(all bytes so far) is true."""
        with self.received:
            return self.received.wait_for(
                lambda: predicate(b"".join(bytes(j) for j in self.jobs)), timeout=timeout)

    def close(self) -> None:
        self._stopped.set()
        self.server.close()


class Listener:
    """A plain paho client that records every message on some topics, for assertions."""

    def __init__(self, broker_url: str, *topics: str, client_id: str | None = None) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        host, port = broker_url.removeprefix("mqtt://").split(":")
        self.messages: list[tuple[str, bytes, bool]] = []
        self.changed = threading.Condition()
        self.topics = topics
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  clean_session=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self.connected.clear()
        self.client.on_message = self._on_message
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        # paho's default backoff doubles to 120 s: after a broker stopped for 15 s the listener
        # came back later than the test's wait (a flaky failure). A test broker is local.
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect(host, int(port))
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise TimeoutError("listener did not subscribe")

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        client.subscribe([(topic, 1) for topic in self.topics])
        self.connected.set()

    def _on_message(self, client, userdata, message) -> None:
        with self.changed:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))
            self.changed.notify_all()

    def payloads(self, topic: str) -> list[bytes]:
        with self.changed:
            return [payload for t, payload, _ in self.messages if t == topic]

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until predicate(listener) is true."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout=timeout)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        # After a broker restart paho reconnects in the background: publish once it has.
        assert self.connected.wait(20), "the listener did not reconnect to the broker"
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def write_site_config(directory: Path, *, broker_url: str = "mqtt://127.0.0.1:1883",
                      printer: str | None = None, extra: str = "") -> Path:
    """The example office config, pointed at a test broker and a temporary state dir."""
    text = EXAMPLE.read_text(encoding="utf-8")
    state = directory / "state"
    state.mkdir(parents=True, exist_ok=True)
    text = re.sub(r'(?m)^state_dir = .*$', f'state_dir = "{state}"', text)
    text = re.sub(r'(?m)^url = .*$', f'url = "{broker_url}"', text)
    if printer is not None:
        text = re.sub(r'(?m)^printer = .*$', f'printer = "{printer}"', text)
    path = directory / "site.toml"
    path.write_text(text + "\n" + extra, encoding="utf-8")
    return path


def start_daemon(name: str, args: list[str], logs: Path) -> subprocess.Popen:
    """``motcua <args>`` as its own process: keys on its stdin, output in logs/<name>.log."""
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "motcua.cli", *args], stdin=subprocess.PIPE,
        stdout=(logs / f"{name}.log").open("wb"), stderr=subprocess.STDOUT,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"})


def resident_kb(pid: int) -> int:
    """The process's resident set (VmRSS) in kB, as the kernel counts it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def next_of(inbox: queue.Queue, kind: type, timeout: float = 10.0):
    """The next item of this type from a link's inbox, passing over the others."""
    while True:
        item = inbox.get(timeout=timeout)
        if isinstance(item, kind):
            return item


def eventually(predicate, timeout: float = 10.0) -> bool:
    """Wait for a condition on state that notifies nobody (a database, a daemon's fields)."""
    deadline, pause = time.monotonic() + timeout, threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.01)
    return True


class Subscriber:
    """A subscriber with a persistent session, as the caller has: the broker keeps its messages
    across its own restart and while this client reconnects."""

    def __init__(self, port: int, *topics: str, client_id: str = "test-caller",
                 confirm: bool = True) -> None:
        """``confirm``: like the caller, list each message's id on ``received`` (the senders
        keep a message until the caller confirms it, docs/protocol.md)."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.confirm = confirm
        self.messages: list[tuple[str, bytes]] = []
        self.changed = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.reconnect_delay_set(0.2, 1)
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def _on_message(self, client, userdata, message) -> None:
        with self.changed:
            self.messages.append((message.topic, bytes(message.payload)))
            self.changed.notify_all()
        if self.confirm:
            from motcua.protocol import Received, Topics, encode, message_id

            msg_id = message_id(bytes(message.payload))
            if msg_id is not None:
                root = "/".join(message.topic.split("/")[:2])
                client.publish(Topics(root.split("/")[1]).received, encode(Received(ids=[msg_id])), qos=1)

    def decoded(self, topic: str, kind) -> list:
        with self.changed:
            return [kind.decode(payload) for t, payload in self.messages if t == topic]

    def wait_for(self, topic: str, kind, count: int, timeout: float = 15) -> list:
        """The first ``count`` distinct messages (by id) on ``topic``, once they are in."""
        def distinct() -> list:
            seen: dict[str, object] = {}
            for message in self.decoded(topic, kind):
                seen.setdefault(message.id, message)
            return list(seen.values())

        with self.changed:
            self.changed.wait_for(lambda: len(distinct()) >= count, timeout)
        return distinct()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class KioskProcess:
    """`motcua kiosk --keyboard` as its own process, its log read from its stderr.

    :meth:`stall_log` fills the stderr pipe: the kiosk's next log line blocks, as when
    whatever reads its log stops. The line after a number's commit ("ticket N (...)
    allocated") is the next thing it writes, so a press then stops it between that commit
    and the next (the intent to print), to be killed there.
    """

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        read_end, write_end = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "motcua.cli", "kiosk", "--config", str(config), "--keyboard"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=write_end)
        self._pipe_in = write_end            # kept: the filler writes into the same pipe
        self._pipe_out = read_end
        self._reading = threading.Event()
        self._reading.set()
        self._paused = threading.Event()
        self._copier = threading.Thread(target=self._copy, args=(log.open("wb"),), daemon=True)
        self._copier.start()

    def _copy(self, out) -> None:
        with out:
            while self._reading.is_set():
                readable, _, _ = select.select([self._pipe_out], [], [], 0.05)
                if not readable:
                    if self.process.poll() is not None and not self._buffered():
                        self._close_pipe()          # the kiosk ended and all it wrote is copied
                        return
                    continue
                out.write(os.read(self._pipe_out, 65536))
                out.flush()
        self._paused.set()

    def _buffered(self) -> int:
        """Bytes in the pipe not read yet."""
        return struct.unpack("i", fcntl.ioctl(self._pipe_out, termios.FIONREAD, b"\0" * 4))[0]

    def _close_pipe(self) -> None:
        for fd in (self._pipe_out, self._pipe_in):
            with contextlib.suppress(OSError):
                os.close(fd)

    def stall_log(self) -> None:
        """Stop reading the kiosk's log and fill the pipe: its next log line blocks."""
        self._reading.clear()
        assert self._paused.wait(10), "the log copier did not stop"
        size = fcntl.fcntl(self._pipe_in, 1032)          # F_GETPIPE_SZ
        # A write into a full pipe blocks (here as in the kiosk): a daemon thread does it, and
        # gets EPIPE once the kiosk is gone and the pipe closed (kill).
        threading.Thread(target=self._fill, args=(size,), daemon=True).start()
        deadline, pause = time.monotonic() + 10, threading.Event()
        # Full: every page of the pipe is taken (poll says "not writable"), the filler blocked.
        while select.select([], [self._pipe_in], [], 0)[1]:
            assert time.monotonic() < deadline, "the kiosk's log pipe did not fill"
            pause.wait(0.01)

    def _fill(self, size: int) -> None:
        with contextlib.suppress(OSError):
            os.write(self._pipe_in, b"\n" * size)

    def keys(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def text(self) -> str:
        if self.process.poll() is not None and self._reading.is_set():
            self._copier.join(10)          # the kiosk ended: its last lines are in the file
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, text: str, timeout: float = 20.0) -> bool:
        deadline, pause = time.monotonic() + timeout, threading.Event()
        while text not in self.text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                return text in self.text()
            pause.wait(0.02)
        return True

    def settled(self) -> bool:
        """Connected, and (with a new database) past reading the broker's record of numbers:
        a press is handled at once, with nothing else left to log."""
        if not self.wait_log("broker connected"):
            return False
        if "the ticket database is new" in self.text():
            return self.wait_log("numbers start afresh") or self.wait_log("is read: tickets are given")
        return True

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        if not self._reading.is_set():             # stalled: the copier is not there to close it
            self._close_pipe()
