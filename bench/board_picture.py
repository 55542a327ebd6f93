"""Draws docs/board.png: the example office's board at 1920x1080 on a busy morning.

The same drawing code as the TV (BoardApp on an off-screen surface), with a fixed
moment so the picture is reproducible: Tuesday 09:42:17, counter 3 has just called 3017.

    .venv/bin/python bench/board_picture.py [--out docs/board.png] [--size 1920x1080]
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame
from motcua.display.daemon import BoardApp
from motcua.display.fonts import FontBook

from motcua.cli import load_rooms
from motcua.config import load_config
from motcua.mqtt import Inbound, LinkUp
from motcua.protocol import Board, BoardCall, BoardCounter, Topics, encode

load_rooms()     # this script reads a site config: every room's section

ROOT = Path(__file__).resolve().parents[1]


def morning(now: datetime) -> Board:
    def ago(seconds: int) -> str:
        return (now - timedelta(seconds=seconds)).isoformat(timespec="seconds")

    calls = [("3", "3017", "ldtbxh", "Nguyễn V. A.", False, 2),
             ("1", "1024", "dat-dai", None, False, 95),
             ("2", "C012", "chung-thuc", "Trần T. B.", True, 140),
             ("4", "C011", "chung-thuc", None, False, 310),
             ("2", "2009", "tu-phap", "Lê Q. H.", False, 520),
             ("1", "1023", "dat-dai", "Phạm T. T. H.", False, 760)]
    return Board(
        seq=1_764_300_000_000, updated_at=ago(1), day=now.strftime("%Y-%m-%d"),
        calls=[BoardCall(counter=c, number=n, service=s, at=ago(age), name=name, recall=recall)
               for c, n, s, name, recall, age in calls],
        counters=[BoardCounter("1", "serving", "1024"),
                  BoardCounter("2", "serving", "C012", "Trần T. B."),
                  BoardCounter("3", "serving", "3017", "Nguyễn V. A."),
                  BoardCounter("4", "paused")],
        waiting={"dat-dai": 9, "tu-phap": 4, "ldtbxh": 2, "chung-thuc": 6},
        wait_estimate_s={"dat-dai": 1500, "tu-phap": 720, "chung-thuc": 540},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "board.png"))
    parser.add_argument("--size", default="1920x1080")
    options = parser.parse_args()
    size = tuple(int(part) for part in options.size.split("x"))
    config = load_config(ROOT / "examples" / "liem-chung.toml")
    now = datetime(2026, 12, 1, 9, 42, 17, tzinfo=config.site.tz)
    app = BoardApp(config, pygame.Surface(size), FontBook.find(), mono=lambda: 100.0,
                   wall=lambda: now)
    app.handle(LinkUp(session_present=False))
    app.handle(Inbound(topic=Topics(config.site.id).board, payload=encode(morning(now)), mid=1,
                       qos=1, retain=True))
    app.started = 100.0 - 2.5          # the ticker has scrolled a little
    app.frame()
    pygame.image.save(app.surface, options.out)
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
