"""The ``[[kiosks]]`` section of the site config (keys explained in docs/kiosk.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from motcua import sections
from motcua.config_reader import ID_PATTERN, Table, entry_name

from .hours import OpeningHours, day_spans
from .printer_spec import parse_printer_spec


@dataclass(frozen=True)
class KioskButton:
    service: str
    pin: int | None
    key: str | None
    hold_off_ms: int | None = None    # None: the kiosk's hold_off_ms


@dataclass(frozen=True)
class KioskSettings:
    id: str
    printer: str
    paper: str                       # "58mm" or "80mm"
    buttons: tuple[KioskButton, ...]
    priority_key: str | None
    priority_pin: int | None
    footer: str
    priority_window_s: float = 10.0  # priority press, then a service press within this
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # service -> this kiosk's part
    hold_off_ms: int = 1500
    bounce_ms: int = 50
    hours: OpeningHours = field(default_factory=OpeningHours)
    led_pin: int | None = None
    buzzer_pin: int | None = None
    input_devices: tuple[str, ...] = ()   # evdev keypads / scanners, e.g. /dev/input/by-id/...
    name_window_s: float = 60.0           # a scanned name waits this long for a button
    trust_clock: bool = False             # the Pi has a battery RTC: trust its wall clock

    def hold_off_s(self, service: str) -> float:
        for button in self.buttons:
            if button.service == service and button.hold_off_ms is not None:
                return button.hold_off_ms / 1000
        return self.hold_off_ms / 1000

    def keys(self) -> dict[str, str | None]:
        """Keyboard character -> service id (None for the priority button)."""
        keys: dict[str, str | None] = {b.key: b.service for b in self.buttons if b.key}
        if self.priority_key:
            keys[self.priority_key] = None
        return keys


def parse(root: Table, services: tuple) -> tuple[KioskSettings, ...]:
    by_id = {s.id: s for s in services}
    kiosks: list[KioskSettings] = []
    claimed: dict[str, list[tuple[int, int, str]]] = {}   # service -> (first, last, kiosk id)
    for table in root.tables("kiosks"):
        kiosk_id = table.get_str("id", pattern=ID_PATTERN)
        if any(k.id == kiosk_id for k in kiosks):
            raise table.error("id", f"kiosk {kiosk_id!r} is listed twice")
        buttons = _parse_buttons(table, by_id)
        priority = table.table("priority_button")
        ranges = _parse_ranges(table.table("ranges"), by_id)
        for button in buttons:
            service = by_id[button.service]
            first, last = ranges.get(button.service, (service.first, service.last))
            for other_first, other_last, other in claimed.get(button.service, []):
                if first <= other_last and other_first <= last:
                    key = "ranges" if button.service not in ranges else f"ranges.{button.service}"
                    raise table.error(key, f"numbers {first}..{last} of {button.service!r} overlap "
                                           f"kiosk {other!r}'s {other_first}..{other_last}; "
                                           "give each kiosk its own part of the range")
        for service_id in {b.service for b in buttons}:
            service = by_id[service_id]
            claimed.setdefault(service_id, []).append(
                (*ranges.get(service_id, (service.first, service.last)), kiosk_id))
        printer = table.get_str("printer", "file:/dev/usb/lp0")
        problem = printer_spec_problem(printer)
        if problem:
            raise table.error("printer", f"{printer!r}: {problem}")
        kiosks.append(KioskSettings(
            id=kiosk_id,
            printer=printer,
            paper=table.get_str("paper", "80mm", choices=("58mm", "80mm")),
            buttons=tuple(buttons),
            priority_key=priority.get_str("key", None),
            priority_pin=priority.get_int("pin", None, min=0, max=27),
            priority_window_s=priority.get_float("window_s", 10.0, min=1, max=120),
            footer=table.get_str("footer", "Xin cảm ơn!"),
            ranges=ranges,
            hold_off_ms=table.get_int("hold_off_ms", KioskSettings.hold_off_ms, min=0, max=60000),
            bounce_ms=table.get_int("bounce_ms", KioskSettings.bounce_ms, min=0, max=1000),
            hours=OpeningHours(_parse_weekly(table), _parse_days_off(table)),
            led_pin=table.get_int("led_pin", None, min=0, max=27),
            buzzer_pin=table.get_int("buzzer_pin", None, min=0, max=27),
            input_devices=tuple(table.str_list("input_devices", [])),
            name_window_s=table.get_float("name_window_s", KioskSettings.name_window_s, min=5, max=600),
            trust_clock=table.get_bool("trust_clock", KioskSettings.trust_clock),
        ))
        priority.finish()
        _check_pins_and_keys(table, kiosks[-1])
        table.finish()
    return tuple(kiosks)


def printer_spec_problem(spec: str) -> str | None:
    """Why a printer spec cannot work, or None; checked when the config is read, so a
    mistake is found by check-config and not on the first ticket (kiosk/printer.py opens it)."""
    try:
        parse_printer_spec(spec)
    except ValueError as exc:
        return str(exc)
    return None


def _check_pins_and_keys(table: Table, kiosk: KioskSettings) -> None:
    """Two buttons on one GPIO pin (or a pin shared with the LED or buzzer) would both fire
    on one press; two buttons on one key, likewise."""
    wired = [(f"{entry_name('buttons', n)}.pin", b.pin) for n, b in enumerate(kiosk.buttons)]
    wired += [("priority_button.pin", kiosk.priority_pin), ("led_pin", kiosk.led_pin),
              ("buzzer_pin", kiosk.buzzer_pin)]
    keys = [(f"{entry_name('buttons', n)}.key", b.key) for n, b in enumerate(kiosk.buttons)]
    keys += [("priority_button.key", kiosk.priority_key)]
    for what, used_list in (("pin", wired), ("key", keys)):
        used: dict[object, str] = {}
        for key, value in used_list:
            if value is None:
                continue
            if value in used:
                raise table.error(key, f"{what} {value!r} is already {used[value]}")
            used[value] = key


def _parse_buttons(table: Table, by_id: dict) -> list[KioskButton]:
    buttons = []
    for button in table.tables("buttons", required=True):
        service = button.get_str("service")
        if service not in by_id:
            raise button.error("service", f"unknown service {service!r}")
        key = button.get_str("key", None)
        if key is not None and (len(key) != 1 or key in "|\r\n"):
            raise button.error("key", f"must be one character (not | or a line end), not {key!r}")
        buttons.append(KioskButton(service=service, pin=button.get_int("pin", None, min=0, max=27),
                                   key=key, hold_off_ms=button.get_int("hold_off_ms", None, min=0,
                                                                   max=60000)))
        button.finish()
    return buttons


def _parse_ranges(table: Table, by_id: dict) -> dict[str, tuple[int, int]]:
    ranges = {}
    for service_id in list(table.data):
        value = table.raw(service_id)
        if service_id not in by_id:
            raise table.error(service_id, f"unknown service {service_id!r}")
        service = by_id[service_id]
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            raise table.error(service_id, "must be [FIRST, LAST], two whole numbers")
        first, last = value
        if not service.first <= first <= last <= service.last:
            raise table.error(service_id, f"[{first}, {last}] is not a part of the service's "
                                          f"numbers {service.first}..{service.last}")
        ranges[service_id] = (first, last)
    table.finish()
    return ranges


def _parse_weekly(table: Table) -> dict | None:
    if not table.has("hours"):
        table.raw("hours", None)
        return None
    hours = table.table("hours")
    weekly: dict = {}
    for key in list(hours.data):
        try:
            part = day_spans(key, hours.str_list(key))
        except ValueError as exc:
            raise hours.error(key, str(exc)) from None
        if weekly.keys() & part.keys():
            raise hours.error(key, "names a day that is already given")
        weekly.update(part)
    hours.finish()
    return weekly


def _parse_days_off(table: Table) -> frozenset[date]:
    days = set()
    for text in table.str_list("days_off", []):
        try:
            days.add(date.fromisoformat(text))
        except ValueError:
            raise table.error("days_off", f"{text!r} is not a date written YYYY-MM-DD") from None
    return frozenset(days)


# The site config reads this section through the registry (motcua/sections.py).
sections.register("kiosks", lambda root, site: parse(root, site.services))
