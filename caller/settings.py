"""The ``[queue]`` and ``[ratings]`` sections, plus the voice (``[voice]``, voice_settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from motcua import sections
from motcua.config_reader import Table

from . import voice_settings
from .engine import Order, Priority
from .voice_settings import VoiceSettings


@dataclass(frozen=True)
class QueueSettings:
    priority: Priority
    priority_every: int      # with EVERY: at most one priority ticket in this many calls
    order: Order = Order.OLDEST
    trust_clock: bool = False  # the hub has a battery RTC: a later day at boot is taken at once
    max_press_age_s: int = 15  # a command pressed longer ago than this is refused (stale)


@dataclass(frozen=True)
class RatingSettings:
    window_s: int            # a rating counts for the ticket finished at most this long ago


@dataclass(frozen=True)
class CallerSettings:
    queue: QueueSettings
    voice: VoiceSettings
    ratings: RatingSettings = RatingSettings(window_s=120)
    erase_names_after_days: int = 30   # [privacy]: citizens' names are erased after this


def parse(root: Table) -> CallerSettings:
    table = root.table("queue")
    queue = QueueSettings(
        priority=Priority(table.get_str("priority", Priority.STRICT, choices=tuple(Priority))),
        priority_every=table.get_int("priority_every", 3, min=1, max=100),
        order=Order(table.get_str("order", QueueSettings.order, choices=tuple(Order))),
        trust_clock=table.get_bool("trust_clock", QueueSettings.trust_clock),
        max_press_age_s=table.get_int("max_press_age_s", QueueSettings.max_press_age_s, min=2, max=3600),
    )
    table.finish()
    table = root.table("ratings")
    ratings = RatingSettings(window_s=table.get_int("window_s", 120, min=5, max=3600))
    table.finish()
    table = root.table("privacy")
    erase_after = table.get_int("erase_names_after_days", CallerSettings.erase_names_after_days,
                                min=1, max=3650)
    table.finish()
    return CallerSettings(queue=queue, voice=voice_settings.parse(root), ratings=ratings,
                          erase_names_after_days=erase_after)


# The site config reads this section through the registry (motcua/sections.py).
sections.register("caller", lambda root, site: parse(root))
