"""The kiosk daemon: presses in, numbered tickets out, printed tickets on to the caller.

One owner thread reads the inbox (presses, scans, broker events) and does
everything in order: allocate (committed), print, mark printed + outbox (one
transaction), hand the ticket to the link while it is up (motcua.mqtt.InOrder: else
it waits in the outbox for the next LinkUp, so tickets reach the caller in the order
they were printed). paho keeps every QoS 1 publish it was handed and resends the
unacknowledged ones, in order, after each reconnect; the outbox row is deleted on
the broker's PUBACK. The durable outbox covers what paho's memory cannot: rows left
by a previous run go at the first LinkUp.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from motcua.clock import read_clock
from motcua.config import SiteConfig
from motcua.daemon import Systemd, close_all, release, run_owner_loop, setup_logging, stop_on_signals
from motcua.errors import ConfigError, ProtocolError
from motcua.mqtt import Inbound, InOrder, Link, LinkDown, LinkUp, Published
from motcua.protocol import Board, Ticket, Topics, encode, new_id
from motcua.service_day import ClockReading, DayKeeper

from .cccd import ScanError, name_from_scan
from .inputs import EvdevKeys, GpioButtons, Indicator, StdinKeys
from .numbering import NumberRange, RangeExhausted
from .presses import Accepted, KeyStream, Press, PressGate, Refused, Scan
from .printer import PrinterError, TicketPrinter, open_printer
from .settings import KioskSettings
from .store import Allocation, TicketStore
from .ticket import TicketView

log = logging.getLogger(__name__)

PRINTER_FAULTS = ("offline", "paper_out", "cover_open", "error")
POLL_OK_S = 30.0          # printer status poll while it works
POLL_FAULT_S = 2.0        # ... and while it is faulty, to notice the fix soon
TEST_HOLD_ENV = "MOTCUA_KIOSK_TEST_HOLD_AFTER_COMMIT"   # tests: pause after commit, before print


def pick_kiosk(config: SiteConfig, kiosk_id: str | None) -> KioskSettings:
    """The ``[[kiosks]]`` entry to run: the one named, or the only one."""
    known = ", ".join(k.id for k in config.kiosks) or "none"
    if kiosk_id is None:
        if len(config.kiosks) != 1:
            raise ConfigError(str(config.file), "kiosks",
                              f"{len(config.kiosks)} kiosks are configured ({known}): pick one with --kiosk")
        return config.kiosks[0]
    for kiosk in config.kiosks:
        if kiosk.id == kiosk_id:
            return kiosk
    raise ConfigError("command line", "--kiosk", f"no kiosk {kiosk_id!r} in the config (known: {known})")


def number_ranges(config: SiteConfig, settings: KioskSettings) -> dict[str, NumberRange]:
    ranges = {}
    for button in settings.buttons:
        service = config.service(button.service)
        first, last = settings.ranges.get(service.id, (service.first, service.last))
        ranges[service.id] = NumberRange(service.id, first, last, service.prefix,
                                         service.on_exhausted, len(str(service.last)))
    return ranges


@dataclass
class _Printer:
    state: str = "unknown"
    next_poll: float = 0.0


class Kiosk:
    """The kiosk's state and rules around its adapters; driven by :meth:`handle` and :meth:`tick`."""

    def __init__(self, config: SiteConfig, settings: KioskSettings, *, printer: TicketPrinter,
                 store: TicketStore, link: Link, indicator: Indicator,
                 clock: Callable[[], ClockReading] = read_clock,
                 after_commit: Callable[[Allocation], None] | None = None) -> None:
        self.config = config
        self.settings = settings
        self.printer = printer
        self.store = store
        self.link = link
        self.indicator = indicator
        self.clock = clock
        self.after_commit = after_commit
        self.topics = Topics(config.site.id)
        self.ranges = number_ranges(config, settings)
        self.gate = PressGate({s: settings.hold_off_s(s) for s in self.ranges},
                              priority_window_s=settings.priority_window_s,
                              name_window_s=settings.name_window_s)
        self.days = DayKeeper(config.site.tz, config.site.day_starts_at, store.last_day(),
                              trust_wall_clock=settings.trust_clock)
        self.day: date | None = None
        self.open = True
        self.exhausted: set[str] = set()
        self.board: Board | None = None
        self.dropped = 0
        self.printer_state = _Printer()
        self.order = InOrder(link)              # outbox rows to paho, in order (mqtt.InOrder)
        self.outbox_size = 0

    # -- start and timers --------------------------------------------------------
    def start(self) -> None:
        """Void what a previous run left mid-print; its outbox goes at the first LinkUp."""
        for number in self.store.void_interrupted():
            log.warning("ticket %s was allocated but never printed (interrupted): void", number)
        self.outbox_size = len(self.store.outbox())
        if self.outbox_size:
            log.info("%d printed tickets from before wait to be sent to the caller", self.outbox_size)
        self.tick()

    def tick(self) -> None:
        """Once a second or so: the day, opening hours, the printer, the status topic."""
        reading = self.clock()
        self._observe_day(reading)
        local = datetime.fromtimestamp(reading.wall, self.config.site.tz)
        is_open = self.settings.hours.is_open(local)
        if is_open != self.open:
            self.open = is_open
            log.info("the office is %s: %s", "open" if is_open else "closed",
                     "tickets are given" if is_open else "no tickets until opening time")
        if reading.monotonic >= self.printer_state.next_poll:
            self._set_printer(self.printer.status(), reading.monotonic)
        self._show()

    def _observe_day(self, reading: ClockReading) -> date:
        day = self.days.observe(reading)
        if day != self.day:
            if self.day is not None:
                log.info("new service day %s: numbers start again", day)
                self.exhausted.clear()
            self.day = day
            self.store.save_day(day)
        return day

    def _set_printer(self, state: str, now: float) -> None:
        if state != self.printer_state.state:
            if state in PRINTER_FAULTS:
                log.error("printer: %s: no tickets until it is fixed", state)
            elif self.printer_state.state in PRINTER_FAULTS:
                log.info("printer: %s again", state)
        self.printer_state.state = state
        self.printer_state.next_poll = now + (POLL_FAULT_S if state in PRINTER_FAULTS else POLL_OK_S)

    def _show(self) -> None:
        if not self.open:
            self.indicator.show("closed")
        elif self.printer_state.state in PRINTER_FAULTS:
            self.indicator.show("fault")
        elif self.exhausted:
            self.indicator.show("exhausted")
        else:
            self.indicator.show("ready")
        self.link.set_health(printer=self.printer_state.state, open=self.open,
                             paper=self.settings.paper, day=str(self.day),
                             exhausted=sorted(self.exhausted), outbox=self.outbox_size,
                             dropped=self.dropped)

    # -- events ------------------------------------------------------------------
    def handle(self, event: object) -> None:
        if isinstance(event, Press):
            self._on_press(event)
        elif isinstance(event, Scan):
            self._on_scan(event)
        elif isinstance(event, Published):
            row = self.order.acknowledged(event.mid)
            if row is not None:
                self.store.delivered(row)
                self.outbox_size -= 1
                self._show()
        elif isinstance(event, Inbound):
            self._on_message(event)
        elif isinstance(event, LinkUp):
            self.order.link_up([(row.n, self.topics.ticket_from(self.settings.id), row.payload)
                                for row in self.store.outbox()])
            log.info("broker connected; %d tickets waiting for its acknowledgement", self.outbox_size)
        elif isinstance(event, LinkDown):
            self.order.link_down()
            log.warning("broker lost: printed tickets wait in the outbox")

    def _on_scan(self, scan: Scan) -> None:
        try:
            name = name_from_scan(scan.text)
        except ScanError as exc:
            log.warning("QR scan refused: %s; the buttons still give an anonymous ticket", exc)
            self.indicator.beep("scan_refused")
            return
        self.gate.name_scanned(name, scan.at)
        self.indicator.beep("scan_ok")
        log.info("CCCD scanned: the next ticket carries the citizen's name")

    def _on_press(self, press: Press) -> None:
        if press.service is None:
            self.gate.priority_pressed(press.at)
            log.info("priority button: the next service press gives a priority ticket")
            return
        if press.service not in self.ranges:
            return
        refusal = self._why_not(press.service)
        if refusal:
            log.warning("no ticket for %s: %s", press.service, refusal)
            self.indicator.beep("refused")
            return
        decision = self.gate.decide(press.service, press.at)
        if isinstance(decision, Refused):
            log.info("press on %s ignored (%s)", press.service, decision.reason)
            return
        try:
            self._issue(decision)
        finally:
            self._show()

    def _why_not(self, service: str) -> str | None:
        if not self.open:
            return "the office is closed"
        reading = self.clock()
        self._set_printer(self.printer.status(), reading.monotonic)
        if self.printer_state.state in PRINTER_FAULTS:
            return f"the printer is {self.printer_state.state}"
        return None

    def _issue(self, request: Accepted) -> None:
        reading = self.clock()
        day = self._observe_day(reading)
        issued_at = datetime.fromtimestamp(reading.wall, self.config.site.tz)
        numbers = self.ranges[request.service]
        try:
            ticket = self.store.allocate(new_id(), numbers, day, priority=request.priority,
                                         at=issued_at.isoformat(timespec="seconds"))
        except RangeExhausted as exc:
            self.exhausted.add(request.service)
            log.error("%s", exc)
            self.indicator.beep("refused")
            return
        log.info("ticket %s (%s%s) allocated", ticket.number, request.service,
                 ", priority" if ticket.priority else "")
        if self.after_commit:
            self.after_commit(ticket)
        self.indicator.show("printing")
        try:
            self.printer.print_ticket(self._view(ticket, request, issued_at))
        except PrinterError as exc:
            self.gate.printing_ended(self.clock().monotonic)
            self.store.mark_void(ticket.id, exc.state)
            self._set_printer(exc.state, self.clock().monotonic)
            self.indicator.beep("print_failed")
            log.error("ticket %s did not print (%s: %s): void, not sent to the caller",
                      ticket.number, exc.state, exc)
            return
        self.gate.printing_ended(self.clock().monotonic)
        payload = encode(Ticket(id=ticket.id, service=ticket.service, number=ticket.number,
                                seq=ticket.seq, day=day.isoformat(),
                                issued_at=issued_at.isoformat(timespec="seconds"),
                                kiosk=self.settings.id, priority=ticket.priority, name=request.name))
        row = self.store.mark_printed(ticket.id, payload)
        self.outbox_size += 1
        log.info("ticket %s printed%s", ticket.number, " with the citizen's name" if request.name else "")
        self.order.offer(row.n, self.topics.ticket_from(self.settings.id), payload)

    def _view(self, ticket: Allocation, request: Accepted, issued_at: datetime) -> TicketView:
        board = self.board if self.board and self.board.day == ticket.day.isoformat() else None
        waiting = board.waiting.get(ticket.service) if board else None
        estimate_s = board.wait_estimate_s.get(ticket.service) if board else None
        return TicketView(
            office=self.config.site.name, unit=self.config.site.unit,
            service_name=self.config.service(ticket.service).name, number=ticket.number,
            priority=ticket.priority, waiting_ahead=waiting,
            wait_estimate_min=math.ceil(estimate_s / 60) if estimate_s is not None else None,
            name=request.name, issued_at=issued_at, ticket_id=ticket.id,
            footer=self.settings.footer, paper=self.settings.paper)

    def _on_message(self, message: Inbound) -> None:
        if message.topic != self.topics.board:
            return
        try:
            board = Board.decode(message.payload)
        except ProtocolError as exc:
            self.dropped += 1
            log.warning("dropped a board message: %s", exc)
            return
        if self.board is None or board.day != self.board.day or board.seq >= self.board.seq:
            self.board = board

    # -- the owner loop ----------------------------------------------------------
    def run(self, inbox: queue.Queue, stop: threading.Event, systemd: Systemd) -> None:
        next_tick = 0.0
        while not stop.is_set():
            now = self.clock().monotonic
            if now >= next_tick:
                self.tick()
                systemd.watchdog()
                next_tick = now + 1.0
            try:
                event = inbox.get(timeout=max(0.0, min(next_tick - now, 1.0)))
            except queue.Empty:
                continue
            self.handle(event)


