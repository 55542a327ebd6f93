"""``motcua counter``: one counter's pad and rating buttons, or (``--mqtt-buttons``) the bridge
that turns wireless MQTT buttons into counter commands and ratings.

One owner thread reads the inbox (presses, broker events) and does everything
in order: a press becomes a message with a fresh id, committed to the outbox,
then published (QoS 1); its row goes when the caller confirms it (``received``). The retained
``counter/<id>/state`` drives the LED and, in keyboard mode, a line on stdout.
"""

from __future__ import annotations

import argparse
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime

from motcua.config import Counter, SiteConfig
from motcua.daemon import Drops, Pace, Systemd, closing_on_error, run_daemon, setup_logging, stop_on_signals
from motcua.delivery import CallerWatch
from motcua.errors import ConfigError, ProtocolError
from motcua.mqtt import Inbound, Link, LinkDown, LinkUp, Published, Session, ThreadedLink
from motcua.protocol import Action, CounterCommand, CounterState, Heartbeat, Rate, Received, Topics, encode

from .inputs import GpioButtons, Led, StdinKeys
from .mqtt_buttons import ButtonMap
from .outbox import Outbox
from .pad import (
    ACK_FLASH_S,
    KEPT_WHILE_LOST,
    LOST,
    LedMode,
    Press,
    StateKeeper,
    describe,
    key_map,
    message_for,
    pad_led,
    refused_line,
    state_line,
)
from .ratings import RatingButtons
from .settings import CounterPadSettings

log = logging.getLogger(__name__)

TICK_S = 0.1      # LED timing resolution
BRIDGE_TICK_S = 1.0


def pick_counter(config: SiteConfig, counter_id: str | None) -> Counter:
    if counter_id is None:
        raise ConfigError("command line", "--counter", "is required (or --mqtt-buttons for the bridge)")
    try:
        return config.counter(counter_id)
    except KeyError:
        known = ", ".join(c.id for c in config.counters)
        raise ConfigError("command line", "--counter",
                          f"no counter {counter_id!r} in the config (known: {known})") from None


