"""`motcua demo`: the office comes up from one command, keys print, call and show."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_takes_keys_and_runs_the_office(tmp_path: Path, broker: str) -> None:
    out = tmp_path / "demo"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "motcua.cli", "demo", "--out", str(out), "--audio",
         f"wav:{out / 'sounds'}", *(["--embedded-broker"] if broker == "embedded" else [])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert demo.stdin is not None and demo.stdout is not None
    lines: list[str] = []
    legend_shown = threading.Event()

    def read() -> None:
        for raw in demo.stdout:
            lines.append(raw.decode(errors="replace").rstrip())
            if "Esc" in lines[-1]:
                legend_shown.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert legend_shown.wait(60), "\n".join(lines)
        text = "\n".join(lines)
        assert "[1]  Đất đai" in text
        assert "[q] next" in text
        assert ("amqtt" in text) == (broker == "embedded")
        demo.stdin.write(b"1")                  # a ticket for Đất đai
        demo.stdin.flush()
        tickets = out / "tickets"
        assert _wait(lambda: any(tickets.glob("*.png")), 20), "\n".join(lines)
        # The caller confirms the ticket, and the board it published first counts it.
        assert _wait(lambda: any("🎫 1001 — Đất đai: 1 người đang chờ" in line for line in lines), 20), \
            "\n".join(lines)
        demo.stdin.write(b"q")                  # counter 1: Next
        demo.stdin.flush()
        assert _wait(lambda: any("🔔" in line for line in lines), 20), "\n".join(lines)
        demo.stdin.close()                      # end of input: the demo stops by itself
        assert demo.wait(timeout=60) == 0, "\n".join(lines)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert any((out / "sounds").glob("*.wav"))
    board = Image.open(out / "board.png")
    assert board.size == (1280, 720)
    assert "motcua demo: stopped" in "\n".join(lines)


def _wait(predicate, timeout: float) -> bool:
    event = threading.Event()
    for _ in range(int(timeout * 10)):
        if predicate():
            return True
        event.wait(0.1)
    return predicate()
