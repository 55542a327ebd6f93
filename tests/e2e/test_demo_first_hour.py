"""The demo as a newcomer meets it (issue 15, item 4): every service offered is served, each
ticket, call and rating is printed as it happens, and Ctrl-C in the terminal stops the
daemons (which save and say offline) before the broker."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from motcua.config import load_config
from motcua.demo import RATE, _routes, demo_config, demo_counters, find_example, legend, served

pytestmark = pytest.mark.e2e


def test_every_service_with_a_key_is_served_and_ratings_have_keys(tmp_path: Path) -> None:
    config = load_config(demo_config(find_example(), tmp_path))
    counters = demo_counters(config)
    assert counters == ["1", "2", "3"]              # Lao động (key 3) needs counter 3
    routes = _routes(config, counters)
    kiosk = config.kiosks[0]
    offered = {b.service for b in kiosk.buttons if routes.get(b.key) == "kiosk"}
    assert offered == {b.service for b in kiosk.buttons} and offered <= served(config, counters)
    assert [routes[k] for k in "789"] == [RATE] * 3
    text = "\n".join(legend(config, counters))
    assert "[7] Rất hài lòng  [8] Hài lòng  [9] Không hài lòng" in text
    assert "Quầy số 3: [z] next" in text


def _own_terminal() -> None:
    """In the child: a new session whose controlling terminal is the pty, as a shell gives;
    SIGINT stays as this test runner has it (ignored, when the suite was started in the
    background by a script): the demo must answer Ctrl-C all the same."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """The demo on a pseudo-terminal, as in a technician's shell."""

    def __init__(self, out: Path) -> None:
        env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
               "PYTHONFAULTHANDLER": "1"}     # a hung demo's threads, if a test must ask (stacks)
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "motcua.cli", "demo", "--out", str(out), "--audio",
             f"wav:{out / 'sounds'}"], stdin=slave, stdout=slave, stderr=slave, env=env,
            preexec_fn=_own_terminal)
        os.close(slave)
        self.text = ""

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def stacks(self) -> str:
        """What the terminal showed, then the demo's threads as faulthandler prints them on
        SIGABRT, and its signal masks: for a demo that did not answer."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        masks = [line for line in status.splitlines() if line.startswith(("Sig", "State"))]
        self.process.send_signal(signal.SIGABRT)
        self.wait_for("\x00", timeout=3)
        return self.text + "\n" + "\n".join(masks)

    def wait_for(self, needle: str, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while needle not in self.text and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.text += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:              # the demo ended and closed the terminal
                    break
        return needle in self.text


def test_events_print_as_they_happen_and_ctrl_c_stops_daemons_first(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    term = Terminal(out)
    try:
        assert term.wait_for("[Esc]"), term.text
        term.type("1")                                          # a ticket for Đất đai
        assert term.wait_for("🎫 1001 — Đất đai: 1 người đang chờ"), term.text
        term.type("q")                                          # counter 1: Next
        assert term.wait_for("🔔 Quầy số 1: 1001"), term.text
        term.type("r")                                          # counter 1: Done
        term.wait_for("\x00", timeout=0.5)   # the pad's Done reaches the caller before the rating key
        term.type("7")                                          # the citizen rates it
        assert term.wait_for("⭐ Quầy số 1: Rất hài lòng"), term.text
        term.type("\x03")                                       # Ctrl-C in the terminal
        assert term.wait_for("saving and stopping"), term.stacks()
        assert term.wait_for("delete"), term.text
        assert term.process.wait(timeout=30) == 130
    finally:
        if term.process.poll() is None:
            term.process.send_signal(signal.SIGKILL)
            term.process.wait()
        os.close(term.master)
    logs = {path.stem: path.read_text(encoding="utf-8", errors="replace")
            for path in (out / "logs").glob("*.log")}
    for name in ("caller", "kiosk", "counter-1", "counter-2", "counter-3"):
        # Ctrl-C reached the demo only: each daemon was stopped by the demo, while the broker
        # was still there (a daemon that lost its broker first would say so).
        assert "stopping on SIGTERM" in logs[name], (name, logs[name][-2000:])
        assert "SIGINT" not in logs[name] and "lost the broker" not in logs[name], name
