"""The whole office as separate processes against a real Mosquitto.

A key press at the kiosk prints a ticket on the (fake, networked) printer; the counter's
Next makes the caller announce it (a WAV file that is not silent) and publish the board; the
board's snapshot taken after the call differs from the one before.
"""

from __future__ import annotations

import array
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from rig import Listener

from motcua.protocol import Board, Called, Status, Ticket, Topics

pytestmark = pytest.mark.e2e
TOPICS = Topics("liem-chung")


class Role:
    """One role of the office as its own `motcua` process."""

    def __init__(self, name: str, args: list[str], logs: Path, *, keys: bool = False) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "motcua.cli", *args],
            stdin=subprocess.PIPE if keys else subprocess.DEVNULL,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, env=env)

    def press(self, keys: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(keys.encode())
        self.process.stdin.flush()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def snapshot(config: Path, path: Path, logs: Path) -> Image.Image:
    result = subprocess.run(
        [sys.executable, "-m", "motcua.cli", "display", "--config", str(config),
         "--snapshot", str(path), "--size", "1280x720", "--timeout", "15"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy"}, check=False)
    (logs / f"{path.stem}.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr
    return Image.open(path).convert("RGB")


def rms(path: Path) -> float:
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return (sum(s * s for s in samples) / max(len(samples), 1)) ** 0.5


def _online(listener: Listener) -> set[str]:
    online = set()
    for topic, payload, _ in listener.messages:
        if topic.startswith(f"{TOPICS.root}/status/"):
            status = Status.decode(payload)
            name = f"{status.role}/{status.device}"
            (online.add if status.state == "online" else online.discard)(name)
    return online


def test_key_press_to_ticket_to_call_to_board(tmp_path: Path, broker, printer,
                                               site_config: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    wav_dir = tmp_path / "wav"
    listener = Listener(broker.url, TOPICS.ticket_from("k1"), TOPICS.board, TOPICS.called, TOPICS.status_all)
    common = ["--config", str(site_config)]
    roles = [
        Role("caller", ["caller", *common, "--audio", f"wav:{wav_dir}",
                        "--db", str(tmp_path / "caller.db")], logs),
        Role("kiosk", ["kiosk", *common, "--keyboard"], logs, keys=True),
        Role("counter", ["counter", *common, "--counter", "1", "--keyboard"], logs, keys=True),
    ]
    try:
        assert listener.wait_for(
            lambda li: {"kiosk/k1", "counter/1"} <= _online(li)
            and any(name.startswith("caller/") for name in _online(li)), timeout=30), \
            {role.name: role.output() for role in roles}
        assert listener.wait_for(lambda li: li.payloads(TOPICS.board), timeout=10), \
            "the caller publishes a board when it starts"
        before = snapshot(site_config, tmp_path / "before.png", logs)

        roles[1].press("1")                                   # service "Đất đai"
        assert printer.wait_for(lambda data: len(data) > 500, timeout=15), roles[1].output()
        assert listener.wait_for(lambda li: li.payloads(TOPICS.ticket_from("k1")), timeout=15)
        ticket = Ticket.decode(listener.payloads(TOPICS.ticket_from("k1"))[0])
        assert (ticket.service, ticket.number, ticket.kiosk) == ("dat-dai", "1001", "k1")

        roles[2].press("q")                                   # counter 1: Next
        assert listener.wait_for(lambda li: li.payloads(TOPICS.called), timeout=15), \
            roles[0].output()
        called = Called.decode(listener.payloads(TOPICS.called)[0])
        assert (called.counter, called.number) == ("1", "1001")
        assert "một nghìn không trăm linh một" in called.sentence

        def board_shows_call(li: Listener) -> bool:
            boards = [Board.decode(p) for p in li.payloads(TOPICS.board)]
            return any(b.calls and b.calls[0].number == "1001" for b in boards)

        assert listener.wait_for(board_shows_call, timeout=15)

        def wav_written() -> list[Path]:
            return sorted(wav_dir.glob("*.wav")) if wav_dir.exists() else []

        assert listener.wait_for(lambda li: bool(wav_written()), timeout=30), roles[0].output()
        assert rms(wav_written()[0]) > 300, "the announcement is not silent"

        after = snapshot(site_config, tmp_path / "after.png", logs)
        assert ImageChops.difference(before, after).getbbox() is not None
    finally:
        codes = {role.name: role.stop() for role in roles}
        listener.close()
    assert codes == {"caller": 0, "kiosk": 0, "counter": 0}, \
        {role.name: role.output()[-2000:] for role in roles}
