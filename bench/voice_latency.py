"""Bench: a call (Next) -> first audio sample handed to the sink (target p99 <= 150 ms).

    .venv/bin/python bench/voice_latency.py [--calls 200] [--speaker-calls 12]

Each call is announced while the announcer is idle (the previous call said), with a
sentence not heard before, so its speech is rendered each time. With the chime, the first
sample is the chime's and the speech follows (rendered while the chime plays); with
``chime = false`` the first sample is the speech's, so the render is on the way. Both for
espeak-ng (ours) and pyttsx3 (the renderer before, bench/voice_pyttsx3.py, if installed).
The speaker runs on SDL's dummy driver unless SDL_AUDIODRIVER says otherwise; it plays
in real time, hence fewer calls.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import dataclasses
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from motcua.caller.audio import SpeakerSink, WavSink
from motcua.caller.voice import Announcer, spoken_sentence
from motcua.caller.voice_settings import VoiceSettings
from motcua.caller.voice_tts import EspeakRenderer

sys.path.insert(0, str(Path(__file__).parent))
from voice_pyttsx3 import PyttsxRenderer

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
        self.speech_first = 0
        self.done = threading.Event()

    def begin(self, call_id: str) -> None:
        self.pieces = 0
        self.first = self.speech = None
        self.inner.begin(call_id)

    def play(self, samples: array.array) -> None:
        now = time.perf_counter()
        self.pieces += 1
        if self.pieces == 1:
            self.first = now
        if len(samples) > 22050 // 2 and self.speech is None and self.pieces > 1 - self.speech_first:
            self.speech = now           # chime, gap, speech; or the speech alone
        self.inner.play(samples)

    def end(self) -> None:
        self.inner.end()
        self.done.set()

    def close(self) -> None:
        self.inner.close()


def measure(sink: TimingSink, calls: int, start_number: int, *, factory=EspeakRenderer,
            voice: VoiceSettings = VOICE) -> tuple[list[float], list[float]]:
    sink.speech_first = 0 if voice.chime else 1
    announcer = Announcer(voice, "none", sink_factory=lambda audio: sink, renderer_factory=factory)
    announcer.start()
    announcer.wait_ready(30)
    firsts, speeches = [], []
    for i in range(calls):
        sentence = spoken_sentence(voice, number=str(start_number + i), counter_name="Quầy số 3",
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
    print(f"  {name:<44} n={len(values):<4} median {statistics.median(values):7.2f} ms"
          f"   p99 {p99:7.2f} ms   max {values[-1]:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--speaker-calls", type=int, default=12)
    options = parser.parse_args()
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    factories = {"espeak-ng": EspeakRenderer}
    if PyttsxRenderer is not None:
        factories["pyttsx3 (before)"] = PyttsxRenderer
    for name, factory in factories.items():
        for chime in (True, False):
            voice = dataclasses.replace(VOICE, chime=chime)
            with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
                firsts, speeches = measure(TimingSink(WavSink(Path(out))), options.calls, 1000,
                                           factory=factory, voice=voice)
            print(f"wav sink, {name}, chime {'on' if chime else 'off'}:")
            report("call -> first audio sample to the sink", firsts)
            report("call -> speech to the sink", speeches)
    firsts, speeches = measure(TimingSink(SpeakerSink()), options.speaker_calls, 5000)
    print(f"speaker sink (SDL_AUDIODRIVER={os.environ['SDL_AUDIODRIVER']}):")
    report("call -> first audio sample (the chime)", firsts)
    report("call -> speech to the sink", speeches)


if __name__ == "__main__":
    main()
