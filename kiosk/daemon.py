"""The kiosk daemon: presses in, numbered tickets out, printed tickets on to the caller.

One owner thread reads the inbox (presses, scans, broker events) and does everything in
order: allocate (committed), record the intent to print (committed), print, mark printed
+ outbox (one transaction), hand the ticket to the link while it is up
(motcua.delivery.Confirmed: else it waits in the outbox for the next LinkUp, so tickets
reach the caller in the order they were printed). paho keeps every QoS 1 publish it was
handed and resends the unacknowledged ones, in order, after each reconnect. The outbox row
is deleted only when the caller confirms the ticket's id on ``received`` (the broker's
PUBACK is not delivery: a fresh broker drops what no session waits for), and sent again
while the caller's heartbeat says it is alive and it has not confirmed. Rows left by a
previous run go at the first LinkUp.
"""

from __future__ import annotations

import argparse
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

from motcua.web.settings import ticket_url

from motcua.clock import read_clock
from motcua.config import SiteConfig
from motcua.daemon import (
    Drops,
    Systemd,
    close_all,
    closing_on_error,
    run_daemon,
    setup_logging,
    stop_on_signals,
)
from motcua.delivery import CallerWatch, Confirmed
from motcua.errors import ConfigError
from motcua.mqtt import Inbound, Link, LinkDown, LinkUp, Published, ThreadedLink
from motcua.protocol import (
    Board,
    Heartbeat,
    Issued,
    Presence,
    Received,
    Status,
    Ticket,
    Topics,
    encode,
    new_id,
)
from motcua.service_day import ClockReading, DayKeeper
from motcua.waits import ahead_of_new_ticket, estimate_for, minutes

from .cccd import ScanError, name_from_scan
from .inputs import Beep, EvdevKeys, GpioButtons, Indicator, Light, StdinKeys
from .numbering import NumberRange, RangeExhausted
from .presses import Accepted, KeyStream, Press, PressGate, Refused, Scan
from .printer import PrinterError, TicketPrinter, open_printer
from .printer_words import FAULT_STATES, PrinterState, printer_says
from .settings import KioskSettings
from .store import Allocation, StorageError, TicketStore
from .ticket import TicketView

log = logging.getLogger(__name__)

POLL_OK_S = 30.0          # printer status poll while it works
POLL_FAULT_S = 2.0        # ... and while it is faulty, to notice the fix soon
TICK_S = 1.0              # the day, opening hours, the printer's poll, resends
HELD_PRESS_S = 10.0       # a press waits this long for the record of issued numbers, then is refused


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
    state: PrinterState = PrinterState.UNKNOWN
    next_poll: float = 0.0


