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


def test_central_command_writes_the_central_broker_files_and_migrates(tmp_path: Path, pg_dsn: str,
                                                                       capsys):
    import psycopg

    out = tmp_path / "central-files"
    assert cli_main(["central", "--broker-files", str(out), "--site", "xa-a", "--site", "xa-b"]) == 0
    first = (out / "secrets" / "xa-a").read_text()
    assert cli_main(["central", "--broker-files", str(out), "--site", "xa-a", "--site", "xa-b",
                     "--site", "xa-c"]) == 0
    assert (out / "secrets" / "xa-a").read_text() == first       # adding a commune keeps the rest
    assert sorted(line.split(":")[0] for line in (out / "passwords").read_text().splitlines()) == \
        ["central", "xa-a", "xa-b", "xa-c"]
    assert "pattern write motcua/%u/history/event" in (out / "acl").read_text()
    assert cli_main(["central", "--broker-files", str(out), "--site", "central"]) == 2
    assert cli_main(["central", "--broker", "mqtt://127.0.0.1:1"]) == 2      # no --db
    assert "--db" in capsys.readouterr().err
    assert cli_main(["central", "--db", pg_dsn, "--migrate-only"]) == 0
    with psycopg.connect(pg_dsn) as db:
        assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] >= 1
