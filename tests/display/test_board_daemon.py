"""The board on a real broker: catching up across a restart, junk, --snapshot, a clean stop."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pygame
from board_samples import make_board
from motcua.display import render
from motcua.display.daemon import BoardApp
from motcua.display.layout import board_layout
from PIL import Image
from rig import Listener, write_site_config

from motcua.config import load_config
from motcua.daemon import Pace, take
from motcua.mqtt import Inbound, ThreadedLink
from motcua.protocol import Status, Topics, encode

REPO = Path(__file__).resolve().parents[2]
MOTCUA = REPO / ".venv" / "bin" / "motcua"
TOPICS = Topics("liem-chung")


def pump_until(app: BoardApp, inbox: queue.Queue, predicate, timeout: float = 30.0) -> bool:
    """Be the board's owner loop until predicate() holds (or the deadline passes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        take(app, link=None, inbox=inbox, pace=Pace(), timeout=0.05)
        app.frame()
        if predicate():
            return True
    return False


def count_colour(surface, rect, colour) -> int:
    data, wanted = pygame.image.tobytes(surface.subsurface(rect), "RGB"), bytes(colour)
    return sum(1 for i in range(0, len(data), 3) if data[i:i + 3] == wanted)


class RecordingApp(BoardApp):
    """The board, noting whether each board message came as the broker's retained copy."""

    retained: list[bool]

    def handle(self, event: object) -> None:
        if isinstance(event, Inbound):
            self.retained.append(event.retain)
        super().handle(event)


def test_offline_keeps_the_board_then_catches_up_after_a_broker_restart(tmp_path, broker, fonts) -> None:
    config = load_config(write_site_config(tmp_path, broker_url=broker.url))
    publisher = Listener(broker.url, "unused")
    first = make_board(datetime.now(config.site.tz), seq=1)
    publisher.publish(TOPICS.board, encode(first), retain=True)
    inbox: queue.Queue = queue.Queue()
    app = RecordingApp(config, pygame.Surface((1280, 720)), fonts)
    app.retained = []
    link = ThreadedLink(config.broker, TOPICS, role="display", device="test-board", inbox=inbox,
                subscriptions=[(TOPICS.board, 1)])
    link.start()
    notice = app.painter.layout.notice
    number = app.painter.layout.counter_rows[0].number
    try:
        assert pump_until(app, inbox, lambda: app.keeper.board is not None and app.keeper.connected)
        assert app.retained == [True], "the retained board came at once"
        assert count_colour(app.surface, notice, render.OFFLINE) == 0
        shown = pygame.image.tobytes(app.surface.subsurface(number), "RGB")
        publisher.close()

        broker.stop()
        assert pump_until(app, inbox, lambda: not app.keeper.connected)
        assert count_colour(app.surface, notice, render.OFFLINE) > 0, "the offline mark shows"
        assert pygame.image.tobytes(app.surface.subsurface(number), "RGB") == shown, "data kept"

        broker.start()                          # same port; the test republishes the board
        publisher = Listener(broker.url, "unused")
        newer = make_board(datetime.fromisoformat(first.updated_at), seq=2,
                           serving={"1": "1013", "2": "C007", "3": "3017"})
        publisher.publish(TOPICS.board, encode(newer), retain=True)
        assert pump_until(app, inbox, lambda: app.keeper.connected and app.keeper.board.seq == 2)
        assert True in app.retained[1:], "caught up from the retained board"
        assert count_colour(app.surface, notice, render.OFFLINE) == 0, "the offline mark is gone"
        assert pygame.image.tobytes(app.surface.subsurface(number), "RGB") != shown, "1013 now"
    finally:
        link.stop()
        publisher.close()


