"""The pad on gpiozero's MockFactory against a real broker: presses, ratings, LEDs, the outbox."""

from __future__ import annotations

import sqlite3

import pytest
from counter_rig import (
    DONE,
    NEXT,
    PAD_LED,
    RATING_PINS,
    RECALL,
    SKIP,
    THANKS_LED,
    TOPICS,
    WIRED,
    press,
    run_pad,
)
from motcua.counter.daemon import pick_counter
from rig import Subscriber, eventually

from motcua.errors import ConfigError
from motcua.protocol import CounterCommand, CounterState, Rating, encode

CMD, RATING, STATE = TOPICS.counter_cmd("1"), TOPICS.counter_rating("1"), TOPICS.counter_state("1")


def outbox_rows(config) -> int:
    with sqlite3.connect(config.site.state_dir / "counter-1.db") as db:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]


def test_each_button_press_is_one_command_with_its_own_id(make_config, broker, mock_factory, running):
    config = make_config()
    caller = Subscriber(broker.port, CMD)
    pad = run_pad(config, "1", mock_factory)
    running.append(pad)
    assert pad.connected()
    for pin in (NEXT, RECALL, SKIP, DONE, NEXT):
        press(mock_factory, pin)
    commands = caller.wait_for(CMD, CounterCommand, 5)
    assert [c.action for c in commands] == ["next", "recall", "skip", "done", "next"]
    assert len({c.id for c in commands}) == 5
    assert eventually(lambda: outbox_rows(config) == 0)      # every row went on its PUBACK
    assert pad.stop() == 0
    caller.close()


def test_pause_button_resumes_a_paused_counter(make_config, broker, mock_factory, running):
    config = make_config(pins="pause = 20")
    caller = Subscriber(broker.port, CMD)
    caller.publish(STATE, encode(CounterState(counter="1", status="paused", seq=3)), retain=True)
    pad = run_pad(config, "1", mock_factory)
    running.append(pad)
    assert eventually(lambda: pad.daemon.state.status == "paused")
    press(mock_factory, 20)
    assert [c.action for c in caller.wait_for(CMD, CounterCommand, 1)] == ["resume"]
    caller.close()


def test_rating_buttons_publish_scores_best_first_and_light_the_thanks_led(
        make_config, broker, mock_factory, running):
    config = make_config(extra=WIRED)
    caller = Subscriber(broker.port, RATING)
    pad = run_pad(config, "1", mock_factory)
    running.append(pad)
    assert pad.connected()
    thanks = mock_factory.pin(THANKS_LED)
    press(mock_factory, RATING_PINS[2])
    assert eventually(lambda: thanks.state)                   # "cảm ơn" at once
    press(mock_factory, RATING_PINS[0])                       # within the thank-you: ignored
    assert [r.score for r in caller.wait_for(RATING, Rating, 1)] == [3]
    assert eventually(lambda: not thanks.state)               # thanks_s = 0.5 later
    press(mock_factory, RATING_PINS[0])
    ratings = caller.wait_for(RATING, Rating, 2)
    assert [r.score for r in ratings] == [3, 1]
    assert len(caller.decoded(RATING, Rating)) == 2
    caller.close()


def test_pad_led_follows_the_retained_counter_state(make_config, broker, mock_factory, running):
    config = make_config(pad_keys=f"led_pin = {PAD_LED}")
    caller = Subscriber(broker.port, CMD)
    led = mock_factory.pin(PAD_LED)

    def state(status: str, seq: int, number: str | None = None) -> None:
        caller.publish(STATE, encode(CounterState(counter="1", status=status, number=number,
                                                  service="dat-dai" if number else None, seq=seq)),
                       retain=True)

    state("serving", 1, "1001")
    pad = run_pad(config, "1", mock_factory)
    running.append(pad)
    assert eventually(lambda: led.state)                      # on while serving
    state("idle", 2)
    assert eventually(lambda: not led.state)                  # off when idle
    state("paused", 3)
    assert eventually(lambda: led.state)                      # slow blink: on ...
    assert eventually(lambda: not led.state, timeout=3)       # ... off ...
    assert eventually(lambda: led.state, timeout=3)           # ... and on again
    state("idle", 4)
    assert eventually(lambda: not led.state)
    led.clear_states()
    press(mock_factory, NEXT)                                 # acknowledged: a short flash
    assert eventually(lambda: any(s.state for s in led.states))
    assert eventually(lambda: not led.state)
    caller.close()


def test_stale_counter_state_is_ignored(make_config, broker, mock_factory, running):
    config = make_config()
    caller = Subscriber(broker.port, CMD)
    pad = run_pad(config, "1", mock_factory)
    running.append(pad)
    assert pad.connected()
    caller.publish(STATE, encode(CounterState(counter="1", status="serving", number="1001", seq=7)))
    assert eventually(lambda: pad.daemon.state.status == "serving")
    caller.publish(STATE, encode(CounterState(counter="1", status="idle", seq=6)))
    caller.publish(STATE, b"{not json")
    assert eventually(lambda: pad.daemon.dropped == 1)
    assert pad.daemon.state.status == "serving"
    caller.close()


def test_presses_while_the_broker_is_down_arrive_after_it_returns(
        make_config, broker, mock_factory, running):
    config = make_config()
    caller = Subscriber(broker.port, CMD)
    pad = run_pad(config, "1", mock_factory)
    running.append(pad)
    assert pad.connected()
    press(mock_factory, NEXT)
    caller.wait_for(CMD, CounterCommand, 1)
    assert eventually(lambda: outbox_rows(config) == 0)     # the stand-in caller confirmed it
    broker.stop()
    assert eventually(lambda: not pad.daemon.link.connected.is_set())
    for pin in (DONE, NEXT, RECALL):
        press(mock_factory, pin)
    # The first is kept on disk while the broker is away; the pad knows it cannot reach the
    # caller, so the others are refused there rather than becoming a burst later.
    assert eventually(lambda: pad.daemon.refused == 2)
    assert outbox_rows(config) == 1
    broker.start()
    commands = caller.wait_for(CMD, CounterCommand, 2, timeout=30)
    assert [c.action for c in commands] == ["next", "done"]
    assert eventually(lambda: outbox_rows(config) == 0)
    caller.close()


def test_presses_left_by_a_stopped_pad_are_sent_by_the_next_run(make_config, broker, mock_factory, running):
    config = make_config()
    caller = Subscriber(broker.port, CMD)
    broker.stop()
    pad = run_pad(config, "1", mock_factory)
    press(mock_factory, NEXT)
    press(mock_factory, SKIP)                                 # refused: the caller cannot be reached
    assert eventually(lambda: pad.daemon.refused == 1)
    assert outbox_rows(config) == 1
    assert pad.stop() == 0                                    # power cut or restart with the broker away
    broker.start()
    again = run_pad(config, "1", mock_factory)
    running.append(again)
    commands = caller.wait_for(CMD, CounterCommand, 1, timeout=30)
    assert [c.action for c in commands] == ["next"]
    assert eventually(lambda: outbox_rows(config) == 0)
    caller.close()


def test_the_counter_to_run_must_be_in_the_config(make_config):
    config = make_config()
    assert pick_counter(config, "3").name == "Quầy số 3"
    with pytest.raises(ConfigError) as unknown:
        pick_counter(config, "9")
    assert (unknown.value.key, unknown.value.reason) == ("--counter", "no counter '9' in the config "
                                                                      "(known: 1, 2, 3, 4)")
    with pytest.raises(ConfigError, match="--mqtt-buttons"):
        pick_counter(config, None)