def start_inputs(settings: KioskSettings, inbox: queue.Queue, *, keyboard: bool,
                 pin_factory: object = None) -> list:
    """The input adapters: stdin with --keyboard, otherwise the GPIO buttons; evdev devices always."""
    inputs: list = []
    try:
        if keyboard:
            reader = StdinKeys(KeyStream(settings.keys()), inbox)
            reader.start()
            inputs.append(reader)
        elif any(b.pin is not None for b in settings.buttons) or settings.priority_pin is not None:
            inputs.append(GpioButtons(settings, inbox, pin_factory=pin_factory))
        for path in settings.input_devices:
            device = EvdevKeys(path, KeyStream(settings.keys(), source="evdev"), inbox)
            device.start()
            inputs.append(device)
    except BaseException:
        close_all(inputs)
        raise
    return inputs


def run(config: SiteConfig, options: argparse.Namespace) -> int:
    settings = pick_kiosk(config, getattr(options, "kiosk", None))
    setup_logging("kiosk", settings.id, verbose=getattr(options, "verbose", False))
    stop = stop_on_signals()

    def hold(ticket: Allocation) -> None:
        log.warning("test hook: holding ticket %s after its commit", ticket.number)
        stop.wait()

    return serve(config, settings, stop, printer_spec=getattr(options, "printer", None) or settings.printer,
                 keyboard=bool(getattr(options, "keyboard", False)),
                 after_commit=hold if os.environ.get(TEST_HOLD_ENV) else None)


