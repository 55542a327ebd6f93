"""``motcua web``: the hub's web pages, and ``motcua web pair|tokens|revoke`` for tablets.

One process, one owner: the asyncio event loop runs the HTTP server (uvicorn), the pages'
live streams and everything the broker says. paho's thread only schedules the message onto
the loop (:class:`LoopInbox`), as every daemon's inbox does. Accepted ratings are committed
to a durable outbox before the page hears "Cảm ơn", and go to the caller in order until the
broker's PUBACK, so a restart of the hub between the tap and the caller's commit loses none.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import socket
import sqlite3
import sys
import threading
import time
from typing import Any

from motcua.config import SiteConfig
from motcua.daemon import Drops, Pace, Rhythm, Systemd, release, setup_logging, stop_on_signals
from motcua.delivery import CallerWatch
from motcua.errors import ConfigError, MotcuaError, ProtocolError, require
from motcua.mqtt import Inbound, LinkDown, LinkUp, Published, Session, ThreadedLink
from motcua.protocol import (
    Board,
    CounterState,
    Heartbeat,
    Rating,
    Received,
    Status,
    Ticket,
    Topics,
    encode,
    new_id,
)

from .app import Changes, build_app
from .auth import MIN_PASSWORD, Sessions, UserRole, hash_password
from .settings import DEFAULT_PORT, parse_listen
from .state import Office, Stage, TicketInfo
from .store import CallerTimes, RatingsOutbox, StoreError, WebStore, Writer

log = logging.getLogger(__name__)

DEVICE = "hub"
HEALTH_INTERVAL_S = 5.0
TOKENS_CHECK_S = 1.0


class LoopInbox:
    """A Link's inbox on an event loop: paho's thread only schedules the put."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        with contextlib.suppress(RuntimeError):          # the loop closed while stopping
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def empty(self) -> bool:
        return self.queue.empty()