class Kiosk:
    """The kiosk's state and rules around its adapters; driven by :meth:`handle` and :meth:`tick`."""

    def __init__(self, config: SiteConfig, settings: KioskSettings, *, printer: TicketPrinter,
                 store: TicketStore, link: Link, indicator: Indicator,
                 clock: Callable[[], ClockReading] = read_clock) -> None:
        self.config = config
        self.settings = settings
        self.printer = printer
        self.store = store
        self.link = link
        self.indicator = indicator
        self.clock = clock
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
        self.hub_away = False          # the link said LinkDown: the LED shows "no hub"
        self.board: Board | None = None
        self.drops = Drops(log)
        self.printer_state = _Printer()
        self.order = Confirmed(link)      # outbox rows to paho in order, kept until the caller confirms
        self.watch = CallerWatch()
        self.outbox_size = 0
        # While the database refuses writes: why, and what waits to be written when it works again.
        self.storage_fault: str | None = None
        self.unrecorded: list[tuple[str, str, bytes]] = []   # (id, number, payload) printed, not saved
        self.unvoided: list[tuple[str, str]] = []             # (id, reason) failed before any byte
        self.undelivered: list[int] = []                      # outbox rows the caller confirmed
        # A new database (lost, emptied, damaged, or a first start) issues nothing until the
        # kiosk's retained record of the day's numbers is read back, or known to be absent.
        self.learning = store.new
        self.marker: int | None = None          # a publish after the subscription: its PUBACK ends the wait
        self.record: Issued | None = None       # read back, not applied yet (disk refused)
        self.held: list[Press] = []             # presses made while learning
        self.issued_topic = self.topics.kiosk_issued(settings.id)
        self.ticket_topic = self.topics.ticket_from(settings.id)   # only this kiosk's account writes it

    # -- start and timers --------------------------------------------------------
    def start(self) -> None:
        """Load the outbox a previous run left (it goes at the first LinkUp), then settle what
        that run left mid-print."""
        if self.learning:
            log.warning("the ticket database is new: no ticket until the broker's record of the numbers "
                        "this kiosk issued today is read (or known to be absent)")
        rows = self.store.outbox()
        self.order.load((row.n, self.ticket_topic, row.payload) for row in rows)
        self.outbox_size = len(rows)
        try:
            self._settle()
        except StorageError as exc:
            self._storage_failed(exc)
        if self.outbox_size:
            log.info("%d printed tickets from before wait to be sent to the caller", self.outbox_size)
        self.tick()

    def _settle(self) -> None:
        """Numbers allocated whose printing never began are void; those whose printing began
        may be in a citizen's hand: they go to the caller marked in doubt, never void."""
        for number in self.store.void_interrupted():
            log.warning("ticket %s was allocated but its printing never began (interrupted): void", number)
        for intent in self.store.intents():
            payload = _in_doubt(intent.payload)
            row = self.store.mark_printed(intent.ticket_id, payload)
            self.outbox_size += 1
            self.order.offer(row.n, self.ticket_topic, payload)
            log.warning("ticket %s may have been printed (the kiosk stopped while printing it): sent "
                        "to the caller marked in doubt", intent.number)

    @property
    def dropped(self) -> int:
        return self.drops.count

    def tick(self, now: float | None = None) -> float:
        """Once a second or so: the day, opening hours, the printer, the LED; the seconds
        until the next tick."""
        reading = self.clock()
        self._observe_day(reading)
        local = datetime.fromtimestamp(reading.wall, self.config.site.tz)
        if self.storage_fault is not None:
            self._retry_storage()
        if self.learning and self.record is not None and self.storage_fault is None:
            self._learn(self.record)
        while self.held and reading.monotonic - self.held[0].at > HELD_PRESS_S:
            press = self.held.pop(0)
            log.warning("no ticket for %s: the broker's record of today's numbers could not be read "
                        "(the database is new)", press.service)
            self.indicator.beep(Beep.REFUSED)
        is_open = self.settings.hours.is_open(local)
        if is_open != self.open:
            self.open = is_open
            log.info("the office is %s: %s", "open" if is_open else "closed",
                     "tickets are given" if is_open else "no tickets until opening time")
        if reading.monotonic >= self.printer_state.next_poll:
            self._set_printer(self.printer.status(), reading.monotonic)
        self.order.resend_due(self.watch.accepting(time.monotonic()))
        self._show()
        return TICK_S

    def _observe_day(self, reading: ClockReading) -> date:
        day = self.days.observe(reading)
        if day != self.day:
            if self.day is not None:
                log.info("new service day %s: numbers start again", day)
                self.exhausted.clear()
            self.day = day
            try:
                self.store.save_day(day)
            except StorageError as exc:        # saved again once writes work (_retry_storage)
                self._storage_failed(exc)
        return day

    # -- storage faults ----------------------------------------------------------
    def _storage_failed(self, exc: StorageError) -> None:
        if self.storage_fault is None:
            log.error("%s: no tickets until it can be written again (free some space)", exc)
        self.storage_fault = str(exc)

    def _retry_storage(self) -> None:
        """Write what waits, oldest first; the fault ends once every write and a probe work."""
        try:
            while self.unvoided:
                ticket_id, reason = self.unvoided[0]
                self.store.mark_void(ticket_id, reason)
                self.unvoided.pop(0)
            while self.unrecorded:
                ticket_id, number, payload = self.unrecorded[0]
                row = self.store.mark_printed(ticket_id, payload)
                self.unrecorded.pop(0)
                self.outbox_size += 1
                log.info("ticket %s is recorded as printed now", number)
                self.order.offer(row.n, self.ticket_topic, payload)
            while self.undelivered:
                self.store.delivered(self.undelivered[0])
                self.undelivered.pop(0)
            self._settle()
            if self.day is not None:
                self.store.save_day(self.day)
            self.store.probe()
        except StorageError as exc:
            self.storage_fault = str(exc)
            return
        log.info("the ticket database can be written again: tickets are given")
        self.storage_fault = None

    def _set_printer(self, state: PrinterState, now: float) -> None:
        if state != self.printer_state.state:
            if state in FAULT_STATES:
                log.error("printer %s: %s: no tickets until it is fixed", self.settings.printer,
                          printer_says(state))
            elif self.printer_state.state in FAULT_STATES:
                log.info("printer %s: %s again", self.settings.printer, printer_says(state))
        self.printer_state.state = state
        self.printer_state.next_poll = now + (POLL_FAULT_S if state in FAULT_STATES else POLL_OK_S)

    def _show(self) -> None:
        if not self.open:
            self.indicator.show(Light.CLOSED)
        elif self.printer_state.state in FAULT_STATES or self.storage_fault is not None or self.learning:
            self.indicator.show(Light.FAULT)
        elif self.exhausted:
            self.indicator.show(Light.EXHAUSTED)
        elif self.hub_away:
            self.indicator.show(Light.NO_HUB)
        else:
            self.indicator.show(Light.READY)

    def health(self) -> dict[str, object]:
        return dict(printer=self.printer_state.state,
                    printer_says=printer_says(self.printer_state.state), open=self.open,
                    paper=self.settings.paper, day=str(self.day),
                    exhausted=sorted(self.exhausted), outbox=self.outbox_size,
                    dropped=self.dropped, storage=self.storage_fault or "ok",
                    numbers="waiting for the broker's record" if self.learning else "ok")

    # -- events ------------------------------------------------------------------
    def handle(self, event: object) -> None:
        if isinstance(event, Press):
            self._on_press(event)
        elif isinstance(event, Scan):
            self._on_scan(event)
        elif isinstance(event, Published):
            if event.mid == self.marker:
                self._no_record()
                return
            self.order.published(event.mid)
        elif isinstance(event, Inbound):
            self._on_message(event)
        elif isinstance(event, LinkUp):
            self.hub_away = False
            self.watch.link_up(time.monotonic())
            self._show()
            self._publish_issued()
            if self.learning:
                # The broker sends retained messages right after the SUBACK, before it handles
                # anything we send next: once this republished status is acknowledged, a
                # record of ours would have arrived.
                status = Status(role="kiosk", device=self.settings.id, state=Presence.ONLINE,
                                at=datetime.now(self.config.site.tz).isoformat(timespec="seconds"),
                                health=self.link.health)
                self.marker = self.link.publish(self.link.status_topic, encode(status), qos=1,
                                                retain=True).mid
            self.order.link_up()
            log.info("broker connected; %d tickets wait for the caller's confirmation", self.outbox_size)
        elif isinstance(event, LinkDown):
            self.watch.link_down()
            self.order.link_down()
            self.hub_away = True
            self._show()
            log.warning("broker lost: printed tickets wait in the outbox")

    def _on_scan(self, scan: Scan) -> None:
        try:
            name = name_from_scan(scan.text)
        except ScanError as exc:
            log.warning("QR scan refused: %s; the buttons still give an anonymous ticket", exc)
            self.indicator.beep(Beep.SCAN_REFUSED)
            return
        self.gate.name_scanned(name, scan.at)
        self.indicator.beep(Beep.SCAN_OK)
        log.info("CCCD scanned: the next ticket carries the citizen's name")

    def _on_press(self, press: Press) -> None:
        if press.service is None:
            self.gate.priority_pressed(press.at)
            log.info("priority button: the next service press gives a priority ticket")
            return
        if press.service not in self.ranges:
            return
        if self.learning:
            log.info("press on %s held until the broker's record of today's numbers is read", press.service)
            self.held.append(press)
            return
        refusal = self._why_not(press.service)
        if refusal:
            log.warning("no ticket for %s: %s", press.service, refusal)
            self.indicator.beep(Beep.REFUSED)
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
        if self.storage_fault is not None:
            self._retry_storage()
            if self.storage_fault is not None:
                return f"the ticket database cannot be written ({self.storage_fault})"
        reading = self.clock()
        self._set_printer(self.printer.status(), reading.monotonic)
        if self.printer_state.state in FAULT_STATES:
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
            self.indicator.beep(Beep.REFUSED)
            return
        except StorageError as exc:
            self._storage_failed(exc)
            self.indicator.beep(Beep.REFUSED)
            return
        log.info("ticket %s (%s%s) allocated", ticket.number, request.service,
                 ", priority" if ticket.priority else "")
        self._publish_issued()
        payload = encode(Ticket(id=ticket.id, service=ticket.service, number=ticket.number,
                                seq=ticket.seq, day=day.isoformat(),
                                issued_at=issued_at.isoformat(timespec="seconds"),
                                kiosk=self.settings.id, priority=ticket.priority, name=request.name))
        try:
            self.store.begin_print(ticket.id, payload)
        except StorageError as exc:        # no byte went out: the number is voided once writes work
            self._storage_failed(exc)
            self.indicator.beep(Beep.REFUSED)
            return
        self.indicator.show(Light.PRINTING)
        try:
            self.printer.print_ticket(self._view(ticket, request, issued_at))
        except PrinterError as exc:
            self.gate.printing_ended(self.clock().monotonic)
            self._set_printer(exc.state, self.clock().monotonic)
            self.indicator.beep(Beep.PRINT_FAILED)
            if exc.sent:
                log.error("ticket %s may be on paper, in part or whole (%s: %s): sent to the caller "
                          "marked in doubt", ticket.number, exc.state, exc)
                self._record_printed(ticket.id, ticket.number, _in_doubt(payload))
                return
            log.error("ticket %s did not print (%s: %s): void, not sent to the caller",
                      ticket.number, exc.state, exc)
            try:
                self.store.mark_void(ticket.id, exc.state)
            except StorageError as failure:
                self.unvoided.append((ticket.id, exc.state))
                self._storage_failed(failure)
            return
        self.gate.printing_ended(self.clock().monotonic)
        if self._record_printed(ticket.id, ticket.number, payload):
            log.info("ticket %s printed%s", ticket.number, " with the citizen's name" if request.name else "")

    def _record_printed(self, ticket_id: str, number: str, payload: bytes) -> bool:
        """Printed (or in doubt) + outbox, then to the link; kept in memory if the disk refuses."""
        try:
            row = self.store.mark_printed(ticket_id, payload)
        except StorageError as exc:
            self.unrecorded.append((ticket_id, number, payload))
            self._storage_failed(exc)
            log.error("ticket %s was printed but cannot be recorded yet: it is recorded and sent once "
                      "the disk takes writes (a restart meanwhile sends it marked in doubt)", number)
            return False
        self.outbox_size += 1
        self.order.offer(row.n, self.ticket_topic, payload)
        return True

    # -- the retained record of numbers issued ------------------------------------
    def _publish_issued(self) -> None:
        """Retained, after every number committed: a kiosk that loses its database reads it back."""
        if self.day is None or self.learning:
            return
        try:
            last, count = self.store.issued(self.day)
        except sqlite3.Error as exc:
            log.error("cannot read the numbers issued today: %s", exc)
            return
        self.link.publish(self.issued_topic, encode(Issued(kiosk=self.settings.id, day=self.day.isoformat(),
                                                           last=last, count=count)), qos=1, retain=True)

    def _learn(self, record: Issued) -> None:
        """Numbers of today the record has and the database lacks are recorded as lost (void),
        so they are never issued again."""
        self.record = None
        if record.kiosk == self.settings.id and self.day is not None and record.day == self.day.isoformat():
            _, count = self.store.issued(self.day)
            at = datetime.fromtimestamp(self.clock().wall, self.config.site.tz).isoformat(timespec="seconds")
            for service, learned in sorted(record.count.items()):
                missing = learned - count.get(service, 0)
                if missing <= 0 or service not in self.ranges or service not in record.last:
                    continue
                try:
                    lost = self.store.add_lost(self.ranges[service], self.day, record.last[service],
                                               missing, at)
                except StorageError as exc:
                    self.record = record          # applied once writes work (tick)
                    self._storage_failed(exc)
                    return
                log.error("%d numbers of %s issued today are missing from the ticket database (%s): "
                          "recorded as lost, numbers go on after %s", missing, service,
                          ", ".join(lost), lost[-1] if lost else record.last[service])
        if self.learning:
            log.info("the broker's record of the numbers issued today is read: tickets are given")
            self._end_learning()

    def _no_record(self) -> None:
        if self.learning and self.record is None:
            log.info("the broker holds no record of numbers this kiosk issued: numbers start afresh")
            self._end_learning()

    def _end_learning(self) -> None:
        self.learning = False
        self._publish_issued()
        held, self.held = self.held, []
        for press in held:
            self._on_press(press)
        self._show()

    def _view(self, ticket: Allocation, request: Accepted, issued_at: datetime) -> TicketView:
        board = self.board if self.board and self.board.day == ticket.day.isoformat() else None
        ahead = estimate_s = None
        if board is not None and ticket.service in board.waiting:
            waiting = board.waiting[ticket.service]
            counted = board.ahead_priority if ticket.priority else board.ahead_normal
            ahead = ahead_of_new_ticket(waiting, counted.get(ticket.service))
            estimate_s = estimate_for(ahead, waiting, board.wait_estimate_s.get(ticket.service))
        return TicketView(
            office=self.config.site.name, unit=self.config.site.unit,
            service_name=self.config.service(ticket.service).name, number=ticket.number,
            priority=ticket.priority, waiting_ahead=ahead,
            wait_estimate_min=minutes(estimate_s) if estimate_s is not None else None,
            name=request.name, issued_at=issued_at, ticket_id=ticket.id,
            footer=self.settings.footer, paper=self.settings.paper,
            link=ticket_url(self.config.web.url, ticket.id))

    def _on_delivery(self, message: Inbound) -> None:
        """The caller's heartbeat, or its confirmation of tickets: their outbox rows go."""
        if message.topic == self.topics.heartbeat:
            heartbeat = self.drops.decode(Heartbeat.decode, message, "a heartbeat")
            if heartbeat is not None:
                self.watch.offer(heartbeat, time.monotonic())
            return
        received = self.drops.decode(Received.decode, message, "a confirmation")
        if received is None:
            return
        for ticket_id, code in received.refused.items():
            if self.order.row_of(ticket_id) is not None:
                log.warning("the caller refused ticket %s: %s", ticket_id, code)
        rows = self.order.confirm(received.ids)
        for row in rows:
            try:
                self.store.delivered(row)
            except StorageError as exc:     # deleted later; a restart meanwhile resends it (dedup by id)
                self.undelivered.append(row)
                self._storage_failed(exc)
        if rows:
            self.outbox_size -= len(rows)
            self._show()

    def _on_message(self, message: Inbound) -> None:
        if message.topic in (self.topics.heartbeat, self.topics.received):
            self._on_delivery(message)
            return
        if message.topic == self.issued_topic:
            record = self.drops.decode(Issued.decode, message, "an issued-numbers record")
            if record is not None:
                self._learn(record)
            return
        if message.topic != self.topics.board:
            return
        board = self.drops.decode(Board.decode, message, "a board message")
        if board is None:
            return
        if self.board is None or board.day != self.board.day or board.seq >= self.board.seq:
            self.board = board


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
    return serve(config, settings, stop_on_signals(),
                 printer_spec=getattr(options, "printer", None) or settings.printer,
                 keyboard=bool(getattr(options, "keyboard", False)))


