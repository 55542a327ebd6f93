"""The rooms' sections of the site config: each room registers the reader of its own section.

motcua/config.py reads the site-wide keys (site, broker, services, counters), then every
registered section, in the order the rooms registered; it imports no room. A room's
``settings`` module registers its section when it is imported, and the program's edge
imports the rooms it runs with (``motcua.cli.load_rooms``: the command, the tests'
conftest, the bench scripts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import SiteBase
    from .config_reader import Table

# Reads a room's section from the whole file (``root``), given the site-wide part.
Reader = Callable[["Table", "SiteBase"], object]


@dataclass(frozen=True)
class Section:
    name: str           # the SiteConfig attribute that holds it, e.g. "kiosks"
    read: Reader


_SECTIONS: dict[str, Section] = {}


def register(name: str, read: Reader) -> None:
    """Add a room's section; registering a name again (a module imported anew) replaces it."""
    _SECTIONS[name] = Section(name, read)


def registered() -> tuple[Section, ...]:
    return tuple(_SECTIONS.values())
