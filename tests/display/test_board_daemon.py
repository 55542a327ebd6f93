"""The board against a real broker: snapshots, timeouts, offline and catching up, junk."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
from pathlib import Path

from motcua.display.daemon import BoardState, _drain
from PIL import Image
from rig import Listener, write_site_config

from motcua.config import load_config
from motcua.mqtt import Link
from motcua.protocol import Board, BoardCall, Topics, encode

TOPICS = Topics("liem-chung")
AT = "2026-11-28T09:30:00+07:00"


def board(seq: int, number: str) -> bytes:
    return encode(Board(seq=seq, updated_at=AT, day="2026-11-28",
                        calls=[BoardCall(counter="1", number=number, service="dat-dai", at=AT)]))


def snapshot(config: Path, out: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "motcua.cli", "display", "--config", str(config), "--snapshot",
         str(out), "--size", "800x600", "--timeout", str(timeout)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy"})


def test_snapshot_of_the_retained_board(tmp_path: Path, broker) -> None:
    config = write_site_config(tmp_path, broker_url=broker.url)
    publisher = Listener(broker.url, "unused")
    publisher.publish(TOPICS.board, board(1, "1001"), retain=True)
    result = snapshot(config, tmp_path / "board.png", timeout=10)
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "board.png").size == (800, 600)
    publisher.close()


def test_snapshot_without_a_board_fails_clearly(tmp_path: Path, broker) -> None:
    config = write_site_config(tmp_path, broker_url=broker.url)
    result = snapshot(config, tmp_path / "board.png", timeout=1)
    assert result.returncode == 1
    assert "no board state" in result.stdout
    assert not (tmp_path / "board.png").exists()


def wait_until(state: BoardState, inbox: queue.Queue, predicate, timeout: float = 20) -> bool:
    for _ in range(int(timeout * 10)):      # _drain waits up to 0.1 s for an event
        _drain(state, inbox, timeout=0.1)
        if predicate():
            return True
    return predicate()


def test_offline_keeps_the_last_board_then_catches_up(tmp_path: Path, broker) -> None:
    config = load_config(write_site_config(tmp_path, broker_url=broker.url))
    publisher = Listener(broker.url, "unused")
    publisher.publish(TOPICS.board, board(1, "1001"), retain=True)
    inbox: queue.Queue = queue.Queue()
    state = BoardState(TOPICS, None, config.site.tz)
    link = Link(config.broker, TOPICS, role="display", device="board", inbox=inbox,
                subscriptions=[(TOPICS.board, 1)])
    link.start()
    try:
        assert wait_until(state, inbox, lambda: state.board is not None and state.online)
        publisher.close()
        broker.stop()
        assert wait_until(state, inbox, lambda: not state.online)
        assert state.board is not None and state.board.calls[0].number == "1001"
        broker.start()                                 # same port, persistence kept
        publisher = Listener(broker.url, "unused")
        publisher.publish(TOPICS.board, board(2, "1002"), retain=True)
        assert wait_until(state, inbox, lambda: state.online and state.board is not None
                          and state.board.calls[0].number == "1002", timeout=40)
    finally:
        link.stop()
        publisher.close()


def test_malformed_boards_are_dropped_and_counted(tmp_path: Path, broker) -> None:
    config = load_config(write_site_config(tmp_path, broker_url=broker.url))
    inbox: queue.Queue = queue.Queue()
    state = BoardState(TOPICS, None, config.site.tz)
    link = Link(config.broker, TOPICS, role="display", device="board", inbox=inbox,
                subscriptions=[(TOPICS.board, 1)])
    link.start()
    publisher = Listener(broker.url, "unused")
    try:
        assert wait_until(state, inbox, lambda: state.online)
        for junk in (b"", b"\xff", b"{}", b'{"v":1,"seq":"x"}', b"[]"):
            publisher.publish(TOPICS.board, junk)
        publisher.publish(TOPICS.board, board(5, "1005"))
        assert wait_until(state, inbox, lambda: state.board is not None)
        assert state.dropped == 5
        assert state.board.seq == 5
    finally:
        link.stop()
        publisher.close()
