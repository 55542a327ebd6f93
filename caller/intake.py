"""What the caller checks in a ticket before it takes it (issue 18, forged tickets).

A kiosk's password may be stolen: the broker's ACL then still lets its holder publish
tickets. The caller refuses a ticket that no real kiosk of this site could have printed:
a kiosk that does not exist or is not the sender, a service that kiosk has no button for, a
number outside that kiosk's range for the service, a time far from the caller's clock (unless
its kiosk's own account sent it: then it is ordered by its arrival, see judge_ticket), or a
name that is not a plausible Vietnamese name. A refused ticket is logged, counted and never
spoken. Pure: no I/O, the caller passes its clock.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta
from enum import Enum

from motcua.config import SiteConfig
from motcua.protocol import Ticket
from motcua.service_day import service_day

# A kiosk cut off from the hub keeps its printed tickets and sends them when it is back:
# a ticket may be a service day old. One from the future is a wrong clock or a forgery.
MAX_AGE = timedelta(hours=26)
MAX_AHEAD = timedelta(minutes=10)
NAME_MAX = 100          # characters: the kiosk's own limit for a scanned name (kiosk/cccd.py)
NAME_WORDS = 12
NAME_JOINERS = "'-."    # H'Hen Niê, Y-Moan Ênuôl: names of the Central Highlands on CCCD cards


class Forgery(Enum):
    """Why a ticket could not have come from a kiosk of this site (refused as `forged`)."""

    UNKNOWN_KIOSK = "no such kiosk on this site"
    WRONG_SENDER = "the kiosk in the ticket is not the one that sent it"
    SERVICE = "that kiosk does not issue tickets for this service"
    NUMBER = "the number is outside that kiosk's range for the service"
    LABEL = "the printed number does not match its sequence number"
    ISSUED_AT = "issued at a time far from the hub's clock"
    DAY = "its service day is days away from the day it was issued"
    NAME = "the name is not a plausible name"


class Order(Enum):
    """Where a ticket the caller takes goes in its queue."""

    ISSUED = "by its issue time"
    ARRIVAL = "by its arrival at the hub: its kiosk's clock is off"


def check_ticket(ticket: Ticket, config: SiteConfig, now: datetime, *,
                 sender: str | None = None, clock_trusted: bool = True) -> Forgery | None:
    """None if a kiosk of this site could have printed ``ticket``, else why not
    (:func:`judge_ticket` also says where it goes in the queue)."""
    verdict = judge_ticket(ticket, config, now, sender=sender, clock_trusted=clock_trusted)
    return verdict if isinstance(verdict, Forgery) else None


def judge_ticket(ticket: Ticket, config: SiteConfig, now: datetime, *,
                 sender: str | None = None, clock_trusted: bool = True) -> Forgery | Order:
    """Why a kiosk of this site could not have printed ``ticket``, or where it goes.

    ``sender`` is the kiosk the broker says sent it (its own topic, which only that kiosk's
    account may write), when known. ``now`` is the hub's clock; when that clock is not
    trusted (not synchronised, no ``trust_clock``) it may read yesterday (issue 19 item 8:
    today's tickets are then held, not lost), so the issue time is not judged by it; the
    other checks still apply.

    The issue time is checked because the queue is ordered by it: a forged old time would
    go first. A kiosk without a clock after a power cut (a Pi reading 1970) prints tickets
    with such times too, and a citizen holds each of them. So a ticket from a kiosk's own
    account whose time is off is taken, but ordered by its arrival (``Order.ARRIVAL``): its
    time buys no place, and a stolen kiosk password could send well-timed tickets anyway.
    Without that account (the shared bench topic) such a ticket is refused, as is one whose
    service day is more than a day from the hub's.
    """
    kiosk = next((k for k in config.kiosks if k.id == ticket.kiosk), None)
    if kiosk is None:
        return Forgery.UNKNOWN_KIOSK
    if sender is not None and sender != ticket.kiosk:
        return Forgery.WRONG_SENDER
    if ticket.service not in {button.service for button in kiosk.buttons}:
        return Forgery.SERVICE
    service = next((s for s in config.services if s.id == ticket.service), None)
    if service is None:
        return Forgery.SERVICE
    first, last = kiosk.ranges.get(service.id, (service.first, service.last))
    if not first <= ticket.seq <= last:
        return Forgery.NUMBER
    width = len(str(service.last))
    label = f"{service.prefix}{ticket.seq:0{width}d}" if service.prefix else str(ticket.seq)
    if ticket.number != label:
        return Forgery.LABEL
    issued = datetime.fromisoformat(ticket.issued_at)
    in_window = not clock_trusted or now - MAX_AGE <= issued <= now + MAX_AHEAD
    # The day keys the queue and the names' erasure: a made-up day would keep a name for ever.
    # A kiosk whose clock is not trusted keeps its day across a jump (motcua/service_day.py),
    # so its day may be one off the day of its issue time, not more.
    order = Order.ISSUED
    if not (in_window and _days_apart(ticket.day, issued, config) <= 1):
        if sender is None:
            return Forgery.ISSUED_AT if not in_window else Forgery.DAY
        if _days_apart(ticket.day, now, config) > 1:
            return Forgery.DAY
        order = Order.ARRIVAL
    if ticket.name is not None and not plausible_name(ticket.name):
        return Forgery.NAME
    return order


def _days_apart(day: str, moment: datetime, config: SiteConfig) -> int:
    """Days between a service day and the service day of a moment."""
    return abs((date.fromisoformat(day) - service_day(moment, config.site.tz,
                                                      config.site.day_starts_at)).days)


def plausible_name(name: str) -> bool:
    """Letters (Vietnamese: Latin with diacritics), single spaces and the joiners of names
    (an apostrophe, a hyphen, a dot between letters), a few words, bounded.

    A CCCD card's name passes; a sentence for the loudspeaker with digits, other punctuation
    or another script does not.
    """
    if not 2 <= len(name) <= NAME_MAX or name != name.strip() or "  " in name:
        return False
    words = name.split(" ")
    if len(words) > NAME_WORDS:
        return False
    normal = unicodedata.normalize("NFC", name)
    for i, char in enumerate(normal):
        if char == " ":
            continue
        if char in NAME_JOINERS:
            # Between letters only: "H'Hen", "Y-Moan", not "'", "--" or a trailing dot.
            if not (0 < i < len(normal) - 1 and normal[i - 1].isalpha() and normal[i + 1].isalpha()):
                return False
            continue
        category = unicodedata.category(char)
        if category[0] not in "LM":
            return False
        if category[0] == "L" and "LATIN" not in unicodedata.name(char, ""):
            return False
    return True
