"""The MQTT link every daemon uses: one paho client, one owner thread.

paho's network thread never does the daemon's work: its callbacks only put
events on the daemon's inbox queue and return (paho #527, #354). Subscriptions
are made inside ``on_connect`` so they come back after every reconnect. Each
daemon announces itself on ``status/<role>/<device>`` (retained) with a Last
Will that says offline.

A daemon is never silent while the broker is away: a watcher thread of the link logs a
warning within seconds naming the broker and why it cannot be reached (name unknown,
connection refused, no answer, refused by the broker), repeated with a growing interval,
and puts a ``LinkDown`` on the inbox even when the link never came up, so the kiosk's LED,
the pad and the board show "no hub" (docs/reliability.md).

A daemon whose latency matters (the caller) may instead poll the link on its owner thread
(``Link(..., inbox=WakingQueue(), owner_polls=True)`` and ``poll()`` in its loop): paho's
callbacks and writes then run on that thread, so a message reaches the daemon's code and
its answer reaches the socket without two thread hand-overs (about 0.2 ms each on a
loaded Pi, and the GIL in between).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .config import BrokerSettings
from .daemon import request_stop
from .errors import ProtocolError
from .protocol import Status, Topics, encode, new_id

log = logging.getLogger(__name__)

RECONNECT_MIN_S, RECONNECT_MAX_S = 1.0, 15.0
READ_AHEAD = 500          # packets read in one poll at most
FIRST_WARNING_S = 3.0     # the broker away this long: say so (with the diagnosis, within 5 s)
MAX_WARNING_S = 300.0     # then again after 6, 12, 24 … s, at least every 5 minutes
WATCH_TICK_S = 0.25
PROBE_TIMEOUT_S = 1.5


class AbsenceWarnings:
    """When to warn that the broker is away (pure: monotonic times in, decisions out)."""

    def __init__(self, now: float) -> None:
        self.reset(now)

    def reset(self, now: float) -> None:
        """The link is up (or starting): the next absence is counted from ``now``."""
        self.since = now
        self.interval = FIRST_WARNING_S
        self.next_at = now + FIRST_WARNING_S
        self.count = 0

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def warned(self, now: float) -> None:
        self.count += 1
        self.interval = min(self.interval * 2, MAX_WARNING_S)
        self.next_at = now + self.interval


def diagnose(host: str, port: int, *, tls: bool, refusal: str | None = None,
             error: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> str:
    """Why the broker at host:port cannot be used, in words a technician can act on."""
    if refusal:
        return f"the broker refused the connection: {refusal} (check broker.username and password_file)"
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot find the host {host!r} ({exc.strerror}): check broker.url and the network"
    except OSError as exc:
        return f"cannot look up {host!r}: {exc}"
    family, kind, proto, _, address = addresses[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.settimeout(timeout)
            probe.connect(address)
    except ConnectionRefusedError:
        return f"connection refused: nothing listens on {host}:{port} (is Mosquitto running there?)"
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout:g} s (hub off, or another network?)"
    except OSError as exc:
        return f"cannot reach {host}:{port}: {exc.strerror or exc}"
    if error:
        return f"{host}:{port} answers but the connection failed: {error}"
    what = "the TLS handshake or MQTT" if tls else "MQTT"
    return f"{host}:{port} answers but {what} did not complete (wrong port{', ca_file' if tls else ''}?)"


class WakingQueue(queue.Queue[Any]):
    """A daemon's inbox that also wakes its owner thread out of ``Link.poll``."""

    def __init__(self) -> None:
        super().__init__()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        self.wake()

    def wake(self) -> None:
        """Wake the owner without an item (another thread changed something it checks)."""
        with contextlib.suppress(OSError):      # full: a wake-up is pending anyway
            self._wake_write.send(b"\0")

    def fileno(self) -> int:
        return self._wake_read.fileno()

    def clear_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_read.recv(4096):
                pass

    def close(self) -> None:
        self._wake_read.close()
        self._wake_write.close()


