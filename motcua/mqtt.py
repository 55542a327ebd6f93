"""The MQTT link every daemon uses: one paho client, one owner thread.

paho never does the daemon's work: its callbacks only put events on the daemon's inbox
queue and return (paho #527, #354). Both kinds of link share those callbacks (:class:`Link`):
subscriptions are made inside ``on_connect`` so they come back after every reconnect;
``LinkUp`` goes on the inbox once they are acknowledged, ``LinkDown`` when the connection
ends, ``Published`` for each PUBACK when the owner asks for them. Each daemon announces
itself on ``status/<role>/<device>`` (retained) with a Last Will that says offline, and reads
that topic back to notice a second device with its identity.

- :class:`ThreadedLink`: paho's own network thread (``loop_start``); its reconnect policy
  is paho's backoff (``reconnect_delay_set``).
- :class:`OwnerPolledLink`: the owner thread calls ``poll`` in its loop, which waits for
  the broker or the inbox (a :class:`WakingQueue`) and runs paho's ``loop()``; paho's
  callbacks and writes then run on that thread, so a message reaches the daemon's code and
  its answer reaches the socket without two thread hand-overs (about 0.2 ms each on a
  loaded Pi, and the GIL in between). Used by the caller, whose latency matters. Its
  reconnect policy is :class:`Backoff`, the same rule and figures as paho's.

The state (:class:`LinkState`) comes from what paho answers: the CONNACK's reason code
(accepted or refused), the disconnect's reason, and for the owner-polled link the
``MQTTErrorCode`` of ``reconnect()`` and ``loop()``.

A daemon is never silent while the broker is away: a watcher thread of the link logs a
warning within seconds naming the broker and why it cannot be reached (name unknown,
connection refused, no answer, refused by the broker), repeated with a growing interval,
and puts a ``LinkDown`` on the inbox even when the link never came up, so the kiosk's LED,
the pad and the board show "no hub" (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import queue
import select
import socket
import ssl
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

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
    """A daemon's inbox that also wakes its owner thread out of ``OwnerPolledLink.poll``."""

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
    # The link's connection it came on (Link._connects): its mid means nothing on another.
    connection: int = 0


@dataclass(frozen=True)
class LinkUp:
    """The link (re)connected; subscriptions are in place."""

    session_present: bool


@dataclass(frozen=True)
class LinkDown:
    """The link dropped, or never came up: the link's policy reconnects by itself."""

    reason: str


@dataclass(frozen=True)
class Published:
    """The broker acknowledged a QoS 1 publish (PUBACK) with this message id."""

    mid: int


class Session(enum.Enum):
    """What the broker keeps for a daemon while it is away, and when a message is done."""

    CLEAN = "clean"                        # nothing: retained messages say what is current
    KEPT = "kept"                          # QoS 1 messages wait at the broker while it is away
    KEPT_UNTIL_ACKED = "kept-until-acked"  # and each is acknowledged by ``ack()`` once durable


class LinkState(enum.Enum):
    """Where the link is, as paho's return and reason codes say."""

    CONNECTING = "connecting"    # a connection is being made (or was accepted, subscribing)
    UP = "up"                    # accepted and subscribed: the inbox heard LinkUp
    DOWN = "down"                # no connection (none made, or lost): the policy retries
    REFUSED = "refused"          # the broker answered and refused (CONNACK): retried as DOWN
    STOPPED = "stopped"          # stop(), or a second device with this identity: no retries


class Backoff:
    """The owner-polled link's reconnect policy, paho's own rule: the first retry after
    ``min_s``, each failed one doubling the wait up to ``max_s``; an accepted CONNACK
    starts again from ``min_s`` (pure: no clock)."""

    def __init__(self, min_s: float = RECONNECT_MIN_S, max_s: float = RECONNECT_MAX_S) -> None:
        self.min_s, self.max_s = min_s, max_s
        self._delay: float | None = None

    def next_delay(self) -> float:
        """The wait before the next attempt, after a failed or lost one."""
        self._delay = self.min_s if self._delay is None else min(self._delay * 2, self.max_s)
        return self._delay

    def reset(self) -> None:
        self._delay = None


