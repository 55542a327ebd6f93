"""The MQTT link every daemon uses: one paho client, one owner thread.

paho's network thread never does the daemon's work: its callbacks only put
events on the daemon's inbox queue and return (paho #527, #354). Subscriptions
are made inside ``on_connect`` so they come back after every reconnect. Each
daemon announces itself on ``status/<role>/<device>`` (retained) with a Last
Will that says offline.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .config import BrokerSettings
from .protocol import Status, Topics, encode

log = logging.getLogger(__name__)


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
        inbox: queue.Queue,
        subscriptions: Sequence[tuple[str, int]] = (),
        persistent_session: bool = False,
        manual_ack: bool = False,
        report_publishes: bool = False,
    ) -> None:
        self.broker = broker
        self.topics = topics
        self.role = role
        self.device = device
        self.inbox = inbox
        self.subscriptions = list(subscriptions)
        self.manual_ack = manual_ack
        self.report_publishes = report_publishes
        self.connected = threading.Event()
        self.status_topic = topics.status(role, device)
        self._health: dict[str, Any] = {}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"motcua-{topics.root.split('/')[1]}-{role}-{device}",
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

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; the inbox hears LinkUp once connected."""
        log.info("connecting to %s as %s/%s", self.broker.url, self.role, self.device)
        self.client.connect_async(self.broker.host, self.broker.port,
                                  keepalive=self.broker.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        """Say offline on purpose (the Will is for crashes) and disconnect."""
        try:
            if self.connected.is_set():
                info = self.client.publish(self.status_topic, self._status_payload("offline"),
                                           qos=1, retain=True)
                info.wait_for_publish(timeout=2)
            self.client.disconnect()
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning("disconnect: %s", exc)
        finally:
            self.client.loop_stop()

    # -- owner-thread API ------------------------------------------------------
    def publish(self, topic: str, payload: bytes, *, qos: int = 1,
                retain: bool = False) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def ack(self, message: Inbound) -> None:
        """Acknowledge a message once its effect is durable (manual-ack links)."""
        if self.manual_ack and message.qos > 0:
            self.client.ack(message.mid, message.qos)

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
                             health=self._health if state == "online" else {}))

    # -- paho's thread: enqueue and return --------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            log.error("broker %s refused the connection: %s", self.broker.url, reason)
            return
        # Small messages go out at once: with Nagle's algorithm an ack followed by a publish
        # waits for the broker's delayed ACK (about 40 ms each time); paho leaves Nagle on.
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.publish(self.status_topic, self._status_payload("online"), qos=1, retain=True)
        self._session_present = bool(flags.session_present)
        if self.subscriptions:
            # Ready once the SUBACK is back: only then does the broker route messages to us.
            _, self._subscribe_mid = client.subscribe(self.subscriptions)
        else:
            self._ready()

    def _ready(self) -> None:
        self.connected.set()
        self.inbox.put(LinkUp(session_present=self._session_present))

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any,
                      properties: Any) -> None:
        if mid == self._subscribe_mid:
            failed = [str(r) for r in reasons if getattr(r, "is_failure", False)]
            if failed:
                log.error("broker %s refused a subscription: %s", self.broker.url, ", ".join(failed))
            self._ready()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        was_up = self.connected.is_set()
        self.connected.clear()
        if was_up:
            log.warning("lost the broker %s: %s", self.broker.url, reason)
            self.inbox.put(LinkDown(reason=str(reason)))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.inbox.put(Inbound(topic=message.topic, payload=bytes(message.payload),
                               mid=message.mid, qos=message.qos, retain=bool(message.retain)))

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any,
                    properties: Any) -> None:
        if self.report_publishes:
            self.inbox.put(Published(mid=mid))
