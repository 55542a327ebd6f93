"""The web role's systemd unit: verified silently, low exposure, a watched notify service; the
installer puts it on the hub with the caller."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "motcua-web.service"
EXEC = "/opt/motcua/venv/bin/motcua"

needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze is missing (scripts/system-deps test)")


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    stand_in = tmp_path / "motcua"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    text = UNIT.read_text()
    assert text.count(EXEC) == 1
    path = tmp_path / UNIT.name
    path.write_text(text.replace(EXEC, str(stand_in)))
    return path


@needs_systemd
def test_verify_is_silent(unit: Path) -> None:
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stderr


@needs_systemd
def test_security_exposure_is_low(unit: Path) -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
                            capture_output=True, text=True)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= 2.0, result.stdout


def test_a_watched_notify_service_of_its_own_user() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    service = parser["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure" and service["User"] == "motcua"
    assert service["ExecStart"].startswith(f"{EXEC} web --config /etc/motcua/site.toml")
    assert service["PrivateDevices"] == "yes" and service["ProtectSystem"] == "strict"


def test_the_hub_installs_and_removes_the_web_unit_with_the_caller(tmp_path: Path) -> None:
    script = REPO / "scripts" / "install"
    example = REPO / "examples" / "liem-chung.toml"
    installed = subprocess.run([str(script), "caller", "--config", str(example), "--dry-run"],
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    actions = [line[2:] for line in installed.stdout.splitlines() if line.startswith("+ ")]
    assert (f"install -m 0644 {REPO}/systemd/motcua-web.service "
            "/etc/systemd/system/motcua-web.service") in actions
    assert "systemctl enable --now motcua-web.service" in actions
    assert ("/opt/motcua/venv/bin/pip install --no-cache-dir --require-hashes --no-deps "
            f"-r {REPO}/requirements/caller.txt") in actions    # starlette and uvicorn pinned there
    removed = subprocess.run([str(script), "caller", "--uninstall", "--dry-run"],
                             capture_output=True, text=True)
    actions = [line[2:] for line in removed.stdout.splitlines() if line.startswith("+ ")]
    assert "systemctl disable --now motcua-web.service" in actions
    assert "rm -f /etc/systemd/system/motcua-web.service /etc/motcua/web.env" in actions