class WebRole:
    """The web role's state and its MQTT side; every method runs on the event loop."""

    def __init__(self, config: SiteConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.topics = Topics(config.site.id)
        self.changes = Changes()
        levels = len(config.counter_pad.rating.levels)
        self.office = Office(levels=levels, reason_levels=config.web.asks_reason(levels),
                             reasons=config.web.reasons, window_s=config.caller.ratings.window_s)
        state_dir = config.site.state_dir
        self.writer = Writer()                 # every write of web.db and the outbox, off the loop
        self.store = WebStore(state_dir / "web.db")
        for info in self.store.load():
            self.office.tickets[info.id] = info
        self.caller_times = CallerTimes(state_dir / "caller.db")
        self.inbox = LoopInbox(loop)
        self.link = ThreadedLink(config.broker, self.topics, role="web", device=DEVICE, inbox=self.inbox,  # type: ignore[arg-type]
                         subscriptions=[(self.topics.ticket_all, 1), (self.topics.board, 1),
                                        (self.topics.heartbeat, 0), (self.topics.received, 1),
                                        (self.topics.counter_state("+"), 1),
                                        (self.topics.status("+", "+"), 1)],
                         session=Session.KEPT, report_publishes=True)
        # Kept until the caller confirms; its connection is the writer thread's.
        self.outbox = self.writer.submit(RatingsOutbox, state_dir / "web-outbox.db", self.link).result()
        self.watch = CallerWatch()
        self.counts = {"ratings": 0}
        self.drops = Drops(log)
        self.sessions = Sessions()
        self.counter_ids = {c.id for c in config.counters}
        self._status_topic = self.topics.status("", "").rstrip("/") + "/"

    # -- pages' side -------------------------------------------------------------------
    def counter_of(self, token: str) -> str | None:
        counter = self.store.counter_of(token)
        return counter if counter in self.counter_ids else None

    async def send_rating(self, ticket_id: str, level: int, reason: str | None) -> None:
        """Commit the rating to the outbox (on disk), then to paho (in order); the page may then
        say thanks. A second tap meanwhile is refused (pending); StoreError if not on disk."""
        info = self.office.tickets[ticket_id]
        rating = Rating(id=new_id(), score=level, ticket=ticket_id, reason=reason)
        topic, payload = self.topics.counter_rating(info.counter or ""), encode(rating)
        self.office.rating_sent(ticket_id, level)
        try:
            row = await self.writer.now(self.outbox.commit, topic, payload)
        except (OSError, sqlite3.Error) as exc:
            self.office.rating_failed(ticket_id)
            raise StoreError(f"ratings outbox: {exc}") from None
        self.outbox.order.add(row, topic, payload)
        self.save([info])
        self.counts["ratings"] += 1
        log.info("rating %d (%s) of ticket %s at counter %s sent", level, reason or "-",
                 info.number, info.counter)
        self.changes.notify()

    def save(self, infos: list[TicketInfo]) -> None:
        """Into web.db, on the writer thread (the rows are taken now)."""
        if infos:
            self.writer.later(self.store.save_rows, self.store.rows(infos))

    async def watch_tokens(self) -> None:
        """``motcua web revoke`` writes web.db from another process: notice it within a second
        (SQLite's data_version moves on any other connection's commit; the revoked tokens'
        digest says whether it was a revocation) and end that tablet's stream."""
        version = digest = None
        while True:
            try:
                now_version = self.store.read.execute("PRAGMA data_version").fetchone()[0]
                if now_version != version:
                    version = now_version
                    now_digest = self.store.revocations()
                    if digest is not None and now_digest != digest:
                        log.info("a tablet's token was revoked: its page is closed")
                        self.changes.revoked()
                    digest = now_digest
            except sqlite3.Error as exc:
                log.warning("web database: tokens not checked: %s", exc)
            await asyncio.sleep(TOKENS_CHECK_S)

    # -- broker's side -----------------------------------------------------------------
    async def pump(self) -> None:
        """Handle what the broker said; the pages hear once per batch (a Next brings a
        counter state and a board: one wake-up, not two)."""
        queue = self.inbox.queue
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            changed = False
            for item in batch:
                try:
                    changed |= self.handle(item)
                except MotcuaError as exc:       # our own database: say so, keep serving pages
                    log.error("%s", exc)
            if changed:
                self.changes.notify()

    def handle(self, item: object) -> bool:
        """One item of the inbox; True if the pages may show something new."""
        if isinstance(item, Inbound):
            self.on_message(item)
        elif isinstance(item, LinkUp):
            log.info("broker connected (session kept: %s)", item.session_present)
            self.office.set_online(link_up=True)
            self.watch.link_up(time.monotonic())
            resent = self.outbox.link_up()
            if resent:
                log.info("%d ratings sent again", resent)
        elif isinstance(item, LinkDown):
            log.warning("broker lost: %s", item.reason)
            self.outbox.link_down()
            self.watch.link_down()
            self.office.set_online(link_up=False)
        elif isinstance(item, Published):
            self.outbox.published(item.mid)
            return False
        return True

    def on_message(self, message: Inbound) -> None:
        topic = message.topic
        with self.drops.guard(topic):
            if topic == self.topics.heartbeat:
                # Ratings the caller has not confirmed go again while it beats and takes work.
                self.watch.offer(Heartbeat.decode(message.payload), time.monotonic())
                self.outbox.resend_due(self.watch.accepting(time.monotonic()))
            elif topic == self.topics.received:
                rows = self.outbox.order.confirm(Received.decode(message.payload).ids)
                if rows:
                    self.writer.later(self.outbox.forget, rows)
            elif (kiosk := self.topics.kiosk_of(topic)) is not None:
                if message.retain:
                    raise ProtocolError("a retained ticket is not a ticket")
                ticket = Ticket.decode(message.payload)
                if ticket.kiosk != kiosk:
                    raise ProtocolError(f"a ticket of kiosk {ticket.kiosk!r} on {topic}")
                info = self.office.add_ticket(ticket)
                if info is not None:
                    self.save([info])
            elif topic == self.topics.board:
                board = Board.decode(message.payload)
                if self.office.new_board(board) and self.office.board is not None:
                    self.writer.later(self.store.forget_before, self.office.board.day)
            elif topic.startswith(self._status_topic):
                status = Status.decode(message.payload)
                if topic != self.topics.status(status.role, status.device):
                    raise ProtocolError(f"status of {status.role}/{status.device} on {topic}")
                self.office.device_status(status)
            else:
                counter = self.topics.counter_of(topic)
                state = CounterState.decode(message.payload)
                if state.counter != counter:
                    raise ProtocolError(f"state of counter {state.counter!r} on {topic}")
                now = time.time()
                touched = self.office.counter_state(state, now, now)
                for info in touched:
                    # The caller's own finish time where its database is here: the one its rating
                    # window counts from (a Done while this role was down came only now).
                    if info.stage == Stage.DONE and (done := self.caller_times.done_at(info.id)) is not None:
                        info.finished_at = done
                self.save(touched)

    def tick(self, now: float) -> float:
        """Nothing is timed here (the pages' own ticker is a task of the loop)."""
        return HEALTH_INTERVAL_S

    def health(self) -> dict[str, Any]:
        return {"tickets": len(self.office.tickets), "pending_ratings": self.outbox.pending,
                "dropped": self.drops.count, **self.counts}

    def close(self) -> None:
        self.writer.later(self.outbox.close)
        self.writer.close()                    # what was asked is written first
        self.store.close()
        self.caller_times.close()


async def serve(config: SiteConfig, host: str, port: int, systemd: Systemd, stop: threading.Event,
                started: Any = None) -> None:
    """Run until ``stop`` is set or SIGTERM/SIGINT: uvicorn handles them while it serves, then
    restores and re-raises them to the handlers installed before (stop_on_signals), so the
    clean-up below always runs."""
    uvicorn = require("uvicorn", "web", "python3-uvicorn")
    loop = asyncio.get_running_loop()
    role = WebRole(config, loop)
    app = build_app(role, config)
    server = uvicorn.Server(uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
        timeout_graceful_shutdown=2, proxy_headers=False, server_header=False))
    pump = asyncio.create_task(role.pump())
    ticker = asyncio.create_task(role.changes.tick())
    tokens = asyncio.create_task(role.watch_tokens())
    role.link.start()
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
                raise MotcuaError(f"the web server could not listen on {host}:{port}")
            await asyncio.sleep(0.05)
        log.info("pages at http://%s:%d/ (tablet: /tablet, tickets: /t/<id>)", host, port)
        systemd.ready(f"listening on {host}:{port}")
        if started is not None:
            started(role)
        # The daemon frame's schedule (watchdog, health) on this loop: the owner is asyncio's.
        rhythm = Rhythm(role, link=role.link, systemd=systemd, pace=Pace(health_s=HEALTH_INTERVAL_S))
        while not serving.done():
            if stop.is_set():
                server.should_exit = True
            if pump.done():
                pump.result()                 # an unexpected error ends the role: systemd restarts it
            await asyncio.wait({serving}, timeout=min(1.0, rhythm.run_due()))
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        pump.cancel()
        ticker.cancel()
        tokens.cancel()
        release(systemd, role.link, [role])