class Link(ABC):
    """A daemon's connection to the broker: what both kinds share (the paho client, its
    callbacks, status and Last Will, health, publish and ack). Use :class:`ThreadedLink`
    or :class:`OwnerPolledLink`."""

    def __init__(
        self,
        broker: BrokerSettings,
        topics: Topics,
        *,
        role: str,
        device: str,
        inbox: queue.Queue[Any],
        subscriptions: Sequence[tuple[str, int]] = (),
        session: Session = Session.CLEAN,
        report_publishes: bool = False,
        on_twin: Callable[[str], None] | None = None,
    ) -> None:
        self.broker = broker
        self.topics = topics
        self.role = role
        self.device = device
        self.inbox = inbox
        self.subscriptions = list(subscriptions)
        self.session = session
        self.report_publishes = report_publishes
        self._state = LinkState.DOWN
        self.connected = threading.Event()        # state UP, for other threads to wait on
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
        self.client = login_client(
            broker,
            client_id=broker.username or f"motcua-{topics.root.split('/')[1]}-{role}-{device}",
            clean_session=session is Session.CLEAN,
            manual_ack=session is Session.KEPT_UNTIL_ACKED,
        )
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        self.client.will_set(self.status_topic, self._status_payload("offline"), qos=1,
                             retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self._subscribe_mid: int | None = None
        self._session_present = False
        self._refusal: str | None = None          # the last CONNACK's refusal, while REFUSED
        self._refused_now = False                 # this attempt's CONNACK refused it
        self._last_error: str | None = None       # the last failed connect (owner-polled links)
        self._down_told = False                   # the inbox has heard LinkDown for this absence
        self._stop_watch = threading.Event()
        self._stopping = False                    # stop() called: a disconnect is ours
        # "online" (paho's thread) and stop()'s "offline" never cross: the last word is offline.
        self._status_lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    @property
    def state(self) -> LinkState:
        return self._state

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; the inbox hears LinkUp once connected."""
        log.info("connecting to %s as %s/%s", self.broker.url, self.role, self.device)
        self._state = LinkState.CONNECTING
        self.client.connect_async(self.broker.host, self.broker.port,
                                  keepalive=self.broker.keepalive)
        self._run()
        self._watcher = threading.Thread(target=self._watch, name="motcua-link-watch", daemon=True)
        self._watcher.start()

    @abstractmethod
    def _run(self) -> None:
        """Start the network loop (the first connection is asked for)."""

    @abstractmethod
    def _publish_offline(self) -> None:
        """On stop: "offline", retained, waited for up to 2 s while the connection lasts."""

    @abstractmethod
    def _end(self) -> None:
        """On stop, after the DISCONNECT: end the network loop."""

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
                self._publish_offline()
            self.client.disconnect()
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning("disconnect: %s", exc)
        finally:
            self._end()
            self.connected.clear()
            self._state = LinkState.STOPPED

    def _watch(self) -> None:
        """Our own thread: warn while the broker is away; it logs and enqueues, nothing else."""
        warnings = AbsenceWarnings(time.monotonic())
        while not self._stop_watch.wait(WATCH_TICK_S):
            if self._state is LinkState.STOPPED:      # a twin: it stays away on purpose
                return
            now = time.monotonic()
            if self.connected.is_set():
                if warnings.count:
                    log.warning("broker %s reachable again after %.0f s", self.broker.url,
                                now - warnings.since)
                warnings.reset(now)
                continue
            if not warnings.due(now):
                continue
            refusal = self._refusal if self._state is LinkState.REFUSED else None
            reason = diagnose(self.broker.host, self.broker.port, tls=self.broker.tls,
                              refusal=refusal, error=self._last_error)
            if self._stop_watch.is_set() or self.connected.is_set():
                continue
            away = time.monotonic() - warnings.since
            warnings.warned(time.monotonic())
            log.warning("no broker at %s for %.0f s: %s; still trying (next warning in %.0f s)",
                        self.broker.url, away, reason, warnings.interval)
            if not self._down_told:
                self._down_told = True
                self.inbox.put(LinkDown(reason=f"{self.broker.url}: {reason}"))

    # -- owner-thread API ------------------------------------------------------
    def publish(self, topic: str, payload: bytes, *, qos: int = 1,
                retain: bool = False) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def ack(self, message: Inbound) -> None:
        """Acknowledge a message once its effect is durable (``Session.KEPT_UNTIL_ACKED``)."""
        if self.session is Session.KEPT_UNTIL_ACKED and message.qos > 0 \
                and message.connection == self._connects:
            self.client.ack(message.mid, message.qos)

    def ack_all(self, messages: Sequence[Inbound]) -> None:
        """Acknowledge a batch in one write (manual-ack links): paho sends each PUBACK with a
        system call of its own, which at thousands of messages a second costs more than the
        messages' own work (the centre, docs/central.md)."""
        if self.session is not Session.KEPT_UNTIL_ACKED:
            return
        # A message of an earlier connection is not acknowledged: a new session may have given
        # its mid to another message, not yet durable. The broker sends it again on this one.
        now = self._connects
        messages = [message for message in messages if message.connection == now]
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

    # -- the state, from what paho answers --------------------------------------
    @abstractmethod
    def _accepted(self) -> None:
        """The broker accepted a connection (CONNACK success): the policy starts again."""

    def _ended(self, reason: str) -> None:
        """The connection ended (or never was): say so once, unless it was ours to end."""
        was_up = self.connected.is_set()
        self.connected.clear()
        if self._stopping or self.twin is not None:
            if self._state is not LinkState.STOPPED:
                log.info("disconnected from %s", self.broker.url)
            self._state = LinkState.STOPPED
            return
        # A refused connection ends too (paho closes it): it stays REFUSED until an attempt
        # fails otherwise (no connection, no answer) or is accepted.
        self._state = LinkState.REFUSED if self._refused_now else LinkState.DOWN
        if was_up:
            log.warning("lost the broker %s: %s", self.broker.url, reason)
            self._down_told = True
            self.inbox.put(LinkDown(reason=reason))

    # -- paho's callbacks: they enqueue and return -----------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                    reason: ReasonCode, properties: Any) -> None:
        if reason.is_failure:
            refusal = str(reason)
            if self._state is not LinkState.REFUSED or refusal != self._refusal:
                # Once per refusal: the watcher repeats it at a growing interval.
                log.error("broker %s refused the connection: %s", self.broker.url, refusal)
            self._refusal = refusal
            self._refused_now = True
            self._state = LinkState.REFUSED
            return
        self._refusal = None
        self._last_error = None
        self._state = LinkState.CONNECTING
        self._accepted()
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
        self._state = LinkState.UP
        self.connected.set()
        self.inbox.put(LinkUp(session_present=self._session_present))

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                      reasons: list[ReasonCode], properties: Any) -> None:
        if mid == self._subscribe_mid:
            failed = [str(r) for r in reasons if r.is_failure]
            if failed:
                log.error("broker %s refused a subscription: %s", self.broker.url, ", ".join(failed))
            with self._status_lock:
                if self.twin is not None or self._stopping:
                    return
                client.publish(self.status_topic, self._status_payload("online"), qos=1, retain=True)
            self._ready()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason: ReasonCode, properties: Any) -> None:
        self._ended(str(reason))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.status_topic:
            self._own_status(bytes(message.payload), bool(message.retain))
            if not any(mqtt.topic_matches_sub(sub, message.topic) for sub, _ in self.subscriptions):
                # The daemon never sees it, so never acks it: an unacked message would hold one
                # of the broker's in-flight slots for this session for ever.
                if self.session is Session.KEPT_UNTIL_ACKED and message.qos > 0:
                    client.ack(message.mid, message.qos)
                return
        self.inbox.put(Inbound(topic=message.topic, payload=bytes(message.payload),
                               mid=message.mid, qos=message.qos, retain=bool(message.retain),
                               connection=self._connects))

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
            self._state = LinkState.STOPPED
            self.inbox.put(LinkDown(reason="a second device with this identity"))
            self.on_twin(self.twin)
        elif self.duplicate is None:
            self.duplicate = (f"{who} (instance {other.instance}, started {other.started}) "
                              "connected with this identity and was told to stop")
            log.error("%s", self.duplicate)
            self.client.publish(self.status_topic, self._status_payload("online"), qos=1, retain=True)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Any) -> None:
        if self.report_publishes:
            self.inbox.put(Published(mid=mid))


