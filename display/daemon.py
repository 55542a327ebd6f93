"""``motcua display``: the waiting-room board (or one counter's screen) on the TV.

The pygame loop is the owner loop: the MQTT link only enqueues, and each frame
drains the inbox. The board is repainted when something changed or the clock's
second turns; in between only the ticker strip is redrawn.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import threading
import time
from datetime import datetime, tzinfo
from typing import Any

from motcua.config import SiteConfig
from motcua.daemon import Systemd, setup_logging, stop_on_signals
from motcua.errors import MotcuaError, ProtocolError
from motcua.mqtt import Inbound, Link, LinkDown, LinkUp
from motcua.protocol import Board, CounterState, Topics

from .view import board_view

log = logging.getLogger(__name__)
FRAME_S = 1 / 15          # ticker and blink
DEFAULT_SIZE = (1280, 720)


class BoardState:
    """What the screen knows: the newest board, the counter's state, the link."""

    def __init__(self, topics: Topics, counter: str | None, tz: tzinfo) -> None:
        self.topics = topics
        self.counter = counter
        self.tz = tz
        self.board: Board | None = None
        self.counter_state: CounterState | None = None
        self.online = False
        self.received_at: datetime | None = None
        self.dropped = 0

    def apply(self, event: object) -> bool:
        """Take one inbox event; True when the screen must change."""
        if isinstance(event, LinkUp):
            self.online = True
            return True
        if isinstance(event, LinkDown):
            self.online = False
            return True
        if not isinstance(event, Inbound):
            return False
        try:
            if event.topic == self.topics.board:
                board = Board.decode(event.payload)
                if self.board and board.seq < self.board.seq and board.day == self.board.day \
                        and not event.retain:
                    return False       # an old copy overtaken by a newer board
                self.board = board
            elif self.counter and event.topic == self.topics.counter_state(self.counter):
                self.counter_state = CounterState.decode(event.payload)
            else:
                return False
        except ProtocolError as exc:
            self.dropped += 1
            log.warning("dropped a message on %s: %s", event.topic, exc)
            return False
        self.received_at = datetime.now(self.tz)
        return True

    @property
    def has_data(self) -> bool:
        return self.counter_state is not None if self.counter else self.board is not None


def run(config: SiteConfig, options: argparse.Namespace) -> int:
    counter = options.counter
    if counter is not None:
        try:
            config.counter(counter)
        except KeyError:
            raise MotcuaError(f"--counter {counter}: no such counter in {config.file}") from None
    device = f"counter-{counter}" if counter else "board"
    setup_logging("display", device, verbose=options.verbose)
    if options.snapshot:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")   # a snapshot needs no screen
    from .render import pygame_module

    pygame = pygame_module()
    topics = Topics(config.site.id)
    inbox: queue.Queue = queue.Queue()
    subscriptions = [(topics.board, 1)]
    if counter:
        subscriptions.append((topics.counter_state(counter), 1))
    state = BoardState(topics, counter, config.site.tz)
    link = Link(config.broker, topics, role="display", device=device, inbox=inbox,
                subscriptions=subscriptions)
    link.start()
    try:
        if options.snapshot:
            return _snapshot(config, options, state, inbox, pygame)
        return _show(config, options, state, inbox, pygame, link)
    finally:
        link.stop()
        pygame.quit()


def _drain(state: BoardState, inbox: queue.Queue, timeout: float = 0.0) -> bool:
    changed = False
    try:
        event = inbox.get(timeout=timeout) if timeout else inbox.get_nowait()
        while True:
            changed |= state.apply(event)
            event = inbox.get_nowait()
    except queue.Empty:
        return changed


def _snapshot(config: SiteConfig, options: argparse.Namespace, state: BoardState,
              inbox: queue.Queue, pygame: Any) -> int:
    deadline = time.monotonic() + options.timeout
    while not state.has_data and time.monotonic() < deadline:
        _drain(state, inbox, timeout=max(0.01, min(0.2, deadline - time.monotonic())))
    _drain(state, inbox, timeout=0.3)     # a retained board may be followed by a newer one
    if not state.has_data:
        print(f"motcua display: no board state from {config.broker.url} within "
              f"{options.timeout:g} s (is the caller running?)")
        return 1
    surface = pygame.Surface(options.size or DEFAULT_SIZE)
    _paint(config, surface, state, blink_on=True, ticker_offset=surface.get_width() // 3)
    pygame.image.save(surface, options.snapshot)
    log.info("board written to %s", options.snapshot)
    return 0


def _paint(config: SiteConfig, surface: Any, state: BoardState, *, blink_on: bool,
           ticker_offset: int) -> object:
    from .render import BoardPainter, paint_counter

    now = datetime.now(config.site.tz)
    if state.counter:
        s = state.counter_state
        paint_counter(surface, config.counter(state.counter).name,
                      s.number if s and s.number else "—", s.name if s else None, state.online)
        return None
    painter = BoardPainter(surface)
    painter.paint(board_view(config, state.board, now=now, online=state.online,
                             received_at=state.received_at),
                  now, blink_on=blink_on, ticker_text=config.board.ticker, ticker_offset=ticker_offset)
    return painter


def _show(config: SiteConfig, options: argparse.Namespace, state: BoardState, inbox: queue.Queue,
          pygame: Any, link: Link) -> int:
    stop = stop_on_signals()
    systemd = Systemd()
    pygame.display.init()
    if options.size:
        screen = pygame.display.set_mode(options.size)
    else:
        screen = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
    pygame.display.set_caption(config.site.name)
    pygame.mouse.set_visible(False)
    systemd.ready()
    last_second, last_blink, offset, painter = -1, False, 0, None
    tick = threading.Event()
    while not stop.is_set():
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN
                                             and event.key == pygame.K_ESCAPE):
                stop.set()
        changed = _drain(state, inbox)
        second = int(time.time())
        blink_on = (time.monotonic() % 1.0) < 0.6
        if changed or second != last_second or blink_on != last_blink:
            painter = _paint(config, screen, state, blink_on=blink_on, ticker_offset=offset)
            pygame.display.flip()
            last_second, last_blink = second, blink_on
            systemd.watchdog()
            link.set_health(dropped=state.dropped)
        elif painter is not None and config.board.ticker:
            rect = painter.paint_ticker(config.board.ticker, offset)
            pygame.display.update(rect)
        offset += max(2, screen.get_width() // 400)
        tick.wait(FRAME_S)
    systemd.stopping()
    return 0
