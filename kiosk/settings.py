"""The ``[[kiosks]]`` section of the site config."""

from __future__ import annotations

from dataclasses import dataclass

from motcua.config_reader import Table


@dataclass(frozen=True)
class KioskButton:
    service: str
    pin: int | None
    key: str | None


@dataclass(frozen=True)
class KioskSettings:
    id: str
    printer: str
    paper: str                       # "58mm" or "80mm"
    buttons: tuple[KioskButton, ...]
    priority_key: str | None
    priority_pin: int | None
    footer: str


def parse(root: Table, services: tuple) -> tuple[KioskSettings, ...]:
    known = {s.id for s in services}
    kiosks = []
    for table in root.tables("kiosks"):
        buttons = []
        for button in table.tables("buttons", required=True):
            service = button.str("service")
            if service not in known:
                raise button.error("service", f"unknown service {service!r}")
            buttons.append(KioskButton(service=service, pin=button.int("pin", None, min=0, max=27),
                                       key=button.str("key", None)))
            button.finish()
        priority = table.table("priority_button")
        kiosks.append(KioskSettings(
            id=table.str("id"),
            printer=table.str("printer", "file:/dev/usb/lp0"),
            paper=table.str("paper", "80mm", choices=("58mm", "80mm")),
            buttons=tuple(buttons),
            priority_key=priority.str("key", None),
            priority_pin=priority.int("pin", None, min=0, max=27),
            footer=table.str("footer", "Xin cảm ơn!"),
        ))
        priority.finish()
        table.finish()
    return tuple(kiosks)
