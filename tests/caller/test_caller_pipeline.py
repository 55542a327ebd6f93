"""The caller's pipeline without a broker: commit → fsync → ack → confirm → announce, in order."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from caller_helpers import DAY, T0, command, ticket
from motcua.caller.engine import Engine, Event, Outcome
from motcua.caller.pipeline import Pipeline, Unsaved
from motcua.caller.store import EventStore, StoreError
from rig import eventually

from motcua.mqtt import Inbound


class Disk:
    """The event log's fsync, held until the test lets it go; every step lands in ``steps``."""

    def __init__(self, store: EventStore, steps: list[str]) -> None:
        self.store = store
        self.steps = steps
        self.real_sync = store.sync
        self.entered = threading.Event()    # the sync thread is inside an fsync
        self.free = threading.Event()       # the disk answers
        self.free.set()
        self.fail_next = False
        self.calls = 0
        store.sync = self.sync              # type: ignore[method-assign]

    def sync(self) -> None:
        self.calls += 1
        self.entered.set()
        assert self.free.wait(30)
        if self.fail_next:
            raise OSError(5, "Input/output error")
        self.real_sync()
        self.steps.append("fsync")


class Office:
    """A real event log and engine, and a pipeline whose outlets write down what they do."""

    def __init__(self, path: Path, **options: int) -> None:
        self.steps: list[str] = []
        self.store = EventStore(path, sync_apart=True)
        self.disk = Disk(self.store, self.steps)
        self.engine = Engine({"1": ("a",)})
        self.engine.start_day(DAY, T0)
        self.woken = threading.Event()
        self.pipeline = Pipeline(self.store, wake=self.woken.set, ack=self.ack,
                                 confirm=self.confirm, announce=self.announce, **options)
        self.mid = 0
        self.clock = T0

    def ack(self, message: Inbound) -> None:
        self.steps.append(f"ack {message.mid}")

    def confirm(self, ids: list[str], refused: dict[str, str]) -> None:
        self.steps.append(f"confirm {len(ids)}")

    def announce(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            for call in outcome.calls:
                self.steps.append(f"announce {self.engine.tickets[call.ticket].number}")

    def batch(self, *events: Event) -> Unsaved:
        """Handled as the caller handles them: logged, applied, not committed."""
        batch = Unsaved()
        for event in events:
            self.mid += 1
            batch.inbound.append(Inbound(topic="t", payload=b"", mid=self.mid, qos=1, retain=False))
            batch.ids.append(event.id)
            assert self.store.append(event)
            batch.outcomes.append(self.engine.apply(event))
        return batch

    def ticket(self, number: str) -> Event:
        self.clock += timedelta(seconds=10)
        t = ticket(number, at=self.clock)
        return Event("ticket", t.id, self.clock, ticket=t)

    def next(self) -> Event:
        self.clock += timedelta(seconds=10)
        c = command("next")
        return Event("command", c.id, self.clock, counter="1", command=c)

    def commit(self, batch: Unsaved) -> None:
        self.pipeline.commit(batch)
        self.steps.append(f"commit {self.pipeline.generation}")

    def delivered(self) -> None:
        """Wait for the sync thread's hand-back, then let the owner deliver it."""
        assert self.woken.wait(10)
        self.woken.clear()
        self.pipeline.deliver()

    def close(self) -> None:
        self.disk.free.set()
        self.pipeline.close()
        self.store.close()


@pytest.fixture
def office(tmp_path: Path):
    office = Office(tmp_path / "caller.db")
    yield office
    office.close()


def test_nothing_is_acked_confirmed_or_said_before_its_fsync(office: Office) -> None:
    office.pipeline.start()
    office.disk.free.clear()
    office.commit(office.batch(office.ticket("1001"), office.next()))
    assert office.disk.entered.wait(10)       # the sync thread is inside the fsync
    office.pipeline.deliver()                 # the owner's turn while the disk works
    assert office.steps == ["commit 1"]
    assert [g for g, _ in office.pipeline.pending] == [1]
    office.disk.free.set()
    office.delivered()
    assert office.steps == ["commit 1", "fsync", "ack 1", "ack 2", "confirm 2", "announce 1001"]
    assert office.pipeline.pending == []


def test_one_fsync_covers_the_commits_made_while_the_last_one_ran(office: Office) -> None:
    office.pipeline.start()
    office.disk.free.clear()
    office.commit(office.batch(office.ticket("1001")))
    assert office.disk.entered.wait(10)
    office.commit(office.batch(office.next()))
    office.commit(office.batch(office.ticket("1002")))
    office.disk.free.set()
    assert eventually(lambda: office.pipeline.syncs == 2)
    office.pipeline.deliver()
    # Commits, then two fsyncs, then each batch in commit order: acks, confirmation, its calls.
    assert office.steps == ["commit 1", "commit 2", "commit 3", "fsync", "fsync",
                            "ack 1", "confirm 1",
                            "ack 2", "confirm 1", "announce 1001",
                            "ack 3", "confirm 1"]
    assert office.disk.calls == 2


def test_a_failed_fsync_is_never_retried_nor_acknowledged(office: Office) -> None:
    """After a failed fsync Linux may report the next one as a success: nothing after it is acked."""
    office.pipeline.start()
    office.disk.fail_next = True
    office.commit(office.batch(office.ticket("1001"), office.next()))
    assert office.woken.wait(10)
    with pytest.raises(StoreError, match="fsync failed"):
        office.pipeline.deliver()
    office.commit(office.batch(office.ticket("1002")))
    office.pipeline.close()
    with pytest.raises(StoreError, match="fsync failed"):
        office.pipeline.deliver()
    assert office.disk.calls == 1
    assert office.steps == ["commit 1", "commit 2"]
    assert [g for g, _ in office.pipeline.pending] == [1, 2]


def test_flush_at_a_clean_stop_puts_the_rest_on_disk_then_delivers_it(office: Office) -> None:
    office.commit(office.batch(office.ticket("1001")))    # the sync thread never started
    office.commit(office.batch(office.next()))
    office.pipeline.flush()
    assert office.steps == ["commit 1", "commit 2", "fsync", "ack 1", "confirm 1",
                            "ack 2", "confirm 1", "announce 1001"]


def test_a_checkpoint_every_n_commits_after_the_hand_back(tmp_path: Path) -> None:
    office = Office(tmp_path / "caller.db", checkpoint_every=3)
    database = tmp_path / "caller.db"
    size_before = database.stat().st_size
    office.pipeline.start()
    try:
        for n in range(1, 7):
            office.commit(office.batch(office.ticket(str(1000 + n))))
            office.delivered()
            assert office.steps[-3:] == ["fsync", f"ack {n}", "confirm 1"]
            if n == 2:
                assert database.stat().st_size == size_before, "checkpointed before 3 commits"
        assert eventually(lambda: database.stat().st_size > size_before), "never checkpointed"
    finally:
        office.close()
