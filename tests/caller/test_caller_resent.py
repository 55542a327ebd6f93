"""A copy of a refused message is told the same refusal as the first.

A sender resends what the caller has not confirmed (its confirmation may be lost); the event
log keeps the first copy by id and the engine never sees the next. The copy's confirmation
once came without the refusal code, and the counter pad then showed the refused press as
taken (counter/daemon.py reads ``received.refused``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from caller_helpers import T0, command
from motcua.caller.daemon import Caller
from motcua.caller.engine import REFUSALS_KEPT, Engine, Event
from rig import Listener

from motcua.config import load_config
from motcua.protocol import CounterCommand, Received, Topics, encode, new_id

TOPICS = Topics("liem-chung")
COUNTERS = {"1": ["a"]}


def done_with_nothing_to_finish() -> Event:
    return Event("command", (c := command("done")).id, T0, counter="1", command=c)


def test_the_engine_remembers_each_refusal_also_after_a_replay() -> None:
    engine = Engine(COUNTERS)
    refused, taken = done_with_nothing_to_finish(), Event("command", (p := command("pause")).id, T0,
                                                          counter="1", command=p)
    assert engine.apply(refused).code == "refused"
    assert engine.apply(taken).applied
    assert engine.refusal(refused.id) == "refused" and engine.refusal(taken.id) is None
    replayed = Engine(COUNTERS)
    for event in (refused, taken):
        replayed.apply(event)
    assert replayed.refusal(refused.id) == "refused" and replayed.refusal(taken.id) is None


def test_the_engine_keeps_a_bounded_number_of_refusals() -> None:
    engine = Engine(COUNTERS)
    events = [done_with_nothing_to_finish() for _ in range(REFUSALS_KEPT + 1)]
    for event in events:
        engine.apply(event)
    assert len(engine.refusals) == REFUSALS_KEPT
    assert engine.refusal(events[0].id) is None and engine.refusal(events[-1].id) == "refused"


@contextmanager
def running(config: Path, db: Path) -> Iterator[Caller]:
    caller = Caller(load_config(config), db=db, audio="none")
    stop = threading.Event()
    thread = threading.Thread(target=caller.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        assert caller.link.connected.wait(10)
        yield caller
    finally:
        stop.set()
        caller.inbox.put(None)
        thread.join(10)
        assert not thread.is_alive()


def test_a_resent_refused_press_is_confirmed_with_its_refusal(broker, site_config: Path,
                                                              tmp_path: Path) -> None:
    listener = Listener(broker.url, TOPICS.received)
    refused = encode(CounterCommand(id=(refused_id := new_id()), action="done"))   # idle counter
    taken = encode(CounterCommand(id=(taken_id := new_id()), action="pause"))

    def answers(msg_id: str) -> list[str | None]:
        """What each confirmation listing ``msg_id`` said of it (None: taken)."""
        received = [Received.decode(p) for p in listener.payloads(TOPICS.received)]
        return [r.refused.get(msg_id) for r in received if msg_id in r.ids]

    try:
        with running(site_config, tmp_path / "caller.db"):
            listener.publish(TOPICS.counter_cmd("1"), refused)
            listener.publish(TOPICS.counter_cmd("1"), taken)
            assert listener.wait_for(lambda li: answers(refused_id) == ["refused"]
                                     and answers(taken_id) == [None])
            # Their confirmations were lost: the pad sends both again.
            listener.publish(TOPICS.counter_cmd("1"), refused)
            listener.publish(TOPICS.counter_cmd("1"), taken)
            assert listener.wait_for(lambda li: len(answers(refused_id)) == 2
                                     and len(answers(taken_id)) == 2)
            assert answers(refused_id) == ["refused", "refused"]
            assert answers(taken_id) == [None, None]
        # A copy after the caller restarted: the answer comes from the replayed log.
        with running(site_config, tmp_path / "caller.db"):
            listener.publish(TOPICS.counter_cmd("1"), refused)
            assert listener.wait_for(lambda li: len(answers(refused_id)) == 3)
            assert answers(refused_id) == ["refused"] * 3
    finally:
        listener.close()
