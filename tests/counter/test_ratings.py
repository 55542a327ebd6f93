"""The rating device's rules: score = level position (1 the best), one rating per thank-you."""

from __future__ import annotations

import pytest
from motcua.counter.ratings import RatingButtons
from motcua.counter.settings import DEFAULT_LEVELS


def test_scores_count_from_the_best_level():
    buttons = RatingButtons(DEFAULT_LEVELS, thanks_s=3)
    assert buttons.level(1) == "Rất hài lòng"
    assert buttons.level(3) == "Không hài lòng"
    assert buttons.press(1, now=0).score == 1


def test_presses_during_the_thank_you_are_ignored():
    buttons = RatingButtons(DEFAULT_LEVELS, thanks_s=3)
    first = buttons.press(2, now=10.0)
    assert first is not None and buttons.thanking(10.0) and buttons.thanking(12.9)
    assert buttons.press(1, now=12.9) is None
    assert not buttons.thanking(13.0)
    second = buttons.press(3, now=13.0)
    assert second is not None and second.score == 3 and second.id != first.id


def test_no_thank_you_before_the_first_press_and_unknown_levels_refused():
    buttons = RatingButtons(DEFAULT_LEVELS, thanks_s=0)
    assert not buttons.thanking(0)
    assert buttons.press(3, now=0) is not None
    assert buttons.press(3, now=0) is not None          # thanks_s = 0: no hold-off
    with pytest.raises(ValueError):
        buttons.press(4, now=1)
