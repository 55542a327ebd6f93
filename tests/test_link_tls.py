"""The MQTT link over TLS (mqtts://) against a real Mosquitto TLS listener.

The certificate is made here with the openssl command; the broker also keeps its plain
listener, through which a Listener talks to the TLS side.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from rig import Listener, Mosquitto, free_port, next_of

from motcua.config import BrokerSettings
from motcua.mqtt import Inbound, Link, LinkUp, OwnerPolledLink, ThreadedLink, WakingQueue
from motcua.protocol import Topics

TOPICS = Topics("tls-site")


@pytest.fixture
def tls_broker(tmp_path: Path):
    cert, key = tmp_path / "hub.crt", tmp_path / "hub.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    port = free_port()
    broker = Mosquitto(tmp_path / "broker", extra_config=(
        f"listener {port} 127.0.0.1\ncafile {cert}\ncertfile {cert}\nkeyfile {key}\n"))
    broker.start()
    broker.tls_port, broker.cert = port, cert
    yield broker
    broker.stop()


def settings(broker: Mosquitto, ca_file: Path) -> BrokerSettings:
    return BrokerSettings(host="127.0.0.1", port=broker.tls_port, tls=True, username=None,
                          password_file=None, ca_file=ca_file, keepalive=30)



@pytest.mark.parametrize("owner_polls", [False, True], ids=["paho-thread", "owner-polls"])
def test_messages_both_ways_over_tls(tls_broker: Mosquitto, owner_polls: bool) -> None:
    inbox = WakingQueue()
    link: Link = (OwnerPolledLink if owner_polls else ThreadedLink)(
        settings(tls_broker, tls_broker.cert), TOPICS, role="caller", device="hub",
        inbox=inbox, subscriptions=[(TOPICS.ticket, 1)])
    plain = Listener(tls_broker.url, TOPICS.board)
    stopping = threading.Event()

    def owner() -> None:
        assert isinstance(link, OwnerPolledLink)
        while not stopping.is_set():
            link.poll(0.1)

    link.start()
    thread = threading.Thread(target=owner, daemon=True)
    if owner_polls:
        thread.start()
    try:
        next_of(inbox, LinkUp)
        assert link.client.socket().version().startswith("TLS")
        plain.publish(TOPICS.ticket, b"over plain, to TLS")
        assert next_of(inbox, Inbound).payload == b"over plain, to TLS"
        link.publish(TOPICS.board, b"over TLS, to plain")
        assert plain.wait_for(lambda li: li.payloads(TOPICS.board) == [b"over TLS, to plain"])
    finally:
        stopping.set()
        if owner_polls:
            thread.join(5)
        link.stop()
        plain.close()


def test_a_broker_with_an_unknown_certificate_is_not_trusted(
        tls_broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    other = tmp_path / "other.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=someone else", "-keyout", str(tmp_path / "other.key"),
                    "-out", str(other)], check=True, capture_output=True)
    inbox = WakingQueue()
    link = OwnerPolledLink(settings(tls_broker, other), TOPICS, role="caller", device="hub",
                           inbox=inbox)
    link.start()
    for _ in range(5):
        link.poll(0.1)                 # the handshake fails; the link keeps trying, later
    assert not link.connected.is_set() and inbox.empty()
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    link.stop()
