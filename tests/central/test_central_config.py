"""``[central]`` in the site config and the bridge that ``motcua broker-config`` writes from it,
loaded by a real hub Mosquitto and carrying only what it should to a real central broker."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from rig import Mosquitto, eventually, write_site_config
from test_central_bridge import _client, central_broker

from motcua.cli import main as cli_main
from motcua.config import load_config
from motcua.errors import ConfigError


def site_with_central(tmp_path: Path, body: str) -> Path:
    return write_site_config(tmp_path, extra=f"\n[central]\n{body}\n")


def test_no_central_table_means_no_centre(tmp_path: Path):
    assert load_config(write_site_config(tmp_path)).central is None


def test_central_table_is_read(tmp_path: Path):
    config = load_config(site_with_central(tmp_path, 'url = "mqtts://tinh.example.vn"\n'
                                                     'password_file = "/etc/motcua/central-password"\n'
                                                     'ca_file = "/etc/motcua/central-ca.crt"'))
    central = config.central
    assert (central.host, central.port, central.tls) == ("tinh.example.vn", 8883, True)
    assert central.username == "liem-chung"


@pytest.mark.parametrize("body, key", [
    ('url = "http://tinh.example.vn"\npassword_file = "p"', "central.url"),
    ('url = "mqtts://tinh"\npassword_file = "p"\nusername = "xa-khac"', "central.username"),
    ('url = "mqtts://tinh"', "central.password_file"),
    ('url = "mqtts://tinh"\npassword_file = "p"\nqos = 2', "central.qos"),
])
def test_mistakes_name_the_key(tmp_path: Path, body: str, key: str):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(site_with_central(tmp_path, body))


def test_broker_config_writes_a_bridge_that_mosquitto_runs(tmp_path: Path, capsys):
    central, secrets = central_broker(tmp_path, ["liem-chung"])
    config = site_with_central(tmp_path, f'url = "{central.url}"\n'
                                         f'password_file = "{secrets["liem-chung"]}"')
    out = tmp_path / "hub-files"
    assert cli_main(["broker-config", "--config", str(config), "--out", str(out)]) == 0
    bridge = out / "bridge.conf"
    assert stat.S_IMODE(bridge.stat().st_mode) in (0o600, 0o640)
    hub = Mosquitto(tmp_path / "hub", extra_config=bridge.read_text())
    hub.start()
    seen: list[str] = []
    changed = threading.Condition()
    try:
        watcher = _client(central, "central", secrets["central"].read_text().strip())

        def on_message(client, userdata, message) -> None:
            with changed:
                seen.append(message.topic)
                changed.notify_all()

        subscribed = threading.Event()
        watcher.on_subscribe = lambda *a: subscribed.set()
        watcher.on_message = on_message
        watcher.subscribe("motcua/#", 1)
        assert subscribed.wait(10)
        local = _client(hub, "anyone", "-")
        # The bridge connects in the background: publish until the first message crosses.
        assert eventually(lambda: local.publish("motcua/liem-chung/ticket", b"{}", qos=1) and
                          local.publish("motcua/liem-chung/history/event", b"{}", qos=1) and
                          "motcua/liem-chung/history/event" in seen, timeout=30)
        local.publish("motcua/liem-chung/status/kiosk/k1", b"{}", qos=1).wait_for_publish(5)
        with changed:
            assert changed.wait_for(lambda: "motcua/liem-chung/status/kiosk/k1" in seen, 10)
        assert "motcua/liem-chung/ticket" not in seen       # the office's queue stays home
        watcher.disconnect()
        local.disconnect()
    finally:
        hub.stop()
        central.stop()
    # Without [central] the bridge goes away.
    config.write_text(config.read_text().split("\n[central]")[0])
    assert cli_main(["broker-config", "--config", str(config), "--out", str(out)]) == 0
    assert not bridge.exists()
