"""The pad on gpiozero's MockFactory against a real broker: what crosses the wire (commands reach
the caller, its confirmations empty the outbox, presses kept while the broker is away go when it
returns). The pad's own rules are in test_counter_device.py."""

from __future__ import annotations

import sqlite3

import pytest
from counter_rig import (
    DONE,
    NEXT,
    RECALL,
    SKIP,
    TOPICS,
    press,
    run_pad,
)
from rig import Subscriber, eventually

from motcua.protocol import CounterCommand

pytestmark = pytest.mark.broker

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
    assert eventually(lambda: outbox_rows(config) == 0)      # the stand-in caller confirmed them
    assert pad.stop() == 0
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
