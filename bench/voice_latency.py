"""Bench: announce -> first audio sample handed to the sink (target p99 <= 150 ms).

    .venv/bin/python bench/voice_latency.py [--calls 300] [--speaker-calls 12]

Each call is announced while the announcer is idle (the previous call said), with a
sentence not heard before, so its speech is rendered by espeak-ng each time. Also
prints when the speech itself reaches the sink: it is rendered while the chime plays.
The speaker runs on SDL's dummy driver unless SDL_AUDIODRIVER says otherwise; it plays
in real time, hence fewer calls.
"""

from __future__ import annotations

import argparse
import array
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from motcua.caller.audio import SpeakerSink, WavSink
from motcua.caller.voice import Announcer, spoken_sentence
from motcua.caller.voice_settings import VoiceSettings

VOICE = VoiceSettings(template="Mời công dân có số thứ tự {number} đến {counter}",
                      template_with_name="Mời công dân {name}, số thứ tự {number}, đến {counter}",
                      repeat=1, rate=150, volume=1.0)


class TimingSink:
    """Notes when the first piece (the chime) and the speech reach the inner sink."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.first: float | None = None
        self.speech: float | None = None
        self.pieces = 0
        self.done = threading.Event()

    def begin(self, call_id: str) -> None:
        self.pieces = 0
        self.inner.begin(call_id)

    def play(self, samples: array.array) -> None:
        now = time.perf_counter()
        self.pieces += 1
        if self.pieces == 1:
            self.first = now
        elif self.pieces == 3:          # chime, gap, speech
            self.speech = now
        self.inner.play(samples)

    def end(self) -> None:
        self.inner.end()
        self.done.set()

    def close(self) -> None:
        self.inner.close()


def measure(sink: TimingSink, calls: int, start_number: int) -> tuple[list[float], list[float]]:
    announcer = Announcer(VOICE, "none", sink_factory=lambda audio: sink)
    announcer.start()
    firsts, speeches = [], []
    for i in range(calls):
        sentence = spoken_sentence(VOICE, number=str(start_number + i), counter_name="Quầy số 3",
                                   name=None)
        sink.done.clear()
        asked = time.perf_counter()
        announcer.announce(f"c{i}", sentence)
        if not sink.done.wait(60):
            raise SystemExit("an announcement did not finish within 60 s")
        firsts.append((sink.first - asked) * 1000)
        speeches.append((sink.speech - asked) * 1000)
    announcer.stop()
    return firsts, speeches


def report(name: str, values: list[float]) -> None:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    print(f"  {name:<34} n={len(values):<4} median {statistics.median(values):7.2f} ms"
          f"   p99 {p99:7.2f} ms   max {values[-1]:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--speaker-calls", type=int, default=12)
    options = parser.parse_args()
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    with tempfile.TemporaryDirectory() as out:
        firsts, speeches = measure(TimingSink(WavSink(Path(out))), options.calls, 1000)
    print("wav sink:")
    report("announce -> chime to the sink", firsts)
    report("announce -> speech to the sink", speeches)
    firsts, speeches = measure(TimingSink(SpeakerSink()), options.speaker_calls, 5000)
    print(f"speaker sink (SDL_AUDIODRIVER={os.environ['SDL_AUDIODRIVER']}):")
    report("announce -> chime to the sink", firsts)
    report("announce -> speech to the sink", speeches)


if __name__ == "__main__":
    main()
