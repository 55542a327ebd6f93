"""Checks across sections of a site config, beyond what each key says alone."""

from __future__ import annotations

from collections.abc import Iterator

from .config import SiteConfig
from .config_reader import entry_name
from .errors import ConfigError


def check_site(config: SiteConfig) -> Iterator[ConfigError]:
    """Yield each problem that makes the site unworkable."""
    file = str(config.file)
    served = {service for counter in config.counters for service in counter.services}
    for index, service in enumerate(config.services):
        if service.id not in served:
            yield ConfigError(file, f"{entry_name('services', index, service.id)}.id",
                              f"no counter serves {service.id!r}: its tickets would never be called")
    seen_keys: dict[str, str] = {}
    for index, counter in enumerate(config.counters):
        for action, key in counter.keys.items():
            where = f"{entry_name('counters', index, counter.id)}.keys.{action}"
            if key in seen_keys:
                yield ConfigError(file, where, f"key {key!r} is already {seen_keys[key]}")
            seen_keys[key] = where
    for index, kiosk in enumerate(config.kiosks):
        for b_index, button in enumerate(kiosk.buttons):
            if button.key and button.key in seen_keys:
                where = f"{entry_name('kiosks', index, kiosk.id)}.{entry_name('buttons', b_index)}.key"
                yield ConfigError(file, where,
                                  f"key {button.key!r} is already {seen_keys[button.key]}")