class ThreadedLink(Link):
    """A link whose network loop is paho's own thread (``loop_start``).

    One reconnect policy, paho's: after a failed or lost connection it waits
    ``RECONNECT_MIN_S``, doubling up to ``RECONNECT_MAX_S``, and starts again from the
    minimum after an accepted CONNACK (a refused login is retried on the same backoff).
    """

    def _run(self) -> None:
        # paho's signature says whole seconds; it doubles them as numbers.
        self.client.reconnect_delay_set(min_delay=int(RECONNECT_MIN_S),
                                        max_delay=int(RECONNECT_MAX_S))
        self.client.on_pre_connect = self._attempt
        self.client.on_connect_fail = self._on_connect_fail
        self.client.loop_start()

    def _attempt(self, client: mqtt.Client, userdata: Any) -> None:
        """paho's thread begins an attempt: its outcome sets the state."""
        self._refused_now = False

    def _accepted(self) -> None:
        """paho has reset its own backoff."""

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        """paho's thread could not open a connection (it retries on its backoff)."""
        self._ended("no connection")

    def _publish_offline(self) -> None:
        info = self.client.publish(self.status_topic, self._status_payload("offline"),
                                   qos=1, retain=True)
        info.wait_for_publish(timeout=2)

    def _end(self) -> None:
        self.client.loop_stop()


