"""Waiting-room board: idle CPU and memory of ``motcua display``, and board message -> flipped frame.

1. Idle: the real ``motcua display --size 1920x1080`` process (SDL dummy video driver)
   showing the example office's board, measured over ``--seconds`` (default 30) after a
   warm-up: CPU % of one core (user + system) and resident memory. Once with the example's
   ticker, once with ``ticker = ""``.
2. Latency: the board's owner loop (the frame's owner_loop with Screen, as the daemon runs
   it) on a 1920x1080 dummy screen with a real Link; another client publishes boards that change one counter's
   number; the figure is publish -> the flip whose rectangles include that counter's row
   (so it also counts the broker hop).

    .venv/bin/python bench/board_bench.py [--seconds 30] [--boards 100]
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "display")]

import psutil  # noqa: E402
import pygame  # noqa: E402
from board_samples import make_board  # noqa: E402
from motcua.display.daemon import SCREEN_PACE, BoardApp, Screen  # noqa: E402
from motcua.display.fonts import FontBook  # noqa: E402
from rig import Listener, Mosquitto, write_site_config  # noqa: E402

from motcua.cli import load_rooms  # noqa: E402
from motcua.config import load_config  # noqa: E402
from motcua.daemon import Systemd, owner_loop  # noqa: E402
from motcua.mqtt import ThreadedLink  # noqa: E402
from motcua.protocol import Topics, encode  # noqa: E402

load_rooms()     # this script reads a site config: every room's section

TOPICS = Topics("liem-chung")


def idle(config_path: Path, seconds: float, label: str) -> None:
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "motcua"), "display", "--config", str(config_path),
         "--size", "1920x1080"], stderr=subprocess.DEVNULL)
    try:
        probe = psutil.Process(process.pid)
        threading.Event().wait(5)                       # start-up, first full frame
        before = probe.cpu_times()
        start = time.monotonic()
        threading.Event().wait(seconds)
        after = probe.cpu_times()
        elapsed = time.monotonic() - start
        cpu = (after.user - before.user + after.system - before.system) / elapsed * 100
        rss = probe.memory_info().rss / 2**20
        print(f"idle {label:<22} CPU {cpu:5.2f} % of one core over {elapsed:.0f} s   RSS {rss:6.1f} MB")
    finally:
        process.terminate()
        process.wait(10)


def latency(config_path: Path, broker_url: str, boards: int) -> None:
    config = load_config(config_path)
    pygame.display.init()
    screen = pygame.display.set_mode((1920, 1080))
    app = BoardApp(config, screen, FontBook.find())
    row = app.painter.layout.counter_rows[0].row
    inbox: queue.Queue = queue.Queue()
    link = ThreadedLink(config.broker, TOPICS, role="display", device="bench", inbox=inbox,
                subscriptions=[(TOPICS.board, 1)])
    link.start()
    stop = threading.Event()
    sent: dict[str, float] = {}
    flipped: dict[str, float] = {}
    shown = threading.Condition()

    def on_flip(rects: list) -> None:
        number = app.keeper.counter_view("1").number
        if row in rects and number in sent and number not in flipped:
            with shown:
                flipped[number] = time.perf_counter()
                shown.notify_all()

    def publish() -> None:
        publisher = Listener(broker_url, "unused")
        link.connected.wait(10)
        now = datetime.now(config.site.tz)
        try:
            for i in range(boards):
                number = str(2001 + i)
                payload = encode(make_board(now, seq=i + 2, serving={"1": number}))
                sent[number] = time.perf_counter()
                publisher.client.publish(TOPICS.board, payload, qos=1)
                with shown:
                    shown.wait_for(lambda n=number: n in flipped, timeout=5)
                threading.Event().wait(0.05)
        finally:
            publisher.close()
            stop.set()

    thread = threading.Thread(target=publish)
    thread.start()
    try:
        owner_loop(Screen(app, pygame, stop, on_flip=on_flip), link=link, inbox=inbox, stop=stop,
                   systemd=Systemd(), pace=SCREEN_PACE, clock=app.mono)
    finally:
        thread.join()
        link.stop()
        pygame.quit()
    in_order = [(flipped[n] - sent[n]) * 1000 for n in sorted(flipped)]
    print(f"first board message -> flipped frame {in_order[0]:6.2f} ms (glyphs rendered the first time)")
    samples = sorted(in_order[1:])
    print(f"board message -> flipped frame   median {statistics.median(samples):6.2f} ms   "
          f"p95 {samples[int(len(samples) * 0.95)]:6.2f} ms   max {samples[-1]:6.2f} ms   "
          f"(n={len(samples)}, incl. the broker hop)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--boards", type=int, default=100)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto")
        broker.start()
        try:
            publisher = Listener(broker.url, "unused")
            publisher.publish(TOPICS.board, encode(make_board(datetime.now().astimezone(), seq=1)),
                              retain=True)
            publisher.close()
            example = write_site_config(Path(tmp) / "example", broker_url=broker.url)
            quiet = write_site_config(Path(tmp) / "quiet", broker_url=broker.url)
            quiet.write_text(quiet.read_text(encoding="utf-8").replace(
                'ticker = "Thực hiện', 'ticker = ""\n# "Thực hiện'), encoding="utf-8")
            idle(example, options.seconds, "with the ticker")
            idle(quiet, options.seconds, "without a ticker")
            latency(example, broker.url, options.boards)
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