def test_malformed_boards_are_dropped_never_crash(tmp_path, broker, fonts) -> None:
    config = load_config(write_site_config(tmp_path, broker_url=broker.url))
    inbox: queue.Queue = queue.Queue()
    app = BoardApp(config, pygame.Surface((1280, 720)), fonts)
    link = ThreadedLink(config.broker, TOPICS, role="display", device="test-junk", inbox=inbox,
                subscriptions=[(TOPICS.board, 1)])
    link.start()
    publisher = Listener(broker.url, "unused")
    junk = [b"", b"\xff\xfe", b"[]", b"{}", b'{"v":2,"seq":1}', b'{"v":1,"seq":"x"}',
            b'{"v":1,"seq":1,"updated_at":"yesterday","day":"2026-11-30"}',
            b'{"v":1,"seq":1,"updated_at":"2026-11-30T09:00:00+07:00","day":"x","calls":[1]}',
            b'{"v":1,"seq":1,"updated_at":"2026-11-30T09:00:00+07:00","day":"x","waiting":{"a":-1}}']
    try:
        assert pump_until(app, inbox, lambda: app.keeper.connected)
        for payload in junk:
            publisher.publish(TOPICS.board, payload)
        good = make_board(datetime.now(config.site.tz), seq=7)
        publisher.publish(TOPICS.board, encode(good))
        assert pump_until(app, inbox, lambda: app.keeper.board is not None)
        assert app.dropped == len(junk)
        assert app.keeper.board.seq == 7
    finally:
        link.stop()
        publisher.close()


def run_snapshot(config: Path, out: Path, *extra: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MOTCUA), "display", "--config", str(config), "--snapshot", str(out),
         "--timeout", str(timeout), *extra],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy"})


def test_snapshot_renders_the_retained_board(tmp_path, broker) -> None:
    path = write_site_config(tmp_path, broker_url=broker.url)
    config = load_config(path)
    publisher = Listener(broker.url, "unused")
    now = datetime.now(config.site.tz)
    publisher.publish(TOPICS.board, encode(make_board(now, seq=3)), retain=True)
    publisher.close()
    out = tmp_path / "board.png"
    result = run_snapshot(path, out)
    assert result.returncode == 0, result.stderr
    image = Image.open(out).convert("RGB")
    assert image.size == (1920, 1080)
    lay = board_layout(1920, 1080, counters=4, calls=config.board.recent_calls, services=4, ticker=True)
    x, y, _, _ = lay.call_rows[0].row
    assert image.getpixel((x + 2, y + 2)) == render.HIGHLIGHT, "the newest call is highlighted"
    colours = image.crop(box_of(lay.counter_rows[0].number)).getcolors(1 << 16)
    assert render.NUMBER in {colour for _, colour in colours}, "counter 1's number is drawn"

    counter_out = tmp_path / "counter.png"
    result = run_snapshot(path, counter_out, "--counter", "3", "--size", "400x240")
    assert result.returncode == 0, result.stderr
    assert Image.open(counter_out).size == (400, 240)


def box_of(rect):
    x, y, w, h = rect
    return x, y, x + w, y + h


def test_snapshot_without_a_board_fails_clearly(tmp_path, broker) -> None:
    path = write_site_config(tmp_path, broker_url=broker.url)
    result = run_snapshot(path, tmp_path / "board.png", timeout=1)
    assert result.returncode == 1
    assert "no board state" in result.stderr and broker.url in result.stderr
    assert not (tmp_path / "board.png").exists()


def test_the_daemon_runs_on_a_screen_and_stops_cleanly_on_sigterm(tmp_path, broker) -> None:
    path = write_site_config(tmp_path, broker_url=broker.url)
    status = Listener(broker.url, f"{TOPICS.root}/status/display/#")
    process = subprocess.Popen(
        [str(MOTCUA), "display", "--config", str(path), "--size", "640x360"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy"})

    def states() -> list[str]:
        return [Status.decode(p).state for t, p, _ in status.messages]

    try:
        assert status.wait_for(lambda _: "online" in states(), timeout=20), process.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert status.wait_for(lambda _: states()[-1:] == ["offline"], timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        status.close()
    _, stderr = process.communicate()
    assert "board on dummy at 640x360" in stderr