class OwnerPolledLink(Link):
    """A link whose network loop is run by the owner thread: ``poll`` in its loop.

    ``poll`` waits for the broker's socket or the inbox, then runs paho's ``loop()``; the
    return codes of ``reconnect()`` and ``loop()`` say whether a connection is open. One
    reconnect policy, :class:`Backoff` (paho's rule and figures).
    """

    def __init__(
        self,
        broker: BrokerSettings,
        topics: Topics,
        *,
        role: str,
        device: str,
        inbox: WakingQueue,
        subscriptions: Sequence[tuple[str, int]] = (),
        session: Session = Session.CLEAN,
        report_publishes: bool = False,
        on_twin: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(broker, topics, role=role, device=device, inbox=inbox,
                         subscriptions=subscriptions, session=session,
                         report_publishes=report_publishes, on_twin=on_twin)
        self.waking = inbox
        self.backoff = Backoff()
        self._open = False                      # reconnect() succeeded, loop() has not failed
        self._retry_at: float | None = None     # the next attempt is due then

    def _run(self) -> None:
        self._retry_at = time.monotonic()       # the first attempt, at the first poll

    def poll(self, timeout: float) -> None:
        """One turn of the network loop on the owner thread.

        Waits up to ``timeout`` for the broker or the inbox, lets paho read and write what
        is ready (callbacks run here and only enqueue), keeps the connection alive, and
        connects again when the policy says so.
        """
        if not self._open and self._retry_at is not None and time.monotonic() >= self._retry_at:
            self._connect()
        readers: list[Any] = [self.waking]
        writers: list[Any] = []
        if not self.inbox.empty():
            timeout = 0.0
        sock = self.client.socket() if self._open else None
        if sock is not None:
            readers.append(sock)
            if self.client.want_write():
                writers.append(sock)
            if _pending(sock):
                timeout = 0.0            # TLS bytes already decrypted, waiting to be read
        elif not self._open and self._retry_at is not None:
            timeout = min(timeout, max(0.0, self._retry_at - time.monotonic()))
        try:
            readable, _, _ = select.select(readers, writers, [], timeout)
        except (OSError, ValueError):   # the socket was closed under us: loop() says so
            readable = []
        if self.waking in readable:
            self.waking.clear_wake()
        if self._open:
            rc = self._turn()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._lost(rc)

    def _turn(self) -> MQTTErrorCode:
        """paho's loop() until what the socket holds now is read (paho reads about one
        packet a call), so that a burst is handled, and committed, in batches."""
        for _ in range(READ_AHEAD):
            rc = self.client.loop(0)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
            sock = self.client.socket()
            if sock is None or not (_pending(sock) or select.select([sock], [], [], 0)[0]):
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _connect(self) -> None:
        self._retry_at = None
        if self._stopping or self.twin is not None:
            return
        self._refused_now = False               # this attempt's outcome sets the state
        try:
            rc = self.client.reconnect()
        except (OSError, ssl.SSLError) as exc:   # no connection (refused, no route, TLS)
            if self._last_error is None:
                log.warning("broker %s not reachable: %s; retrying", self.broker.url, exc)
            self._last_error = str(exc)
            self._lost(MQTTErrorCode.MQTT_ERR_NO_CONN)
            return
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._lost(rc)
            return
        self._open = True                       # loop()'s codes say how it goes on

    def _lost(self, rc: MQTTErrorCode) -> None:
        """paho said the connection is gone (or could not be made): retry on the policy."""
        self._open = False
        # Once: paho may have said so already (on_disconnect); a refusal stays REFUSED.
        self._ended(mqtt.error_string(rc))
        if self._state is not LinkState.STOPPED:
            self._retry_at = time.monotonic() + self.backoff.next_delay()

    def _accepted(self) -> None:
        self.backoff.reset()

    def reconnect(self) -> None:
        """A new connection now: the broker sends the messages it holds unacknowledged
        again only on a new one (the caller, after its event log can be written again)."""
        self._open = False
        self.connected.clear()
        self._connect()

    def _publish_offline(self) -> None:
        info = self.client.publish(self.status_topic, self._status_payload("offline"),
                                   qos=1, retain=True)
        deadline = time.monotonic() + 2
        while not info.is_published() and time.monotonic() < deadline and self._open:
            self.poll(0.05)

    def _end(self) -> None:
        self._open = False
        self._retry_at = None


def _pending(sock: Any) -> int:
    """Bytes a TLS socket has decrypted and not handed out yet (select does not see them)."""
    pending: Callable[[], int] = getattr(sock, "pending", lambda: 0)
    return pending()


def _moment(stamp: str | None) -> datetime:
    """A run's start for ordering; an unknown one counts as the oldest."""
    try:
        return datetime.fromisoformat(stamp) if stamp else datetime.min.replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def login_client(broker: BrokerSettings, *, client_id: str, clean_session: bool,
                 manual_ack: bool = False) -> mqtt.Client:
    """A paho client that logs in as this Pi's account, over TLS where the config says so
    (not connected yet). Every :class:`Link`'s client is made here, and ``motcua doctor``
    tries its login with it, so both log in the same way."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    if broker.username:
        client.username_pw_set(broker.username, broker.password())
    if broker.tls:
        client.tls_set(ca_certs=str(broker.ca_file) if broker.ca_file else None,
                       cert_reqs=ssl.CERT_REQUIRED)
    return client