class CounterPad:
    """One counter's pad: presses out, state in, LEDs; driven by :meth:`handle` and :meth:`tick`."""

    def __init__(self, config: SiteConfig, counter: Counter, *, link: Link, outbox: Outbox,
                 pad_led: Led, thanks_led: Led, show: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.counter = counter
        self.settings: CounterPadSettings = config.counter_pad
        self.link = link
        self.outbox = outbox
        self.pad_led = pad_led
        self.thanks_led = thanks_led
        self.show = show
        self.clock = clock
        self.topics = Topics(config.site.id)
        self.state_topic = self.topics.counter_state(counter.id)
        self.state = StateKeeper()
        self.ratings = RatingButtons(self.settings.rating.levels, self.settings.rating.thanks_s)
        self.service_names = {s.id: s.name for s in config.services}
        self.flash_until = 0.0
        self.sent = 0
        self.drops = Drops(log)
        self.refused = 0
        self.watch = CallerWatch()
        self.labels: dict[str, str] = {}     # message id -> what was pressed, until confirmed
        self._line = ""

    @property
    def dropped(self) -> int:
        return self.drops.count

    def start(self) -> None:
        if self.outbox.pending:
            log.info("%d presses from before will be sent again", self.outbox.pending)
        self.tick()

    # -- events ------------------------------------------------------------------
    def handle(self, event: object) -> None:
        if isinstance(event, Press):
            self._on_press(event)
        elif isinstance(event, Published):
            self.outbox.published(event.mid)
        elif isinstance(event, Inbound):
            self._on_message(event)
        elif isinstance(event, LinkUp):
            self.watch.link_up(self.clock())
            self.outbox.link_up()
            log.info("broker connected; %d presses wait for the caller's confirmation",
                     self.outbox.pending)
        elif isinstance(event, LinkDown):
            self.watch.link_down()
            self.outbox.link_down()
            log.warning("broker lost: presses wait in the outbox")
        self.tick()

    def lost(self) -> bool:
        """The pad cannot see the caller: no link, or no heartbeat for a few seconds."""
        return self.watch.lost(self.clock())

    def refusing(self) -> bool:
        """The caller beats but takes no work (its event log cannot be written)."""
        now = self.clock()
        return self.watch.alive(now) and not self.watch.accepting(now)

    def _on_press(self, press: Press) -> None:
        if isinstance(press.action, Rate):
            self._on_rating(press, press.action)
            return
        if ((self.lost() or self.refusing())
                and self.outbox.pending - self._ratings_pending() >= KEPT_WHILE_LOST):
            self.refused += 1
            label = describe(press.action, ())
            log.warning("%s pressed while the caller cannot be reached: not sent (%d already waiting)",
                        label, self.outbox.pending)
            self._print(f"✗ {label}: không gửi – {LOST}")
            return
        caller_at, after_ms = self.watch.anchor(self.clock())
        try:
            command = message_for(press.action, status=self.state.status,
                                  transfer_to=self.settings.transfer_to,
                                  pressed_at=datetime.now().astimezone().isoformat(timespec="milliseconds"),
                                  caller_at=caller_at, after_ms=after_ms)
        except ValueError as exc:
            log.warning("press %s ignored: %s", press.action, exc)
            return
        assert isinstance(command, CounterCommand)   # Rate presses went to _on_rating above
        self.outbox.send(self.topics.counter_cmd(self.counter.id), encode(command))
        label = describe(command.action if command.action != Action.TRANSFER else press.action, ())
        self.labels[command.id] = label
        log.info("%s pressed (%s)", label, press.source)
        self._print(f"→ {label}")

    def _ratings_pending(self) -> int:
        return sum(1 for r in self.outbox.order.rows.values() if r.topic.endswith("/rating"))

    def _on_rating(self, press: Press, action: Rate) -> None:
        rating = self.ratings.press(action.level, press.at)
        if rating is None:
            log.info("rating press ignored: the thank-you of the last one is still showing")
            return
        self.outbox.send(self.topics.counter_rating(self.counter.id), encode(rating))
        label = describe(press.action, self.settings.rating.levels)
        log.info("%s pressed (%s)", label, press.source)
        self._print(f"→ {label}: cảm ơn quý công dân!")

    def _on_message(self, message: Inbound) -> None:
        if message.topic == self.topics.heartbeat:
            heartbeat = self.drops.decode(Heartbeat.decode, message, "a heartbeat")
            if heartbeat is not None:
                self.watch.offer(heartbeat, self.clock())
            return
        if message.topic == self.topics.received:
            self._on_received(message)
            return
        if message.topic != self.state_topic:
            return
        state = self.drops.decode(CounterState.decode, message, "a counter state message")
        if state is None:
            return
        self.state.offer(state, retained=message.retain)

    def _on_received(self, message: Inbound) -> None:
        received = self.drops.decode(Received.decode, message, "a confirmation")
        if received is None:
            return
        if self.outbox.confirmed(received.ids):
            self.sent += 1
            self.flash_until = self.clock() + ACK_FLASH_S
        for msg_id in received.ids:
            label = self.labels.pop(msg_id, None)
            code = received.refused.get(msg_id)
            if label is not None and code is not None:
                self.refused += 1
                log.warning("%s was refused by the caller: %s", label, code)
                self._print(refused_line(label, code))

    # -- LEDs, the state line, health ---------------------------------------------
    def tick(self, now: float | None = None) -> float:
        """The LEDs, the state line and resends; the seconds until the next tick."""
        now = self.clock()
        self.outbox.resend_due(self.watch.accepting(now))
        self.pad_led.show(pad_led(self.state.status, pending=self.outbox.pending,
                                  flash=now < self.flash_until))
        self.thanks_led.show(LedMode.ON if self.ratings.thanking(now) else LedMode.OFF)
        line = state_line(self.counter.name, self.state.state, self.service_names,
                          lost=self.watch.lost(now), refusing=self.refusing())
        if line != self._line:
            self._line = line
            self._print(line)
        return TICK_S

    def health(self) -> dict[str, object]:
        return dict(pending=self.outbox.pending, sent=self.sent, dropped=self.dropped,
                    refused=self.refused, state=self.state.status, caller_lost=self.lost())

    def _print(self, text: str) -> None:
        if self.show is not None:
            self.show(text)


class ButtonBridge:
    """On the hub: messages of wireless buttons become counter commands and ratings.

    Incoming messages are acknowledged (manual ack) only after the command is in
    the outbox. A crash between the two makes the broker redeliver that message,
    which then becomes a second command with another id: at-least-once. A button
    message carries nothing unique (broker message ids are reused), so no id can
    be derived from it that is both stable and never shared by two real presses.
    """

    def __init__(self, config: SiteConfig, *, link: Link, outbox: Outbox) -> None:
        self.map = ButtonMap.from_settings(config.counter_pad)
        self.transfer_to = config.counter_pad.transfer_to
        self.link = link
        self.outbox = outbox
        self.topics = Topics(config.site.id)
        self.states: dict[str, StateKeeper] = {}
        self.watch = CallerWatch()
        self.sent = 0
        self.unmatched = 0
        self.drops = Drops(log)

    @staticmethod
    def subscriptions(config: SiteConfig) -> list[tuple[str, int]]:
        """The buttons' topics, and every counter's state (for the Pause/Resume toggle)."""
        buttons = ButtonMap.from_settings(config.counter_pad).topics()
        topics = Topics(config.site.id)
        return [(topic, 1) for topic in buttons] + [
            (f"{topics.root}/counter/+/state", 1), (topics.heartbeat, 0), (topics.received, 1)]

    @property
    def ignored(self) -> int:
        """Messages that became no command: malformed, or matching no button."""
        return self.unmatched + self.drops.count

    def handle(self, event: object) -> None:
        if isinstance(event, Inbound):
            self._on_message(event)     # raises only if the outbox fails: no ack, the broker redelivers
            self.link.ack(event)
        elif isinstance(event, Published):
            self.outbox.published(event.mid)
        elif isinstance(event, LinkUp):
            self.watch.link_up(time.monotonic())
            self.outbox.link_up()
            log.info("broker connected; %d button presses wait for the caller's confirmation",
                     self.outbox.pending)
        elif isinstance(event, LinkDown):
            self.outbox.link_down()

    def _on_message(self, message: Inbound) -> None:
        if self._is_state(message.topic):
            self._on_state(message)
            return
        if message.topic == self.topics.heartbeat:
            heartbeat = self.drops.decode(Heartbeat.decode, message)
            if heartbeat is not None:
                self.watch.offer(heartbeat, time.monotonic())
            return
        if message.topic == self.topics.received:
            received = self.drops.decode(Received.decode, message)
            if received is not None:
                self.sent += self.outbox.confirmed(received.ids)
            return
        hit = self.map.match(message.topic, message.payload)
        if hit is None:
            self.unmatched += 1
            log.info("ignored a message on %s: it matches no button (%r)",
                     message.topic, message.payload[:80])
            return
        counter, action = hit
        keeper = self.states.get(counter)
        caller_at, after_ms = self.watch.anchor(time.monotonic())
        command = message_for(action, status=keeper.status if keeper else None,
                              transfer_to=self.transfer_to, caller_at=caller_at, after_ms=after_ms,
                              pressed_at=datetime.now().astimezone().isoformat(timespec="milliseconds"))
        topic = (self.topics.counter_rating if isinstance(action, Rate) else self.topics.counter_cmd)(counter)
        self.outbox.send(topic, encode(command))
        log.info("button %s -> counter %s: %s", message.topic, counter, action)

    def _is_state(self, topic: str) -> bool:
        try:
            return topic == self.topics.counter_state(self.topics.counter_of(topic))
        except ProtocolError:
            return False

    def _on_state(self, message: Inbound) -> None:
        counter = self.topics.counter_of(message.topic)
        state = self.drops.decode(CounterState.decode, message, "a counter state message")
        if state is None:
            return
        self.states.setdefault(counter, StateKeeper()).offer(state, retained=message.retain)

    def tick(self, now: float) -> float:
        """Presses the caller has not confirmed go again while it beats and takes work."""
        self.outbox.resend_due(self.watch.accepting(time.monotonic()))
        return BRIDGE_TICK_S

    def health(self) -> dict[str, object]:
        return dict(pending=self.outbox.pending, sent=self.sent, ignored=self.ignored)


def run(config: SiteConfig, options: argparse.Namespace) -> int:
    if getattr(options, "mqtt_buttons", False):
        setup_logging("counter", "buttons", verbose=getattr(options, "verbose", False))
        return serve_bridge(config, stop_on_signals())
    counter = pick_counter(config, getattr(options, "counter", None))
    setup_logging("counter", counter.id, verbose=getattr(options, "verbose", False))
    return serve(config, counter, stop_on_signals(), keyboard=bool(getattr(options, "keyboard", False)))


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def serve(config: SiteConfig, counter: Counter, stop: threading.Event, *, keyboard: bool = False,
          pin_factory: object = None, show: Callable[[str], None] | None = None,
          started: Callable[[CounterPad], None] | None = None) -> int:
    """Build the adapters, run the owner loop until ``stop``, release everything.

    ``keyboard``: keys on stdin instead of GPIO, no LEDs, the state line on stdout.
    """
    settings = config.counter_pad
    systemd = Systemd()
    inbox: queue.Queue = queue.Queue()
    topics = Topics(config.site.id)
    opened: list = []
    with closing_on_error(opened):
        link = ThreadedLink(config.broker, topics, role="counter", device=counter.id, inbox=inbox,
                    subscriptions=[(topics.counter_state(counter.id), 1), (topics.heartbeat, 0),
                                   (topics.received, 1)], report_publishes=True)
        outbox = Outbox(config.site.state_dir / f"counter-{counter.id}.db", link)
        opened.append(outbox)
        if keyboard:
            leds = [Led(None), Led(None)]
            reader = StdinKeys(key_map(counter.keys, settings.rating.keys), inbox)
            reader.start()
            opened.append(reader)
            show = show or _say
        else:
            leds = [Led(settings.led_pin, pin_factory=pin_factory),
                    Led(settings.rating.led_pin, pin_factory=pin_factory)]
            opened += leds
            if settings.button_pins():
                opened.append(GpioButtons(settings.button_pins(), settings.bounce_ms, inbox,
                                          pin_factory=pin_factory))
        pad = CounterPad(config, counter, link=link, outbox=outbox, pad_led=leds[0], thanks_led=leds[1],
                         show=show)
        pad.start()
    log.info("counter %s ready (%s)", counter.id, "keyboard" if keyboard else "GPIO")
    return run_daemon(pad, link=link, inbox=inbox, stop=stop, systemd=systemd,
                      ready=f"counter {counter.id}", opened=opened, clock=pad.clock, started=started)


def serve_bridge(config: SiteConfig, stop: threading.Event, *,
                 started: Callable[[ButtonBridge], None] | None = None) -> int:
    """The ``--mqtt-buttons`` process: one per site, next to the broker."""
    if not config.counter_pad.mqtt_buttons:
        raise ConfigError(str(config.file), "counter_pad.mqtt_buttons", "no MQTT buttons are configured")
    systemd = Systemd()
    inbox: queue.Queue = queue.Queue()
    topics = Topics(config.site.id)
    opened: list = []
    with closing_on_error(opened):
        # A persistent session: QoS 1 button messages sent while the bridge restarts wait for it.
        link = ThreadedLink(config.broker, topics, role="counter", device="buttons", inbox=inbox,
                    subscriptions=ButtonBridge.subscriptions(config),
                    session=Session.KEPT_UNTIL_ACKED, report_publishes=True)
        outbox = Outbox(config.site.state_dir / "counter-buttons.db", link)
        opened.append(outbox)
        bridge = ButtonBridge(config, link=link, outbox=outbox)
    if outbox.pending:
        log.info("%d button presses from before will be sent again", outbox.pending)
    log.info("MQTT button bridge ready: %s", ", ".join(bridge.map.topics()))
    # A resend check after every message or second, as the presses come.
    return run_daemon(bridge, link=link, inbox=inbox, stop=stop, systemd=systemd,
                      ready=f"MQTT buttons: {len(bridge.map.topics())} topics", opened=opened,
                      pace=Pace(tick_every_turn=True), started=started)