def serve(config: SiteConfig, settings: KioskSettings, stop: threading.Event, *, printer_spec: str,
          keyboard: bool = False, pin_factory: object = None,
          clock: Callable[[], ClockReading] = read_clock,
          after_commit: Callable[[Allocation], None] | None = None,
          started: Callable[[Kiosk], None] | None = None) -> int:
    """Build the adapters, run the owner loop until ``stop``, release everything."""
    systemd = Systemd()
    inbox: queue.Queue = queue.Queue()
    topics = Topics(config.site.id)
    opened: list = []
    link: Link | None = None
    try:
        store = TicketStore(config.site.state_dir / f"kiosk-{settings.id}.db")
        opened.append(store)
        printer = open_printer(printer_spec, settings.paper)
        opened.append(printer)
        indicator = (Indicator() if keyboard else
                     Indicator(settings.led_pin, settings.buzzer_pin, pin_factory=pin_factory))
        opened.append(indicator)
        opened += start_inputs(settings, inbox, keyboard=keyboard, pin_factory=pin_factory)
        link = Link(config.broker, topics, role="kiosk", device=settings.id, inbox=inbox,
                    subscriptions=[(topics.board, 1)], report_publishes=True)
        kiosk = Kiosk(config, settings, printer=printer, store=store, link=link, indicator=indicator,
                      clock=clock, after_commit=after_commit)
        kiosk.start()
        log.info("kiosk %s ready (printer %s, %s)", settings.id, kiosk.printer_state.state,
                 "open" if kiosk.open else "closed")
        run_owner_loop(kiosk, link=link, inbox=inbox, stop=stop, systemd=systemd,
                       ready=f"kiosk {settings.id}: day {kiosk.day}", started=started)
    finally:
        release(systemd, link, opened)
    return 0
