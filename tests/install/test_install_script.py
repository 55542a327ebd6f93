"""scripts/install in --dry-run mode: the actions it would take, and that it takes none."""

from __future__ import annotations

import os
import pwd
import tomllib
from pathlib import Path

import pytest
from install_helpers import EXAMPLE, REPO, run

from motcua.broker_config import set_device_account
from motcua.config import load_config

SCRIPT = REPO / "scripts" / "install"
# Commands that change a system: in a dry run none of them may run.
MUTATING = ["apt-get", "systemctl", "adduser", "addgroup", "deluser", "delgroup", "udevadm",
            "install", "rm", "cp", "mv", "chmod", "chown", "runuser", "useradd", "userdel",
            "groupadd", "pip", "pip3", "ln"]


@pytest.fixture
def tripwire(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PATH where every mutating command only records that it was called."""
    bin_dir = tmp_path / "tripwire"
    bin_dir.mkdir()
    log = tmp_path / "called.log"
    for name in MUTATING:
        command = bin_dir / name
        command.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 1\n')
        command.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, log


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def dry_run(tripwire, *args: str) -> str:
    env, log = tripwire
    result = run([str(SCRIPT), *args, "--dry-run"], env=env)
    assert not log.exists(), "a dry run changed the system: " + log.read_text()
    assert result.returncode == 0, result.stderr
    return result.stdout


def actions(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


@pytest.fixture
def password(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk-k1"
    path.write_text("not-a-real-secret\n")
    return path


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    path = tmp_path / "ca.crt"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


def test_kiosk(tripwire, password: Path, ca: Path) -> None:
    output = dry_run(tripwire, "kiosk", "--config", str(EXAMPLE), "--device", "k1",
                     "--password-file", str(password), "--ca-file", str(ca))
    done = actions(output)
    apt = next(a for a in done if a.startswith("apt-get install"))
    assert "python3-pil" in apt and "fonts-dejavu-core" in apt and "mosquitto" not in apt
    assert "python3 -m venv --system-site-packages /opt/motcua/venv" in done
    # Pinned with hashes, nothing upgraded from the registry behind the technician's back.
    assert ("/opt/motcua/venv/bin/pip install --no-cache-dir --require-hashes --no-deps "
            f"-r {REPO}/requirements/kiosk.txt") in done
    assert f"/opt/motcua/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation {REPO}" in done
    assert "/opt/motcua/venv/bin/pip check" in done
    assert not any("--upgrade" in a for a in done)
    creates_user = ("adduser --system --group --home /var/lib/motcua --no-create-home "
                    "--shell /usr/sbin/nologin motcua") in done
    assert creates_user == (not user_exists("motcua"))
    assert {f"adduser motcua {g}" for g in ("gpio", "lp", "dialout", "input")} <= set(done)
    assert f"install -m 0644 {EXAMPLE} /etc/motcua/site.toml" in done
    # `motcua` on the PATH, and the example beside the docs for doctor's advice (issue 15)
    assert "ln -sfn /opt/motcua/venv/bin/motcua /usr/local/bin/motcua" in done
    assert f"install -m 0644 {REPO}/examples/liem-chung.toml /opt/motcua/share/doc/site.toml.example" in done
    # TLS by default: the hub's name from the config, port 8883, the site's CA.
    assert f"install -m 0644 {ca} /etc/motcua/ca.crt" in done
    assert ('set [broker] url = "mqtts://motcua-hub.local:8883", ca_file = "/etc/motcua/ca.crt", '
            'username = "kiosk-k1", password_file = "/etc/motcua/mqtt-password" '
            "in /etc/motcua/site.toml") in done
    assert f"install -m 0640 -o root -g motcua {password} /etc/motcua/mqtt-password" in done
    assert '|   MOTCUA_ARGS="--kiosk k1"' in output
    assert '|   SUBSYSTEM=="usb", ATTR{idVendor}=="0416", ATTR{idProduct}=="5011", GROUP="lp", ' \
           'MODE="0660"' in output
    assert "|   NTP=motcua-hub.local" in output
    assert (f"install -m 0644 {REPO}/systemd/motcua-kiosk.service "
            "/etc/systemd/system/motcua-kiosk.service") in done
    assert done.index("systemctl daemon-reload") < done.index("systemctl enable --now motcua-kiosk.service")
    assert done[-1] == ("runuser -u motcua -- /opt/motcua/venv/bin/motcua doctor "
                        "--config /etc/motcua/site.toml --role kiosk")


def test_counter(tripwire, password: Path, ca: Path) -> None:
    done = actions(dry_run(tripwire, "counter", "--config", str(EXAMPLE), "--device", "2",
                           "--password-file", str(password), "--ca-file", str(ca)))
    assert (f"install -m 0644 {REPO}/systemd/motcua-counter@.service "
            "/etc/systemd/system/motcua-counter@.service") in done
    assert [a for a in done if a.startswith("systemctl enable")] == [
        "systemctl enable --now motcua-counter@2.service"]
    assert any('username = "counter-2"' in a for a in done)
    assert not any("udev" in a or "mosquitto" in a for a in done)


def test_hub(tripwire) -> None:
    output = dry_run(tripwire, "caller", "--config", str(EXAMPLE))
    done = actions(output)
    apt = next(a for a in done if a.startswith("apt-get install"))
    assert {"mosquitto", "espeak-ng", "chrony"} <= set(apt.split())
    assert (f"install -m 0644 {REPO}/systemd/mosquitto/motcua.conf "
            "/etc/mosquitto/conf.d/motcua.conf") in done
    assert ("/opt/motcua/venv/bin/motcua broker-config --config /etc/motcua/site.toml "
            "--out /etc/mosquitto/motcua --certificates --hub-address motcua-hub.local") in done
    assert ("install -m 0640 -o root -g motcua /etc/mosquitto/motcua/secrets/caller "
            "/etc/motcua/mqtt-password") in done
    # The hub's daemons use plain MQTT on localhost; the LAN listener is TLS only.
    assert ('set [broker] url = "mqtt://127.0.0.1:1883", username = "caller", '
            'password_file = "/etc/motcua/mqtt-password" in /etc/motcua/site.toml') in done
    assert "install -m 0644 /etc/mosquitto/motcua/ca.crt /etc/motcua/ca.crt" in done
    assert (f"install -m 0644 {REPO}/systemd/mosquitto/hardening.conf "
            "/etc/systemd/system/mosquitto.service.d/motcua.conf") in done
    assert done.index("systemctl restart mosquitto.service") < done.index(
        "systemctl enable --now motcua-caller.service")
    assert "|   local stratum 10" in output and "timesyncd" not in output



def test_hub_gives_the_mqtt_button_bridge_its_own_account(tripwire, tmp_path: Path) -> None:
    """With [[counter_pad.mqtt_buttons]] the bridge gets the ``buttons`` account, not the caller's."""
    from test_buttons_account import BUTTONS

    config = tmp_path / "site.toml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8") + BUTTONS, encoding="utf-8")
    output = dry_run(tripwire, "caller", "--config", str(config))
    assert ("install -m 0640 -o root -g motcua /etc/mosquitto/motcua/secrets/buttons "
            "/etc/motcua/mqtt-password-buttons") in actions(output)
    assert ("+ write /etc/motcua/buttons.env (mode 0644):\n"
            "|   MOTCUA_BROKER_USERNAME=buttons\n"
            "|   MOTCUA_BROKER_PASSWORD_FILE=/etc/motcua/mqtt-password-buttons\n") in output
    assert "buttons" not in dry_run(tripwire, "caller", "--config", str(EXAMPLE))