def run(config: SiteConfig, options: argparse.Namespace) -> int:
    action = getattr(options, "action", None) or "serve"
    if action != "serve":
        return manage(config, options, action)
    setup_logging("web", DEVICE, verbose=getattr(options, "verbose", False))
    stop = stop_on_signals()
    listen = getattr(options, "listen", None) or config.web.listen
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise ConfigError("command line", "--listen", str(exc)) from None
    asyncio.run(serve(config, host, port, Systemd(), stop))
    return 0


# -- tablets' tokens -------------------------------------------------------------------------

def base_url(config: SiteConfig, options: argparse.Namespace) -> str:
    if getattr(options, "url", None):
        return options.url.rstrip("/")
    if config.web.url:
        return config.web.url
    _, port = parse_listen(getattr(options, "listen", None) or config.web.listen)
    return f"http://{socket.gethostname()}.local:{port if port else DEFAULT_PORT}"


def manage(config: SiteConfig, options: argparse.Namespace, action: str) -> int:
    store = WebStore(config.site.state_dir / "web.db")
    try:
        if action == "pair":
            counter = options.counter
            if counter is None or counter not in {c.id for c in config.counters}:
                known = ", ".join(c.id for c in config.counters)
                raise ConfigError("command line", "--counter",
                                  f"say which counter the tablet is for (known: {known})")
            token, token_id = store.new_token(counter)
            url = f"{base_url(config, options)}/tablet#{token}"
            _print_qr(url)
            print(f"Máy tính bảng cho {config.counter(counter).name} (mã {token_id}); "
                  "mở địa chỉ này một lần trên máy tính bảng / open this once on the tablet:")
            print(url)
        elif action == "tokens":
            for paired in store.tokens():
                state = (f"thu hồi / revoked {paired.revoked_at}" if paired.revoked_at
                         else "đang dùng / active")
                print(f"{paired.id}  quầy/counter {paired.counter}  {paired.created_at}  {state}")
        elif action == "revoke":
            if not options.token or not store.revoke(options.token):
                raise MotcuaError(f"no active token {options.token!r} (see: motcua web tokens)")
            print(f"đã thu hồi / revoked {options.token}")
        elif action == "passwd":
            set_password(config, store, options)
        return 0
    finally:
        store.close()


def set_password(config: SiteConfig, store: WebStore, options: argparse.Namespace) -> None:
    """``motcua web passwd USER``: asks the password twice on a terminal, else reads one line."""
    name = (options.user or "").strip()
    if not name or len(name) > 64 or not name.isprintable() or " " in name:
        raise ConfigError("command line", "user", "say the user name: motcua web passwd USER")
    role = UserRole(options.role)
    counter = options.counter
    if role == UserRole.CLERK and counter not in {c.id for c in config.counters}:
        known = ", ".join(c.id for c in config.counters)
        raise ConfigError("command line", "--counter", f"a clerk needs their counter (known: {known})")
    if role == UserRole.HEAD:
        counter = None
    if sys.stdin.isatty():
        password = getpass.getpass("Mật khẩu / password: ")
        if getpass.getpass("Nhập lại / again: ") != password:
            raise MotcuaError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        raise MotcuaError(f"the password must have at least {MIN_PASSWORD} characters")
    store.set_user(name, role, counter, hash_password(password))
    print(f"đã đặt mật khẩu cho / password set for {name} ({role.value}"
          f"{', quầy/counter ' + counter if counter else ''})")


def _print_qr(url: str) -> None:
    try:
        import qrcode
    except ImportError:
        return
    code = qrcode.QRCode(border=1)
    code.add_data(url)
    code.make(fit=True)
    if sys.stdout.isatty():
        code.print_ascii(out=sys.stdout, invert=True)
    else:
        code.print_ascii(out=sys.stdout)
