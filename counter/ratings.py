"""The rating device at a counter, without I/O: a level press becomes one Rating and a "cảm ơn".

The score is the level's position in ``[counter_pad.rating].levels``, 1 being the
best (default: 1 Rất hài lòng, 2 Hài lòng, 3 Không hài lòng). The caller ties a
rating to the ticket the counter finished last and keeps one per ticket; the
device adds a short hold-off so one citizen's double press sends one rating.
"""

from __future__ import annotations

from motcua.protocol import Rating, new_id


class RatingButtons:
    """Accepts a level press unless a thank-you is still showing."""

    def __init__(self, levels: tuple[str, ...], thanks_s: float) -> None:
        self.levels = levels
        self.thanks_s = thanks_s
        self.thanks_until: float | None = None

    def press(self, score: int, now: float) -> Rating | None:
        """A Rating to send, or None when the press falls in the previous thank-you."""
        if not 1 <= score <= len(self.levels):
            raise ValueError(f"score {score} is not a level 1..{len(self.levels)}")
        if self.thanking(now):
            return None
        self.thanks_until = now + self.thanks_s
        return Rating(id=new_id(), score=score)

    def thanking(self, now: float) -> bool:
        """The "cảm ơn" LED is on."""
        return self.thanks_until is not None and now < self.thanks_until

    def level(self, score: int) -> str:
        return self.levels[score - 1]
