"""Quiet logs (issue 15, item 7): no pygame banner, no gpiozero fallback warnings on a machine
without GPIO unless -v asks for them; what matters still comes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rig import free_port, write_site_config


def run(args: list[str], tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYGAME_HIDE_SUPPORT_PROMPT"}
    env.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    result = subprocess.run([sys.executable, "-m", "motcua.cli", *args], env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")


def test_no_pygame_banner(tmp_path: Path) -> None:
    config = write_site_config(tmp_path)
    out = run(["display", "--config", str(config), "--broker", f"mqtt://127.0.0.1:{free_port()}",
               "--snapshot", str(tmp_path / "b.png"), "--timeout", "1"], tmp_path)
    assert "no board state" in out                         # it ran, and said what matters
    assert "pygame" not in out.lower(), out


@pytest.mark.skipif(Path("/proc/device-tree/model").exists(), reason="a Pi has GPIO")
def test_gpio_fallbacks_only_when_asked(tmp_path: Path) -> None:
    config = write_site_config(tmp_path)
    quiet = run(["counter", "--config", str(config), "--counter", "1"], tmp_path)
    assert "cannot use the counter buttons" in quiet
    assert "PinFactoryFallback" not in quiet and "warnings.warn" not in quiet, quiet
    verbose = run(["counter", "--config", str(config), "--counter", "1", "-v"], tmp_path)
    assert "Falling back from" in verbose and "cannot use the counter buttons" in verbose
