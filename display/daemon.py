"""``motcua display``: the waiting-room board (or one counter's small screen) on a TV.

The daemon frame's loop (motcua/daemon.py) on pygame's main thread is the owner loop: the
MQTT link's callbacks only enqueue, and each turn takes what the inbox holds, then
redraws the regions that changed and flips only those (:class:`Screen`).
It sleeps on the inbox until the next thing to draw (the ticker's next frame, the
highlight's next blink, the clock's next second), so a board message is drawn as soon
as it arrives.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from motcua.config import SiteConfig
from motcua.daemon import (
    Drops,
    Pace,
    Systemd,
    closing_on_error,
    run_daemon,
    setup_logging,
    stop_on_signals,
    take,
)
from motcua.errors import ConfigError, require
from motcua.mqtt import Inbound, Link, LinkDown, LinkUp, ThreadedLink
from motcua.protocol import Board, Heartbeat, Topics

from .fonts import FontBook, missing_glyphs
from .layout import Rect
from .render import BoardPainter, CounterPainter
from .state import LABELS, BoardKeeper

log = logging.getLogger(__name__)

WINDOW_SIZE = (1280, 720)          # a desktop window without --size and with fullscreen = false
SNAPSHOT_SIZE = (1920, 1080)
COUNTER_SNAPSHOT_SIZE = (800, 480)
SETTLE_S = 0.3                     # after the first board, a newer one may follow at once


class BoardApp:
    """The board's owner: takes inbox events, draws frames on a surface (any pygame Surface)."""

    def __init__(self, config: SiteConfig, surface: Any, fonts: FontBook, *,
                 counter: str | None = None, mono: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self.topics = Topics(config.site.id)
        self.surface = surface
        self.counter = counter
        self.mono = mono
        self.wall = wall or (lambda: datetime.now(config.site.tz))
        self.keeper = BoardKeeper(config)
        self.painter: BoardPainter | CounterPainter
        if counter is None:
            self.painter = BoardPainter(surface, config, fonts)
        else:
            self.painter = CounterPainter(surface, fonts)
        self.ticker_moves = counter is None and bool(config.board.ticker)
        self.frame_s = 1.0 / config.board.fps
        self.started = mono()
        self.drops = Drops(log)

    @property
    def dropped(self) -> int:
        return self.drops.count

    def handle(self, event: object) -> None:
        if isinstance(event, Inbound) and event.topic == self.topics.board:
            board = self.drops.decode(Board.decode, event, "a board message")
            if board is not None:
                self.keeper.offer(board, retained=event.retain, mono=self.mono(), wall=self.wall())
        elif isinstance(event, Inbound) and event.topic == self.topics.heartbeat:
            heartbeat = self.drops.decode(Heartbeat.decode, event, "a heartbeat")
            if heartbeat is not None:
                self.keeper.heartbeat(heartbeat, self.mono())
        elif isinstance(event, LinkUp):
            self.keeper.link_up(self.mono())
            log.info("broker connected: the retained board follows")
        elif isinstance(event, LinkDown):
            self.keeper.link_down()
            log.warning("broker lost: showing the last board with the offline mark")

    def frame(self, *, force_highlight: bool = False) -> list[Rect]:
        """Redraw what changed; the rectangles to flip."""
        mono = self.mono()
        view = self.keeper.view(self.wall(), mono, force_highlight=force_highlight)
        if isinstance(self.painter, CounterPainter):
            return self.painter.paint(self.keeper.counter_view(self.counter or ""), view)
        return self.painter.paint(view, ticker_s=mono - self.started)

    def wait_s(self) -> float:
        """How long the loop may sleep before the picture must change by itself."""
        if self.ticker_moves:
            return self.frame_s
        mono = self.mono()
        wall = self.wall()
        until = 1.0 - wall.microsecond / 1e6 + 0.005        # just after the next second
        blink = self.keeper.next_change(mono)
        if blink is not None:
            until = min(until, blink - mono)
        return max(0.005, until)


SCREEN_PACE = Pace(tick_every_turn=True)    # a board message is drawn as soon as it came


class Screen:
    """The board's owner on a display: :class:`BoardApp`, pygame's window events, the flips."""

    def __init__(self, app: BoardApp, pygame: Any, stop: threading.Event, *,
                 on_flip: Callable[[list[Rect]], None] = lambda rects: None) -> None:
        self.app = app
        self.pygame = pygame
        self.stop = stop
        self.on_flip = on_flip

    def handle(self, event: object) -> None:
        self.app.handle(event)

    def tick(self, now: float) -> float:
        """Window events, then redraw what changed and flip only that; the time until the
        picture must change by itself."""
        pygame = self.pygame
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN
                                             and event.key in (pygame.K_ESCAPE, pygame.K_q)):
                self.stop.set()
        dirty = self.app.frame()
        if dirty:
            pygame.display.update(dirty)
            self.on_flip(dirty)
        return self.app.wait_s()

    def health(self) -> dict[str, object]:
        app = self.app
        return dict(dropped=app.dropped, has_board=app.keeper.board is not None,
                    caller=app.keeper.caller_trouble(app.mono()) or "ok")


