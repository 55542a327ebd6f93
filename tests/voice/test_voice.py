"""Announcements with real espeak-ng: WAV files, order, no overlap, failures, late calls."""

from __future__ import annotations

import array
import dataclasses
import datetime as dt
import threading
import time
import wave
from pathlib import Path

import pytest
from motcua.caller import voice as voice_module
from motcua.caller import voice_tts
from motcua.caller.audio import NoSink, SpeakerSink, WavSink, chime, open_sink, write_wav
from motcua.caller.vietnamese import SOUTH
from motcua.caller.voice import Announcer, spoken_sentence
from motcua.caller.voice_settings import QuietHours, VoiceSettings
from motcua.caller.voice_tts import WARM_UP, EspeakRenderer, SpeechError
from voice_helpers import reference, said_whole

from motcua.errors import HardwareError, MotcuaError

VOICE = VoiceSettings(template="Mời công dân có số thứ tự {number} đến {counter}",
                      template_with_name="Mời công dân {name}, số thứ tự {number}, đến {counter}",
                      repeat=1, rate=160, volume=1.0)
SENTENCE = "Mời công dân có số thứ tự một nghìn không trăm mười hai đến quầy số ba"
RATE = 22050


def samples_of(path: Path) -> array.array:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE, 1, 2)
        return array.array("h", wav.readframes(wav.getnframes()))


def rms(samples: array.array) -> float:
    return (sum(s * s for s in samples) / max(len(samples), 1)) ** 0.5


def run(announcer: Announcer, calls: list[tuple[str, str]]) -> None:
    announcer.start()
    for call_id, sentence in calls:
        announcer.announce(call_id, sentence)
    announcer.stop(timeout=60)
    assert not announcer.thread.is_alive()


# -- sentences ------------------------------------------------------------------------

def test_sentences_with_and_without_a_name() -> None:
    assert spoken_sentence(VOICE, number="1012", counter_name="Quầy số 3", name=None) == SENTENCE
    assert spoken_sentence(VOICE, number="1012", counter_name="Quầy số 3", name="Nguyễn Văn An") \
        == "Mời công dân Nguyễn Văn An, số thứ tự một nghìn không trăm mười hai, đến quầy số ba"
    assert spoken_sentence(VOICE, number="C007", counter_name="Quầy số 3", name=None) \
        == "Mời công dân có số thứ tự xê không không bảy đến quầy số ba"
    south = dataclasses.replace(VOICE, variant=SOUTH)
    assert spoken_sentence(south, number="1005", counter_name="Quầy 14", name=None) \
        == "Mời công dân có số thứ tự một ngàn không trăm lẻ năm đến quầy mười bốn"


def test_digit_by_digit_labels_and_digits_in_templates() -> None:
    digits = dataclasses.replace(VOICE, digit_by_digit=True)
    assert spoken_sentence(digits, number="C007", counter_name="Quầy 2", name=None) \
        == "Mời công dân có số thứ tự xê không không bảy đến quầy hai"
    floor = dataclasses.replace(VOICE, template="Số {number}, mời lên tầng 2, {counter}")
    assert spoken_sentence(floor, number="21", counter_name="Phòng Tư pháp", name=None) \
        == "Số hai mươi mốt, mời lên tầng hai, phòng Tư pháp"
    first = dataclasses.replace(VOICE, template="{counter} mời số {number}")
    assert spoken_sentence(first, number="15", counter_name="Quầy 1", name=None) \
        == "Quầy một mời số mười lăm"


# -- WAV output --------------------------------------------------------------------------

