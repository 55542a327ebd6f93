"""``motcua counter --keyboard`` as a process: keys on stdin in, commands out, the state line on stdout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from counter_rig import TOPICS, WIRED, counter_config
from rig import Subscriber

from motcua.protocol import CounterCommand, CounterState, Rating, encode

pytestmark = pytest.mark.broker

REPO = Path(__file__).resolve().parents[2]


class Lines:
    """Every line a process writes to stdout, collected by a thread."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in stream:
            with self.changed:
                self.lines.append(raw.decode("utf-8").rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = 10) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: any(text in line for line in self.lines), timeout)


def test_keys_on_stdin_press_the_counter_buttons(tmp_path, broker):
    path = counter_config(tmp_path, broker.url, extra=WIRED)
    caller = Subscriber(broker.port, TOPICS.counter_cmd("2"), TOPICS.counter_rating("2"))
    caller.publish(TOPICS.counter_state("2"),
                   encode(CounterState(counter="2", status="serving", number="2001", service="tu-phap",
                                       name="Nguyễn V. A.", waiting=3, seq=5)), retain=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "motcua.cli", "counter", "--counter", "2", "--keyboard",
         "--config", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        out = Lines(process.stdout)
        assert out.wait_for(
            "Quầy số 2: đang phục vụ số 2001 (Tư pháp – Hộ tịch) – Nguyễn V. A. · đang chờ: 3")
        process.stdin.write(b"asxdf7")        # x is counter 3's key: nothing here
        process.stdin.flush()
        commands = caller.wait_for(TOPICS.counter_cmd("2"), CounterCommand, 4)
        assert [c.action for c in commands] == ["next", "recall", "skip", "done"]
        assert [r.score for r in caller.wait_for(TOPICS.counter_rating("2"), Rating, 1)] == [1]
        assert out.wait_for("→ Đánh giá: Rất hài lòng: cảm ơn quý công dân!")
        caller.publish(TOPICS.counter_state("2"), encode(CounterState(counter="2", status="paused", seq=6)),
                       retain=True)
        assert out.wait_for("Quầy số 2: tạm nghỉ · đang chờ: 0")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        caller.close()
    assert len(caller.decoded(TOPICS.counter_cmd("2"), CounterCommand)) == 4