class _Pygame:
    """pygame, closed last (the frame's release)."""

    def __init__(self, pygame: Any) -> None:
        self.pygame = pygame

    def close(self) -> None:
        self.pygame.quit()


def run(config: SiteConfig, options: argparse.Namespace) -> int:
    counter = options.counter
    if counter is not None:
        try:
            config.counter(counter)
        except KeyError:
            known = ", ".join(c.id for c in config.counters)
            raise ConfigError("command line", "--counter",
                              f"no counter {counter!r} in the config (known: {known})") from None
    # The broker account "display-<name>" (written by scripts/install) may publish only
    # status/display/<name>, so that name is the device; without an account, the host name.
    username = config.broker.username or ""
    host = username.removeprefix("display-") if username.startswith("display-") else \
        socket.gethostname().split(".")[0] or "board"
    device = f"{host}-snapshot" if options.snapshot else (f"{host}-counter-{counter}" if counter else host)
    setup_logging("display", device, verbose=options.verbose)
    if options.snapshot:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")    # a snapshot needs no screen
    pygame = require("pygame", "display", "python3-pygame")
    fonts = FontBook.find(regular=config.board.font, bold=config.board.bold_font)
    _warn_missing_glyphs(config, fonts)
    topics = Topics(config.site.id)
    inbox: queue.Queue = queue.Queue()
    link = ThreadedLink(config.broker, topics, role="display", device=device, inbox=inbox,
                subscriptions=[(topics.board, 1), (topics.heartbeat, 0)])
    if options.snapshot:
        link.start()
        try:
            return _snapshot(config, options, pygame, fonts, inbox)
        finally:
            link.stop()
            pygame.quit()
    # Before the link says online: a SIGTERM right after must find the handler in place.
    return _show(config, options, pygame, fonts, inbox, link, stop_on_signals())


def _snapshot(config: SiteConfig, options: argparse.Namespace, pygame: Any, fonts: FontBook,
              inbox: queue.Queue) -> int:
    size = options.size or (COUNTER_SNAPSHOT_SIZE if options.counter else SNAPSHOT_SIZE)
    app = BoardApp(config, pygame.Surface(size), fonts, counter=options.counter)
    deadline = time.monotonic() + options.timeout
    while app.keeper.board is None and time.monotonic() < deadline:
        take(app, link=None, inbox=inbox, pace=Pace(),
             timeout=min(0.2, max(0.0, deadline - time.monotonic())))
    if app.keeper.board is None:
        print(f"motcua display: no board state from {config.broker.url} within {options.timeout:g} s "
              "(is the caller running?)", file=sys.stderr)
        return 1
    take(app, link=None, inbox=inbox, pace=Pace(), timeout=SETTLE_S)
    app.frame(force_highlight=True)
    pygame.image.save(app.surface, options.snapshot)
    log.info("board (seq %d) written to %s", app.keeper.board.seq, options.snapshot)
    return 0


def _show(config: SiteConfig, options: argparse.Namespace, pygame: Any, fonts: FontBook,
          inbox: queue.Queue, link: Link, stop: threading.Event) -> int:
    systemd = Systemd()
    opened: list = [_Pygame(pygame)]
    with closing_on_error(opened):
        pygame.display.init()     # SDL picks the driver: KMS/DRM on a Pi without X, else a window
        if options.size:
            screen = pygame.display.set_mode(options.size)
        elif config.board.fullscreen:
            screen = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
        else:
            screen = pygame.display.set_mode(WINDOW_SIZE)
        pygame.display.set_caption(f"{config.board.title or config.site.name} – motcua")
        pygame.mouse.set_visible(False)
        log.info("board on %s at %dx%d", pygame.display.get_driver(), *screen.get_size())
        app = BoardApp(config, screen, fonts, counter=options.counter)
        pygame.display.flip()
    return run_daemon(Screen(app, pygame, stop), link=link, inbox=inbox, stop=stop, systemd=systemd,
                      ready=f"{screen.get_width()}x{screen.get_height()}", opened=opened,
                      pace=SCREEN_PACE, clock=app.mono)


def _warn_missing_glyphs(config: SiteConfig, fonts: FontBook) -> None:
    """A text of the config the font cannot draw is logged once at start, not shown as boxes."""
    texts = "".join([config.board.title or config.site.name, config.site.unit, config.board.ticker,
                     *LABELS.values(), *(s.name for s in config.services),
                     *(c.name for c in config.counters)])
    for bold in (False, True):
        missing = missing_glyphs(fonts.get(32, bold=bold), texts)
        if missing:
            log.error("the font %s has no glyph for %r: set board.font to a font that has",
                      fonts.bold if bold else fonts.regular, missing)
