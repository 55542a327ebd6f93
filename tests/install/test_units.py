"""The systemd units: systemd-analyze verify is silent, and the security exposure is low."""

from __future__ import annotations

import configparser
import re
import shutil
from pathlib import Path

import pytest
from install_helpers import REPO, run

UNITS = REPO / "systemd"
UNIT_NAMES = ["motcua-kiosk.service", "motcua-counter@.service", "motcua-caller.service",
              "motcua-display.service", "motcua-central-publisher.service"]
# The centre's server has no site config: checked on its own below.
CENTRE_UNIT = "motcua-central.service"
CENTRE_WEB_UNIT = "motcua-central-web.service"
EXEC = "/opt/motcua/venv/bin/motcua"
SCORED = ["motcua-kiosk.service", "motcua-counter@3.service", "motcua-caller.service",
          "motcua-display.service", "motcua-central-publisher.service", CENTRE_UNIT, CENTRE_WEB_UNIT]
MAX_EXPOSURE = 3.0

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is missing (scripts/system-deps test)")


@pytest.fixture(scope="module")
def unit_dir(tmp_path_factory) -> Path:
    """The units as shipped, except that ExecStart points at an executable that exists here."""
    directory = tmp_path_factory.mktemp("units")
    stand_in = directory / "motcua"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    for name in [*UNIT_NAMES, CENTRE_UNIT, CENTRE_WEB_UNIT]:
        text = (UNITS / name).read_text()
        assert text.count(EXEC) == 1, name
        (directory / name).write_text(text.replace(EXEC, str(stand_in)))
    # Instances are what gets scored: a template alone has no ExecStart to judge.
    shutil.copy(directory / "motcua-counter@.service", directory / "motcua-counter@3.service")
    return directory


def service_section(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string((UNITS / name).read_text())
    return parser["Service"]


@pytest.mark.parametrize("name", [*UNIT_NAMES, CENTRE_UNIT, CENTRE_WEB_UNIT, "motcua-counter@3.service"])
def test_verify_is_silent(unit_dir: Path, name: str) -> None:
    result = run(["systemd-analyze", "verify", str(unit_dir / name)])
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", result.stderr


@pytest.mark.parametrize("name", SCORED)
def test_security_exposure_is_low(unit_dir: Path, name: str) -> None:
    result = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit_dir / name)])
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_every_unit_is_a_watched_notify_service_of_its_own_user(name: str) -> None:
    service = service_section(name)
    role = name.removeprefix("motcua-").split("@")[0].split(".")[0]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert service["User"] == "motcua"
    assert service["StateDirectory"] == "motcua" and service["ConfigurationDirectory"] == "motcua"
    assert service["ProtectSystem"] == "strict"
    assert service["ExecStart"].startswith(f"{EXEC} {role} ")
    assert "--config /etc/motcua/site.toml" in service["ExecStart"]
    assert "SupplementaryGroups" in service


def test_the_centre_is_a_watched_notify_service_of_its_own_user() -> None:
    service = service_section(CENTRE_UNIT)
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure" and service["User"] == "motcua"
    assert service["ProtectSystem"] == "strict" and service["PrivateDevices"] == "yes"
    command = service["ExecStart"].split()
    assert command[:2] == [EXEC, "central"]
    # The local broker's plain listener, the password scripts/install copies, PostgreSQL by
    # its Unix socket as the motcua user (peer authentication, no password in the unit).
    assert command[command.index("--broker") + 1] == "mqtt://127.0.0.1:1883"
    assert command[command.index("--password-file") + 1] == "/etc/motcua/central-password"
    assert command[command.index("--db") + 1] == "postgresql://motcua@/motcua?host=/run/postgresql"
    unit = (UNITS / CENTRE_UNIT).read_text()
    assert "After=network-online.target mosquitto.service postgresql.service" in unit
    assert service["IPAddressAllow"] == "localhost"


def test_the_centres_dashboard_is_a_watched_notify_service_reading_postgresql_by_its_socket() -> None:
    service = service_section(CENTRE_WEB_UNIT)
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure" and service["User"] == "motcua"
    assert service["ProtectSystem"] == "strict" and service["PrivateDevices"] == "yes"
    command = service["ExecStart"].split()
    assert command[:3] == [EXEC, "web", "--central"]
    assert command[command.index("--db") + 1] == "postgresql://motcua@/motcua?host=/run/postgresql"
    assert command[command.index("--sites") + 1] == "/etc/motcua/sites"
    assert "localhost" in service["IPAddressAllow"].split()


def test_the_history_publisher_talks_only_to_the_hubs_broker_with_its_own_account() -> None:
    service = service_section("motcua-central-publisher.service")
    assert service["IPAddressAllow"] == "localhost" and service["PrivateDevices"] == "yes"
    assert service["EnvironmentFile"] == "-/etc/motcua/central-publisher.env"


def test_groups_and_devices_fit_each_role() -> None:
    def groups(name: str) -> set[str]:
        return set(service_section(name)["SupplementaryGroups"].split())

    assert groups("motcua-kiosk.service") == {"gpio", "lp", "dialout", "input"}
    assert groups("motcua-counter@.service") == {"gpio"}
    assert groups("motcua-caller.service") == {"audio"}
    assert groups("motcua-display.service") == {"video", "render", "input"}
    counter = (UNITS / "motcua-counter@.service").read_text()
    assert "--counter %i" in counter and "DeviceAllow=char-gpiochip rw" in counter
    assert "DeviceAllow=char-alsa rw" in (UNITS / "motcua-caller.service").read_text()
    assert "DeviceAllow=char-drm rw" in (UNITS / "motcua-display.service").read_text()


DEBIAN_MOSQUITTO = Path("/lib/systemd/system/mosquitto.service")


@pytest.mark.skipif(not DEBIAN_MOSQUITTO.exists(), reason="Debian's mosquitto package is missing")
def test_the_hubs_mosquitto_is_hardened_by_the_drop_in(tmp_path: Path) -> None:
    """Debian's unit scores 9.6; with systemd/mosquitto/hardening.conf as a drop-in (its
    [Service] lines merged, as systemd does) it scores like the project's own units."""
    unit = tmp_path / "mosquitto.service"
    unit.write_text(DEBIAN_MOSQUITTO.read_text() + (UNITS / "mosquitto" / "hardening.conf").read_text())
    result = run(["systemd-analyze", "verify", str(unit)])
    assert result.returncode == 0 and result.stderr == "", result.stderr
    result = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)])
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout
    # It still reads its keys as root and writes its database as the mosquitto user.
    assert "ReadWritePaths=/var/lib/mosquitto" in unit.read_text()
