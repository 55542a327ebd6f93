"""TLS by default (issue 18): the site's CA and the hub's certificate from `motcua broker-config
--certificates`, served by a real Mosquitto with the shipped TLS listener block."""

from __future__ import annotations

import queue
import re
import ssl
import subprocess
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from rig import SHIPPED_CONF, Mosquitto, free_port, next_of

from motcua.broker_config import write_certificates
from motcua.cli import main as cli_main
from motcua.config import BrokerSettings, SiteConfig
from motcua.mqtt import LinkUp, ThreadedLink
from motcua.protocol import Topics

T = Topics("liem-chung")


def san(certificate: Path) -> str:
    text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(certificate)],
                          capture_output=True, text=True, check=True).stdout
    return text


@pytest.fixture
def tls_hub(tmp_path: Path, broker_files):
    """The hub's broker: the shipped TLS listener (paths moved to the test's files) on a free port."""
    ca, cert, key = write_certificates(tmp_path / "certs", ["motcua-hub", "motcua-hub.local", "localhost"],
                                       ["127.0.0.1"])
    block = SHIPPED_CONF.read_text().split("\nlistener 8883\n")[1].split("\n\n")[0]
    block = (block.replace("/etc/mosquitto/motcua/ca.crt", str(ca))
             .replace("/etc/mosquitto/motcua/hub.crt", str(cert))
             .replace("/etc/mosquitto/motcua/hub.key", str(key)))
    port = free_port()
    broker = Mosquitto(tmp_path / "broker", passwords=broker_files.passwords, acl=broker_files.acl,
                       extra_config=f"listener {port} 127.0.0.1\n{block}\n")
    broker.start()
    broker.tls_port, broker.ca = port, ca
    yield broker
    broker.stop()


def kiosk_settings(hub, broker_files, host: str, ca_file: Path | None) -> BrokerSettings:
    return BrokerSettings(host=host, port=hub.tls_port, tls=True, username="kiosk-k1",
                          password_file=broker_files.secrets["kiosk-k1"], ca_file=ca_file, keepalive=30)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["by-ip", "by-name"])
def test_a_device_reaches_the_hub_over_tls_by_ip_or_name(tls_hub, broker_files, host: str) -> None:
    inbox: queue.Queue = queue.Queue()
    link = ThreadedLink(kiosk_settings(tls_hub, broker_files, host, tls_hub.ca), T, role="kiosk", device="k1",
                inbox=inbox, subscriptions=[(T.board, 1)])
    link.start()
    try:
        assert isinstance(next_of(inbox, LinkUp), LinkUp)
    finally:
        link.stop()


def test_a_device_without_the_sites_ca_cannot_connect(tls_hub, broker_files) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="x", protocol=mqtt.MQTTv311)
    client.tls_set(cert_reqs=ssl.CERT_REQUIRED)            # the system's CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        client.connect("127.0.0.1", tls_hub.tls_port)


def test_the_tool_makes_the_ca_once_and_the_hubs_certificate_each_time(tmp_path: Path,
                                                                     site: SiteConfig) -> None:
    out = tmp_path / "out"
    args = ["broker-config", "--config", str(site.file), "--out", str(out), "--certificates",
            "--hub-address", "192.168.1.20", "--hub-address", "mot-cua.lan"]
    assert cli_main(args) == 0
    ca = (out / "ca.crt").read_bytes()
    names = san(out / "hub.crt")
    assert "IP Address:192.168.1.20" in names and "DNS:mot-cua.lan" in names
    assert "DNS:motcua-hub.local" in names and "IP Address:127.0.0.1" in names
    # The CA's key for root only; the hub's key also for group mosquitto when run as root.
    assert (out / "ca.key").stat().st_mode & 0o077 == 0 and (out / "hub.key").stat().st_mode & 0o007 == 0
    assert cli_main([*args[:-4], "--hub-address", "10.0.0.9"]) == 0
    assert (out / "ca.crt").read_bytes() == ca                 # devices keep trusting the hub
    assert "IP Address:10.0.0.9" in san(out / "hub.crt")
    verified = subprocess.run(["openssl", "verify", "-CAfile", str(out / "ca.crt"), str(out / "hub.crt")],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr


def test_the_shipped_config_keeps_plain_mqtt_off_the_network() -> None:
    listeners = re.findall(r"(?m)^listener (.+)$", SHIPPED_CONF.read_text())
    assert listeners == ["1883 127.0.0.1", "8883"]