def test_display(tripwire, password: Path, ca: Path) -> None:
    done = actions(dry_run(tripwire, "display", "--config", str(EXAMPLE),
                           "--password-file", str(password), "--ca-file", str(ca)))
    assert any('username = "display-board"' in a for a in done)
    assert {"adduser motcua video", "adduser motcua render", "adduser motcua input"} <= set(done)
    assert "systemctl enable --now motcua-display.service" in done


def test_uninstall_keeps_data_unless_purged(tripwire) -> None:
    done = actions(dry_run(tripwire, "kiosk", "--uninstall"))
    assert done[0] == "systemctl disable --now motcua-kiosk.service"
    assert "rm -f /etc/systemd/system/motcua-kiosk.service /etc/motcua/kiosk.env" in done
    assert "rm -rf /opt/motcua" in done and "deluser --system motcua" in done
    assert "rm -f /usr/local/bin/motcua" in done
    assert not any("/var/lib/motcua" in a for a in done)
    purged = actions(dry_run(tripwire, "kiosk", "--uninstall", "--purge"))
    assert "rm -rf /etc/motcua /var/lib/motcua /var/cache/motcua /etc/mosquitto/motcua" in purged

    hub = actions(dry_run(tripwire, "caller", "--uninstall"))
    assert "rm -f /etc/mosquitto/conf.d/motcua.conf /etc/chrony/conf.d/motcua.conf" in hub


@pytest.mark.parametrize(("args", "message", "status"), [
    (["kiosk", "--config", str(EXAMPLE)], "kiosk needs --device", 1),
    (["counter", "--config", str(EXAMPLE), "--device", "1,2"], "one id", 1),
    (["kiosk", "--config", str(EXAMPLE), "--device", "k1"], "--password-file", 1),
    (["kiosk", "--config", str(EXAMPLE), "--device", "k1", "--password-file", str(EXAMPLE)],
     "--ca-file", 1),
    (["kiosk", "--device", "k1", "--config", "/nonexistent/site.toml"], "no site config", 1),
    (["printer"], "unknown argument", 2),
    (["kiosk", "--purge"], "--purge goes with --uninstall", 1),
])
def test_mistakes_are_explained(tripwire, args, message, status) -> None:
    env, log = tripwire
    result = run([str(SCRIPT), *args, "--dry-run"], env=env)
    assert result.returncode == status and message in result.stderr, result.stderr
    assert not log.exists()


