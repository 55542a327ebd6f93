"""How long a citizen will wait, said one way on the ticket and on the board (pure).

The caller publishes, per service, the seconds a ticket taken now would wait and, for a
priority ticket, how many tickets it would find ahead (docs/protocol.md, ``board``). The
kiosk prints and the board shows the same figure, rounded up to whole minutes (a promise
of less than the truth is the one that angers), in the same words.
"""

from __future__ import annotations

import math


def minutes(seconds: int) -> int:
    """Whole minutes, rounded up: 10 s is "khoảng 1 phút", only no wait at all is "dưới 1 phút"."""
    return math.ceil(max(0, seconds) / 60)


def wait_phrase(minutes: int) -> str:
    """The words for a wait, as printed on the ticket and shown on the board."""
    if minutes < 1:
        return "dưới 1 phút"
    if minutes < 60:
        return f"khoảng {minutes} phút"
    hours, rest = divmod(minutes, 60)
    return f"khoảng {hours} giờ" + (f" {rest} phút" if rest else "")


def ahead_of_new_ticket(waiting: int, ahead: int | None) -> int:
    """Tickets ahead of one taken now: what the caller counted under the queue's rules
    (``ahead_normal`` or ``ahead_priority``), or the whole queue when an older caller did
    not say."""
    return waiting if ahead is None else min(ahead, waiting)


def estimate_for(ahead: int, waiting: int, service_estimate_s: int | None) -> int | None:
    """Seconds for a ticket with ``ahead`` tickets before it, from the service's estimate for
    a ticket behind all ``waiting`` ones; None when the caller has no estimate."""
    if service_estimate_s is None:
        return None
    if waiting <= 0:
        return 0
    return round(service_estimate_s * ahead / waiting)