def serve(config: SiteConfig, settings: KioskSettings, stop: threading.Event, *, printer_spec: str,
          keyboard: bool = False, pin_factory: object = None,
          clock: Callable[[], ClockReading] = read_clock,
          started: Callable[[Kiosk], None] | None = None) -> int:
    """Build the adapters, run the owner loop until ``stop``, release everything."""
    systemd = Systemd()
    inbox: queue.Queue = queue.Queue()
    topics = Topics(config.site.id)
    opened: list = []
    with closing_on_error(opened):
        store = TicketStore(config.site.state_dir / f"kiosk-{settings.id}.db")
        opened.append(store)
        printer = open_printer(printer_spec, settings.paper)
        settings = replace(settings, printer=printer_spec)    # the log names the one in use
        opened.append(printer)
        indicator = (Indicator() if keyboard else
                     Indicator(settings.led_pin, settings.buzzer_pin, pin_factory=pin_factory))
        opened.append(indicator)
        opened += start_inputs(settings, inbox, keyboard=keyboard, pin_factory=pin_factory)
        link = ThreadedLink(config.broker, topics, role="kiosk", device=settings.id, inbox=inbox,
                    subscriptions=[(topics.board, 1), (topics.kiosk_issued(settings.id), 1),
                                   (topics.heartbeat, 0), (topics.received, 1)],
                    report_publishes=True)
        kiosk = Kiosk(config, settings, printer=printer, store=store, link=link, indicator=indicator,
                      clock=clock)
        kiosk.start()
    log.info("kiosk %s ready (printer %s, %s)", settings.id, kiosk.printer_state.state,
             "open" if kiosk.open else "closed")
    return run_daemon(kiosk, link=link, inbox=inbox, stop=stop, systemd=systemd,
                      ready=f"kiosk {settings.id}: day {kiosk.day}", opened=opened,
                      clock=lambda: clock().monotonic, started=started)


def _in_doubt(payload: bytes) -> bytes:
    """The same ticket, marked: it may or may not be on paper (docs/protocol.md, Ticket)."""
    return encode(replace(Ticket.decode(payload), doubt=True))
