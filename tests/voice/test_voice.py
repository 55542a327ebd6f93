"""Announcements with real espeak-ng: WAV files, order, no overlap, failures, late calls."""

from __future__ import annotations

import array
import dataclasses
import threading
import wave
from pathlib import Path

import pytest
from motcua.caller.vietnamese import SOUTH
from motcua.caller.voice import (
    Announcer,
    NoSink,
    PyttsxRenderer,
    SpeakerSink,
    SpeechError,
    WavSink,
    chime,
    spoken_sentence,
)
from motcua.caller.voice_settings import VoiceSettings

VOICE = VoiceSettings(template="Mời công dân có số thứ tự {number} đến {counter}",
                      template_with_name="Mời công dân {name}, số thứ tự {number}, đến {counter}",
                      repeat=1, rate=160, volume=1.0)
SENTENCE = "Mời công dân có số thứ tự một nghìn không trăm mười hai đến quầy số ba"


def samples_of(path: Path) -> array.array:
    with wave.open(str(path)) as wav:
        return array.array("h", wav.readframes(wav.getnframes()))


def rms(samples: array.array) -> float:
    return (sum(s * s for s in samples) / max(len(samples), 1)) ** 0.5


def run(announcer: Announcer, calls: list[tuple[str, str]]) -> None:
    announcer.start()
    for call_id, sentence in calls:
        announcer.announce(call_id, sentence)
    announcer.stop(timeout=60)
    assert not announcer.thread.is_alive()


def test_sentences_with_and_without_a_name() -> None:
    assert spoken_sentence(VOICE, number="1012", counter_name="Quầy số 3", name=None) == SENTENCE
    assert spoken_sentence(VOICE, number="C007", counter_name="Quầy số 3", name="Nguyễn Văn An") \
        == "Mời công dân Nguyễn Văn An, số thứ tự xê bảy, đến quầy số ba"
    south = dataclasses.replace(VOICE, variant=SOUTH)
    assert "một ngàn không trăm lẻ năm" in spoken_sentence(south, number="1005",
                                                           counter_name="Quầy 1", name=None)


def test_wav_is_chime_then_speech_and_not_silent(tmp_path: Path) -> None:
    run(Announcer(VOICE, f"wav:{tmp_path}"), [("c1", SENTENCE)])
    [path] = sorted(tmp_path.glob("*.wav"))
    assert path.name == "0001-c1.wav"
    samples, bell = samples_of(path), chime()
    assert samples[: len(bell)] == bell, "the chime comes first"
    speech = samples[len(bell):]
    assert len(speech) / 22050 > 1.5, "a sentence of speech follows"
    assert rms(speech) > 300, "the speech is not silent"


def test_repeat_says_the_sentence_again(tmp_path: Path) -> None:
    once, twice = tmp_path / "once", tmp_path / "twice"
    run(Announcer(VOICE, f"wav:{once}"), [("c", SENTENCE)])
    run(Announcer(dataclasses.replace(VOICE, repeat=2), f"wav:{twice}"), [("c", SENTENCE)])
    bell = len(chime())
    one = len(samples_of(next(once.glob("*.wav")))) - bell
    two = len(samples_of(next(twice.glob("*.wav")))) - bell
    assert abs(two - 2 * one) < 100   # two renders may differ by a sample or two


class RecordingSink(NoSink):
    """Records when each announcement starts and ends, to prove they never overlap."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, float, float]] = []
        self.lock = threading.Lock()
        self.current: tuple[str, float] | None = None

    def begin(self, call_id: str) -> None:
        import time

        assert self.current is None, "an announcement began before the last one ended"
        self.current = (call_id, time.monotonic())

    def end(self) -> None:
        import time

        assert self.current is not None
        self.spans.append((*self.current, time.monotonic()))
        self.current = None


def test_ten_simultaneous_calls_are_all_said_in_order_without_overlap() -> None:
    sink = RecordingSink()
    announcer = Announcer(VOICE, "none", sink_factory=lambda audio: sink)
    announcer.start()
    go = threading.Barrier(10)
    queued: list[str] = []
    lock = threading.Lock()

    def counter(i: int) -> None:
        go.wait()
        with lock:                     # the queue's order is the order calls were made
            announcer.announce(f"call-{i}", f"Mời công dân có số thứ tự {1000 + i} đến quầy số {i}")
            queued.append(f"call-{i}")

    threads = [threading.Thread(target=counter, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    announcer.stop(timeout=60)
    assert [span[0] for span in sink.spans] == queued
    for (_, _, end), (_, start, _) in zip(sink.spans, sink.spans[1:], strict=False):
        assert start >= end


def test_when_speech_fails_the_chime_still_plays_and_health_says_so(tmp_path: Path) -> None:
    health: list[dict] = []

    def broken(voice: VoiceSettings) -> PyttsxRenderer:
        raise SpeechError("espeak-ng could not start: test")

    run(Announcer(VOICE, f"wav:{tmp_path}", on_health=health.append, renderer_factory=broken),
        [("c1", SENTENCE)])
    [path] = tmp_path.glob("*.wav")
    assert samples_of(path) == chime()
    assert health == [{"voice": "error: espeak-ng could not start: test"}]


def test_an_unknown_voice_is_a_speech_error_and_recovers(tmp_path: Path) -> None:
    health: list[dict] = []
    attempts = []

    def flaky(voice: VoiceSettings) -> PyttsxRenderer:
        attempts.append(1)
        if len(attempts) == 1:
            return PyttsxRenderer(dataclasses.replace(voice, voice="xx-no-such-voice"))
        return PyttsxRenderer(voice)

    run(Announcer(VOICE, f"wav:{tmp_path}", on_health=health.append, renderer_factory=flaky),
        [("c1", SENTENCE), ("c2", SENTENCE)])
    assert [h["voice"][:5] for h in health] == ["error", "ok"]
    first, second = sorted(tmp_path.glob("*.wav"))
    assert len(samples_of(second)) > len(samples_of(first))


def test_a_call_stuck_longer_than_max_delay_is_dropped() -> None:
    now = [0.0]
    sink = RecordingSink()
    announcer = Announcer(dataclasses.replace(VOICE, max_delay_s=30), "none",
                          sink_factory=lambda audio: sink, clock=lambda: now[0])
    announcer.announce("old", SENTENCE)          # queued before the announcer runs
    now[0] = 31.0
    announcer.announce("fresh", SENTENCE)
    run(announcer, [])
    assert [span[0] for span in sink.spans] == ["fresh"]
    assert announcer.dropped == 1


def test_speaker_sink_plays_through_sdl() -> None:
    sink = SpeakerSink()                         # SDL's dummy audio driver in tests
    try:
        sink.play(chime()[:2205])
    finally:
        sink.close()


def test_bad_audio_spec() -> None:
    from motcua.caller.voice import open_sink

    from motcua.errors import MotcuaError

    with pytest.raises(MotcuaError, match="speaker, wav:DIR or none"):
        open_sink("mp3:x")
    assert isinstance(open_sink("wav:/tmp/motcua-test-wav"), WavSink)