def test_wav_is_chime_then_speech_and_not_silent(tmp_path: Path) -> None:
    run(Announcer(VOICE, f"wav:{tmp_path}"), [("c1", SENTENCE)])
    [path] = sorted(tmp_path.glob("*.wav"))
    assert path.name == "0001-c1.wav"
    samples, bell = samples_of(path), chime()
    assert len(bell) > RATE // 2 and rms(bell) > 1000
    assert samples[: len(bell)] == bell, "the chime comes first"
    speech = samples[len(bell):]
    assert 2.0 < len(speech) / RATE < 10.0, "a sentence of speech follows"
    assert rms(speech) > 300, "the speech is not silent"
    assert rms(speech[: RATE // 5]) < 50, "a short gap of silence after the chime"
    # exactly what `espeak-ng -v vi -s 160 -w ref.wav "<sentence>"` writes, after the gap
    assert speech[int(voice_module.GAP_S * RATE):] == reference(SENTENCE, VOICE.rate)
    assert said_whole(path, bell, SENTENCE, VOICE.rate) is None


def test_repeat_says_the_sentence_again(tmp_path: Path) -> None:
    once, twice = tmp_path / "once", tmp_path / "twice"
    run(Announcer(VOICE, f"wav:{once}"), [("c", SENTENCE)])
    run(Announcer(dataclasses.replace(VOICE, repeat=2), f"wav:{twice}"), [("c", SENTENCE)])
    bell = len(chime())
    one = samples_of(next(once.glob("*.wav")))[bell:]
    two = samples_of(next(twice.glob("*.wav")))[bell:]
    assert abs(len(two) - 2 * len(one)) < 100   # two renders may differ by a sample or two
    assert rms(two[len(one):]) > 300, "the second saying is speech too"


def test_wav_files_are_numbered_after_those_already_there(tmp_path: Path) -> None:
    write_wav(tmp_path / "0007-old.wav", chime())
    sink = WavSink(tmp_path)
    for call_id in ("a/b", "c"):
        sink.begin(call_id)
        sink.play(chime()[:100])
        sink.end()
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == ["0007-old.wav", "0008-a_b.wav",
                                                             "0009-c.wav"]


def test_quiet_hours_lower_the_volume(tmp_path: Path) -> None:
    lunch = dataclasses.replace(VOICE, quiet=(QuietHours(dt.time(11, 30), dt.time(13, 30), 0.25),))
    for name, now in (("loud", dt.time(10, 0)), ("quiet", dt.time(12, 0))):
        run(Announcer(lunch, f"wav:{tmp_path / name}", time_of_day=lambda now=now: now),
            [("c", SENTENCE)])
    loud = samples_of(next((tmp_path / "loud").glob("*.wav")))
    quiet = samples_of(next((tmp_path / "quiet").glob("*.wav")))
    assert abs(len(loud) - len(quiet)) < 100     # two renders may differ by a few samples
    assert 0.2 < rms(quiet) / rms(loud) < 0.3, "chime and speech at a quarter of the volume"


# -- order and overlap -------------------------------------------------------------------

class RecordingSink:
    """Wraps a sink and records when each announcement and each piece starts and ends."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.spans: list[tuple[str, float, float]] = []
        self.pieces: list[tuple[float, float]] = []
        self.current: tuple[str, float] | None = None
        self.overlaps = 0

    def begin(self, call_id: str) -> None:
        if self.current is not None:
            self.overlaps += 1
        self.current = (call_id, time.monotonic())
        self.inner.begin(call_id)

    def play(self, samples: array.array) -> None:
        start = time.monotonic()
        self.inner.play(samples)
        self.pieces.append((start, time.monotonic()))

    def end(self) -> None:
        self.inner.end()
        assert self.current is not None
        self.spans.append((*self.current, time.monotonic()))
        self.current = None

    def close(self) -> None:
        self.inner.close()


def ten_calls_at_once(announcer: Announcer, sentence: str) -> list[str]:
    """Ten counters press Next together; returns the order the calls were queued in."""
    announcer.start()
    go = threading.Barrier(10)
    queued: list[str] = []
    lock = threading.Lock()

    def counter(i: int) -> None:
        go.wait()
        with lock:                     # the queue's order is the order calls were made
            announcer.announce(f"call-{i}", sentence.format(i=i))
            queued.append(f"call-{i}")

    threads = [threading.Thread(target=counter, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    announcer.stop(timeout=60)
    return queued


def assert_in_order_without_overlap(sink: RecordingSink, queued: list[str]) -> None:
    assert sink.overlaps == 0
    assert [span[0] for span in sink.spans] == queued
    for (_, _, end), (_, start, _) in zip(sink.spans, sink.spans[1:], strict=False):
        assert start >= end
    for (_, end), (start, _) in zip(sink.pieces, sink.pieces[1:], strict=False):
        assert start >= end


def test_ten_simultaneous_calls_are_all_said_in_order_without_overlap(tmp_path: Path) -> None:
    sink = RecordingSink(WavSink(tmp_path))
    announcer = Announcer(VOICE, "none", sink_factory=lambda audio: sink)
    queued = ten_calls_at_once(announcer, "Mời công dân có số thứ tự {i} đến quầy số {i}")
    assert_in_order_without_overlap(sink, queued)
    assert len(sink.pieces) == 10 * 3          # chime, gap, speech
    files = sorted(tmp_path.glob("*.wav"))
    assert [p.name.split("-", 1)[1] for p in files] == [f"{c}.wav" for c in queued]
    assert announcer.spoken == 10 and announcer.dropped == 0


def test_ten_simultaneous_calls_on_the_speaker() -> None:
    """pygame.mixer on SDL's dummy driver plays in real time, so keep the pieces short."""
    sink = RecordingSink(SpeakerSink())
    fast = dataclasses.replace(VOICE, rate=400)
    announcer = Announcer(fast, "speaker", sink_factory=lambda audio: sink,
                          chime_samples=chime()[:RATE // 20])
    queued = ten_calls_at_once(announcer, "số {i}")
    assert_in_order_without_overlap(sink, queued)
    durations = [end - start for start, end in sink.pieces]
    assert min(durations) >= 0.04, "each piece is played out before the next one starts"


def test_only_the_next_calls_are_rendered_ahead(tmp_path: Path) -> None:
    """A burst of calls does not hold every rendered sentence in memory at once."""
    playing, release = threading.Event(), threading.Event()

    class Blocking(WavSink):
        def play(self, samples: array.array) -> None:
            playing.set()
            release.wait(30)
            super().play(samples)

    announcer = Announcer(VOICE, "none", sink_factory=lambda audio: Blocking(tmp_path))
    announcer.start()
    for i in range(20):
        announcer.announce(f"c{i}", f"Mời công dân có số thứ tự {i} đến quầy số 1")
    assert playing.wait(30)                      # the first call's chime is out
    ahead = [c.speech for c in announcer._pending if c.speech is not None]
    assert len(ahead) == voice_module.LOOKAHEAD
    for future in ahead:
        future.result(timeout=30)
    assert announcer.speech.rendered == 1 + 1 + voice_module.LOOKAHEAD   # warm-up, now, ahead
    release.set()
    announcer.stop(timeout=60)
    assert len(list(tmp_path.glob("*.wav"))) == 20


# -- failures ----------------------------------------------------------------------------

def test_when_speech_fails_the_chime_still_plays_and_health_says_so(tmp_path: Path) -> None:
    health: list[dict] = []

    def broken(voice: VoiceSettings) -> EspeakRenderer:
        raise SpeechError("espeak-ng could not start: test")

    announcer = Announcer(VOICE, f"wav:{tmp_path}", on_health=health.append, renderer_factory=broken)
    run(announcer, [("c1", SENTENCE), ("c2", SENTENCE)])
    assert [samples_of(p) for p in sorted(tmp_path.glob("*.wav"))] == [chime(), chime()]
    # the warm-up and its retries, then each call's two attempts: all counted
    assert health[0] == {"voice": "error: espeak-ng could not start: test", "voice_failures": 1}
    assert health[-1] == {"voice": "error: espeak-ng could not start: test",
                          "voice_failures": voice_tts.WARM_UP_ATTEMPTS + 2 * voice_tts.ATTEMPTS}
    assert announcer.spoken == 2


def test_an_unknown_voice_is_an_error_and_a_working_engine_recovers(tmp_path: Path) -> None:
    health: list[dict] = []
    attempts: list[str] = []

    def flaky(voice: VoiceSettings) -> EspeakRenderer:
        attempts.append("x")    # the warm-up's retries and the first call get the wrong voice
        wrong = len(attempts) <= voice_tts.WARM_UP_ATTEMPTS + voice_tts.ATTEMPTS
        return EspeakRenderer(dataclasses.replace(voice, voice="xx-no-such-voice" if wrong
                                                  else voice.voice))

    run(Announcer(VOICE, f"wav:{tmp_path}", on_health=health.append, renderer_factory=flaky),
        [("c1", SENTENCE), ("c2", SENTENCE)])
    failures = voice_tts.WARM_UP_ATTEMPTS + voice_tts.ATTEMPTS
    assert health[0]["voice"] == ("error: espeak-ng -v xx-no-such-voice failed (exit 1): "
                                  "Error: The specified espeak-ng voice does not exist.")
    assert health[-1] == {"voice": "ok", "voice_failures": failures}
    first, second = sorted(tmp_path.glob("*.wav"))
    assert samples_of(first) == chime()
    assert said_whole(second, chime(), SENTENCE, VOICE.rate) is None


def test_a_renderer_hung_past_the_deadline_costs_the_call_its_words_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hang the renderer does not end itself (espeak-ng's own is killed: test_voice_failures)."""
    monkeypatch.setattr(voice_module, "RENDER_TIMEOUT_S", 0.2)
    release = threading.Event()

    class Hanging:
        def render(self, sentence: str) -> array.array:
            if sentence != WARM_UP:      # the warm-up works
                release.wait(30)
            return chime()

        def close(self) -> None: ...

    health: list[dict] = []
    announcer = Announcer(VOICE, f"wav:{tmp_path}", on_health=health.append,
                          renderer_factory=lambda voice: Hanging())
    announcer.start()
    announcer.announce("c1", SENTENCE)
    done = threading.Event()
    deadline = time.monotonic() + 20
    while not list(tmp_path.glob("*.wav")) and time.monotonic() < deadline:
        done.wait(0.05)
    release.set()
    announcer.stop(timeout=30)
    [path] = tmp_path.glob("*.wav")
    assert samples_of(path) == chime()
    assert {"voice": "error: speech rendering hangs", "voice_failures": 1} in health


def test_no_speakers_is_reported_and_calls_go_on() -> None:
    health: list[dict] = []

    def no_card(audio: str) -> NoSink:
        raise HardwareError("no speakers: test")

    announcer = Announcer(VOICE, "speaker", on_health=health.append, sink_factory=no_card)
    run(announcer, [("c1", SENTENCE)])
    assert announcer.spoken == 1
    assert health == [{"voice": "error: no speakers: test", "voice_failures": 0}]


def test_a_call_stuck_longer_than_max_delay_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    sink = RecordingSink(NoSink())
    announcer = Announcer(dataclasses.replace(VOICE, max_delay_s=30), "none",
                          sink_factory=lambda audio: sink, clock=lambda: now[0])
    announcer.announce("old", SENTENCE)          # queued before the announcer runs
    now[0] = 31.0
    announcer.announce("fresh", SENTENCE)
    run(announcer, [])
    assert [span[0] for span in sink.spans] == ["fresh"]
    assert announcer.dropped == 1
    assert "call old dropped: 31 s in the queue" in caplog.text


def test_bad_audio_spec() -> None:
    with pytest.raises(MotcuaError, match="speaker, wav:DIR or none"):
        Announcer(VOICE, "mp3:x")
    with pytest.raises(MotcuaError, match="speaker, wav:DIR or none"):
        open_sink("wav:")