@dataclass(frozen=True)
class Inbound:
    """A message from the broker, waiting on the owner thread's inbox."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool


@dataclass(frozen=True)
class LinkUp:
    """The link (re)connected; subscriptions are in place."""

    session_present: bool


@dataclass(frozen=True)
class LinkDown:
    """The link dropped; paho reconnects by itself."""

    reason: str


@dataclass(frozen=True)
class Published:
    """The broker acknowledged a QoS 1 publish (PUBACK) with this message id."""

    mid: int


class Link:
    """A daemon's connection to the broker."""

    def __init__(
        self,
        broker: BrokerSettings,
        topics: Topics,
        *,
        role: str,
        device: str,
        inbox: queue.Queue[Any],
        subscriptions: Sequence[tuple[str, int]] = (),
        persistent_session: bool = False,
        manual_ack: bool = False,
        report_publishes: bool = False,
        owner_polls: bool = False,
        on_twin: Callable[[str], None] | None = None,
    ) -> None:
        self.broker = broker
        self.topics = topics
        self.role = role
        self.device = device
        self.inbox = inbox
        self.subscriptions = list(subscriptions)
        self.manual_ack = manual_ack
        self.report_publishes = report_publishes
        self.owner_polls = owner_polls
        self._retry_at = 0.0
        self._retry_delay = RECONNECT_MIN_S
        self.connected = threading.Event()
        self.status_topic = topics.status(role, device)
        self._health: dict[str, Any] = {}
        # Two daemons with one identity (a second kiosk k1, a second caller): each run has an
        # instance id; the newer run stops, the older one says so on its status topic.
        self.instance = new_id()[:12]
        self.started = datetime.now().astimezone().isoformat(timespec="microseconds")
        self.on_twin = on_twin or request_stop
        self.twin: str | None = None            # set in the newer run, which then stays away
        self.duplicate: str | None = None       # set in the older run, shown in its status
        self._connects = 0
        # The broker makes a client's id its user name (use_username_as_clientid); without an
        # account (a test bench) the id still names the site, role and device.
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=broker.username or f"motcua-{topics.root.split('/')[1]}-{role}-{device}",
            clean_session=not persistent_session,
            protocol=mqtt.MQTTv311,
            manual_ack=manual_ack,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=15)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password())
        if broker.tls:
            self.client.tls_set(ca_certs=str(broker.ca_file) if broker.ca_file else None,
                                cert_reqs=ssl.CERT_REQUIRED)
        self.client.will_set(self.status_topic, self._status_payload("offline"), qos=1,
                             retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self._subscribe_mid: int | None = None
        self._session_present = False
        self._refusal: str | None = None          # the last CONNACK's refusal, for the warning
        self._last_error: str | None = None       # the last failed connect (owner-polled links)
        self._down_told = False                   # the inbox has heard LinkDown for this absence
        self._stop_watch = threading.Event()
        self._stopping = False                    # stop() called: a disconnect is ours
        # "online" (paho's thread) and stop()'s "offline" never cross: the last word is offline.
        self._status_lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; the inbox hears LinkUp once connected."""
        log.info("connecting to %s as %s/%s", self.broker.url, self.role, self.device)
        self.client.connect_async(self.broker.host, self.broker.port,
                                  keepalive=self.broker.keepalive)
        if not self.owner_polls:
            self.client.loop_start()
        self._watcher = threading.Thread(target=self._watch, name="motcua-link-watch", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        """Our own thread: warn while the broker is away; it logs and enqueues, nothing else."""
        warnings = AbsenceWarnings(time.monotonic())
        while not self._stop_watch.wait(WATCH_TICK_S):
            now = time.monotonic()
            if self.connected.is_set():
                if warnings.count:
                    log.warning("broker %s reachable again after %.0f s", self.broker.url,
                                now - warnings.since)
                warnings.reset(now)
                continue
            if not warnings.due(now):
                continue
            reason = diagnose(self.broker.host, self.broker.port, tls=self.broker.tls,
                              refusal=self._refusal, error=self._last_error)
            if self._stop_watch.is_set() or self.connected.is_set():
                continue
            away = time.monotonic() - warnings.since
            warnings.warned(time.monotonic())
            log.warning("no broker at %s for %.0f s: %s; still trying (next warning in %.0f s)",
                        self.broker.url, away, reason, warnings.interval)
            if not self._down_told:
                self._down_told = True
                self.inbox.put(LinkDown(reason=f"{self.broker.url}: {reason}"))

    def poll(self, timeout: float) -> None:
        """One turn of the network loop on the owner thread (``owner_polls`` links only).

        Waits up to ``timeout`` for the broker or the inbox, reads and writes what is
        ready (callbacks run here and only enqueue), keeps the connection alive, and
        reconnects with a growing delay while the broker is away.
        """
        client = self.client
        if client.socket() is None and time.monotonic() >= self._retry_at and self.twin is None:
            self._connect()
        sock = client.socket()
        readers: list[Any] = [self.inbox] if isinstance(self.inbox, WakingQueue) else []
        writers: list[Any] = []
        if not self.inbox.empty():
            timeout = 0.0
        if sock is None:
            timeout = min(timeout, max(0.0, self._retry_at - time.monotonic()))
        else:
            readers.append(sock)
            if client.want_write():
                writers.append(sock)
            if getattr(sock, "pending", lambda: 0)():
                timeout = 0.0            # TLS bytes already decrypted, waiting to be read
        try:
            readable, writable, _ = select.select(readers, writers, [], timeout)
        except (OSError, ValueError):   # the socket was closed under us
            readable, writable = [], []
        if isinstance(self.inbox, WakingQueue) and self.inbox in readable:
            self.inbox.clear_wake()
        if sock is None or client.socket() is not sock:
            return
        if sock in readable or getattr(sock, "pending", lambda: 0)():
            # Everything the socket holds now (paho reads one packet per call), so that a
            # burst is handled — and committed — in batches, not one message per turn.
            for _ in range(READ_AHEAD):
                client.loop_read()
                if client.socket() is not sock or not (
                        getattr(sock, "pending", lambda: 0)() or select.select([sock], [], [], 0)[0]):
                    break
        if client.socket() is sock and (sock in writable or client.want_write()):
            client.loop_write()
        if client.socket() is sock:
            client.loop_misc()
        if client.socket() is None:      # lost, or refused (a good CONNACK resets the delay)
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, RECONNECT_MAX_S)

    def _connect(self) -> None:
        try:
            self.client.reconnect()
        except (OSError, ssl.SSLError) as exc:
            self._last_error = str(exc)
            if self._retry_delay == RECONNECT_MIN_S:
                log.warning("broker %s not reachable: %s; retrying", self.broker.url, exc)
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, RECONNECT_MAX_S)

    def stop(self) -> None:
        """Say offline on purpose (the Will is for crashes) and disconnect."""
        self._stop_watch.set()
        with self._status_lock:
            self._stopping = True
            # Not only once ready: "online" goes out just before (_on_subscribe), and a clean
            # disconnect after it without "offline" would leave "online" retained.
            say_offline = self.connected.is_set() or self.client.is_connected()
        try:
            if say_offline:
                info = self.client.publish(self.status_topic, self._status_payload("offline"),
                                           qos=1, retain=True)
                if self.owner_polls:
                    deadline = time.monotonic() + 2
                    while not info.is_published() and time.monotonic() < deadline \
                            and self.client.socket() is not None:
                        self.poll(0.05)
                else:
                    info.wait_for_publish(timeout=2)
            self.client.disconnect()
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning("disconnect: %s", exc)
        finally:
            if not self.owner_polls:
                self.client.loop_stop()

    # -- owner-thread API ------------------------------------------------------
    def publish(self, topic: str, payload: bytes, *, qos: int = 1,
                retain: bool = False) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def ack(self, message: Inbound) -> None:
        """Acknowledge a message once its effect is durable (manual-ack links)."""
        if self.manual_ack and message.qos > 0:
            self.client.ack(message.mid, message.qos)

    def ack_all(self, messages: Sequence[Inbound]) -> None:
        """Acknowledge a batch in one write (manual-ack links): paho sends each PUBACK with a
        system call of its own, which at thousands of messages a second costs more than the
        messages' own work (the centre, docs/central.md)."""
        if not self.manual_ack:
            return
        mids = [message.mid for message in messages if message.qos == 1]
        if len(mids) < len(messages):         # QoS 2 (never used by motcua): paho's own way
            for message in messages:
                if message.qos == 2:
                    self.client.ack(message.mid, message.qos)
        if mids:
            # The PUBACKs paho's ack() would queue (MQTT 3.1.1 §3.4), queued as one packet.
            packets = b"".join(b"\x40\x02" + mid.to_bytes(2, "big") for mid in mids)
            self.client._packet_queue(mqtt.PUBACK, packets, 0, 1)

    def set_health(self, **health: Any) -> None:
        """Publish the daemon's health (retained) if anything changed."""
        merged = {**self._health, **health}
        if merged == self._health:
            return
        self._health = merged
        if self.connected.is_set():
            self.publish(self.status_topic, self._status_payload("online"), retain=True)

    @property
    def health(self) -> dict[str, Any]:
        return dict(self._health)

    def _status_payload(self, state: str) -> bytes:
        at = datetime.now().astimezone().isoformat(timespec="seconds")
        return encode(Status(role=self.role, device=self.device, state=state, at=at,
                             health=self._health if state == "online" else {},
                             instance=self.instance, started=self.started,
                             duplicate=self.twin or self.duplicate))

    # -- paho's thread: enqueue and return --------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            log.error("broker %s refused the connection: %s", self.broker.url, reason)
            self._refusal = str(reason)
            return
        self._refusal = None
        self._retry_delay = RECONNECT_MIN_S
        # Small messages go out at once: with Nagle's algorithm an ack followed by a publish
        # waits for the broker's delayed ACK (about 40 ms each time); paho leaves Nagle on.
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connects += 1
        self._session_present = bool(flags.session_present)
        # Our own status topic too (last: amqtt, the demo's broker, mixes up retained
        # messages when it comes first): what another run with our identity left there is
        # retained, and read before our own status, sent after the SUBACK, replaces it.
        _, self._subscribe_mid = client.subscribe([*self.subscriptions, (self.status_topic, 1)])

    def _ready(self) -> None:
        self._down_told = False
        self.connected.set()
        self.inbox.put(LinkUp(session_present=self._session_present))

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any,
                      properties: Any) -> None:
        if mid == self._subscribe_mid:
            failed = [str(r) for r in reasons if getattr(r, "is_failure", False)]
            if failed:
                log.error("broker %s refused a subscription: %s", self.broker.url, ", ".join(failed))
            with self._status_lock:
                if self.twin is not None or self._stopping:
                    return
                client.publish(self.status_topic, self._status_payload("online"), qos=1, retain=True)
            self._ready()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        was_up = self.connected.is_set()
        self.connected.clear()
        if self._stopping:
            log.info("disconnected from %s", self.broker.url)
        elif was_up:
            log.warning("lost the broker %s: %s", self.broker.url, reason)
            self._down_told = True
            self.inbox.put(LinkDown(reason=str(reason)))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.status_topic:
            self._own_status(bytes(message.payload), bool(message.retain))
            if not any(mqtt.topic_matches_sub(sub, message.topic) for sub, _ in self.subscriptions):
                # The daemon never sees it, so never acks it: an unacked message would hold one
                # of the broker's in-flight slots for this session for ever.
                if self.manual_ack and message.qos > 0:
                    client.ack(message.mid, message.qos)
                return
        self.inbox.put(Inbound(topic=message.topic, payload=bytes(message.payload),
                               mid=message.mid, qos=message.qos, retain=bool(message.retain)))

    def _own_status(self, payload: bytes, retained: bool) -> None:
        """Another run's status left on ours while we were away from the broker: a second
        device with our identity took our connection (the broker allows one per account).

        Only the retained status read on a reconnect counts: before our first connection it is
        the previous run's, and a persistent session also hands over that run's queued copies.
        """
        try:
            other = Status.decode(payload)
        except ProtocolError:
            return
        if not retained or self._connects < 2 or other.instance in (None, self.instance):
            return
        if self.twin is not None:
            return
        mine = (_moment(self.started), self.instance)
        theirs = (_moment(other.started), other.instance)
        who = f"a second {self.role} {self.device!r}"
        if theirs < mine:               # we are the newer run: we stop
            self.twin = (f"{who} (instance {self.instance}, started {self.started}) was "
                         f"stopped: instance {other.instance} started at {other.started} "
                         "already uses this identity; give each device its own id and account")
            log.error("%s", self.twin)
            self.client.publish(self.status_topic, self._status_payload("offline"), qos=1, retain=True)
            self.client.disconnect()
            self.connected.clear()
            self.inbox.put(LinkDown(reason="a second device with this identity"))
            self.on_twin(self.twin)
        elif self.duplicate is None:
            self.duplicate = (f"{who} (instance {other.instance}, started {other.started}) "
                              "connected with this identity and was told to stop")
            log.error("%s", self.duplicate)
            self.client.publish(self.status_topic, self._status_payload("online"), qos=1, retain=True)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any,
                    properties: Any) -> None:
        if self.report_publishes:
            self.inbox.put(Published(mid=mid))


def _moment(stamp: str | None) -> datetime:
    """A run's start for ordering; an unknown one counts as the oldest."""
    try:
        return datetime.fromisoformat(stamp) if stamp else datetime.min.replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