def test_device_account_is_written_into_the_site_config(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    set_device_account(site, "counter-3", "/etc/motcua/mqtt-password")
    set_device_account(site, "counter-4", "/etc/motcua/mqtt-password")   # again: replaced
    text = site.read_text(encoding="utf-8")
    assert text.count("username") == 1 and text.count("password_file") == 1
    broker = tomllib.loads(text)["broker"]
    assert broker == {"url": "mqtt://motcua-hub.local:1883", "username": "counter-4",
                      "password_file": "/etc/motcua/mqtt-password", "keepalive": 30}
    config = load_config(site)
    assert config.broker.username == "counter-4" and len(config.counters) == 4


CENTRAL = '''
[central]
url = "mqtts://motcua.tinh.example.vn:8883"
password_file = "/etc/motcua/central-password"
'''


def test_hub_with_a_centre_runs_the_history_publisher_on_its_own_account(tripwire,
                                                                        tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8") + CENTRAL, encoding="utf-8")
    output = dry_run(tripwire, "caller", "--config", str(config))
    done = actions(output)
    assert ("install -m 0640 -o root -g motcua /etc/mosquitto/motcua/secrets/history "
            "/etc/motcua/mqtt-password-history") in done
    assert ("+ write /etc/motcua/central-publisher.env (mode 0644):\n"
            "|   MOTCUA_BROKER_USERNAME=history\n"
            "|   MOTCUA_BROKER_PASSWORD_FILE=/etc/motcua/mqtt-password-history\n") in output
    assert (f"install -m 0644 {REPO}/systemd/motcua-central-publisher.service "
            "/etc/systemd/system/motcua-central-publisher.service") in done
    assert done.index("systemctl restart mosquitto.service") < done.index(
        "systemctl enable --now motcua-central-publisher.service")
    # Without [central] no publisher; the hub's uninstall removes it either way.
    assert "central-publisher" not in dry_run(tripwire, "caller", "--config", str(EXAMPLE))
    hub = actions(dry_run(tripwire, "caller", "--uninstall"))
    assert "systemctl disable --now motcua-central-publisher.service" in hub
    assert ("rm -f /etc/systemd/system/motcua-central-publisher.service "
            "/etc/motcua/central-publisher.env") in hub


def test_central_server(tripwire, tmp_path: Path) -> None:
    communes = tmp_path / "communes"
    communes.write_text("xa-a\nphuong-b\n\n# not a site id\n", encoding="utf-8")
    output = dry_run(tripwire, "central", "--communes", str(communes))
    done = actions(output)
    apt = next(a for a in done if a.startswith("apt-get install"))
    assert {"mosquitto", "postgresql", "python3-psycopg"} <= set(apt.split())
    assert ("/opt/motcua/venv/bin/pip install --no-cache-dir --require-hashes --no-deps "
            f"-r {REPO}/requirements/central.txt") in done
    assert f"install -m 0644 {communes} /etc/motcua/communes" in done
    assert (f"install -m 0644 {REPO}/systemd/mosquitto/central.conf "
            "/etc/mosquitto/conf.d/motcua-central.conf") in done
    assert ("/opt/motcua/venv/bin/motcua central --broker-files /etc/mosquitto/motcua "
            "--site xa-a --site phuong-b") in done
    assert ("install -m 0640 -o root -g motcua /etc/mosquitto/motcua/secrets/central "
            "/etc/motcua/central-password") in done
    assert "runuser -u postgres -- createdb --owner motcua --encoding UTF8 motcua" in done
    assert done.index("runuser -u postgres -- createuser motcua") < done.index(
        "runuser -u postgres -- createdb --owner motcua --encoding UTF8 motcua") < done.index(
        "systemctl enable --now motcua.central.service".replace("motcua.central", "motcua-central"))
    # The dashboard beside the centre: its unit, its folder of the communes' site configs.
    assert "systemctl enable --now motcua-central-web.service" in done
    assert "install -d -m 0755 /etc/motcua/sites" in done
    assert done[-1] == ("runuser -u motcua -- /opt/motcua/venv/bin/motcua central --migrate-only "
                        "--db postgresql://motcua@/motcua?host=/run/postgresql")
    # No office: no site config, no hub account, no time from a hub.
    assert not any("/etc/motcua/site.toml" in a or "timesyncd" in a or "mqtt-password" in a
                   for a in done)
    removed = actions(dry_run(tripwire, "central", "--uninstall"))
    assert "systemctl disable --now motcua-central.service" in removed
    assert "rm -f /etc/mosquitto/conf.d/motcua-central.conf" in removed


def test_central_server_needs_its_communes(tripwire) -> None:
    env, log = tripwire
    result = run([str(SCRIPT), "central", "--dry-run"], env=env)
    assert result.returncode == 1 and "--communes" in result.stderr, result.stderr
    result = run([str(SCRIPT), "kiosk", "--communes", str(EXAMPLE), "--device", "k1",
                  "--config", str(EXAMPLE), "--dry-run"], env=env)
    assert result.returncode == 1 and "--communes goes with central" in result.stderr
    assert not log.exists()
