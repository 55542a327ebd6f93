"""``motcua doctor`` on the hub checks the web pages when [web] is set."""

from __future__ import annotations

import re
from pathlib import Path

from rig import free_port
from web_rig import WebOffice

from motcua.doctor import Environment, run_checks


def web_check(config: Path, role: str):
    checks = run_checks(str(config), role, Environment(timeout=2.0, clock=lambda: (True, "test")))
    return next(c for c in checks if c.title == "Trang web / Web pages")


def test_doctor_sees_the_web_role_and_its_absence(office: WebOffice, tmp_path: Path) -> None:
    text = office.config.read_text(encoding="utf-8")
    up = tmp_path / "up.toml"
    up.write_text(re.sub(r"(?m)^\[web\]$", f'[web]\nlisten = "127.0.0.1:{office.port}"', text),
                  encoding="utf-8")
    check = web_check(up, "caller")
    assert check.ok and "broker connected, caller online" in check.detail
    down = tmp_path / "down.toml"
    down.write_text(re.sub(r"(?m)^\[web\]$", f'[web]\nlisten = "127.0.0.1:{free_port()}"', text),
                    encoding="utf-8")
    check = web_check(down, "web")
    assert not check.ok and "motcua-web" in check.hint
