"""Nothing in the voice path dies silently: each failure is caught, logged, counted in the
health (``voice_failures``), and the next call is said whole (checked against espeak-ng)."""

from __future__ import annotations

import array
import os
import queue
import wave
from pathlib import Path

import pytest
from motcua.caller import voice_tts
from motcua.caller.audio import WavSink, chime, write_wav
from motcua.caller.speaker import SpeakerProcess
from motcua.caller.voice import GAP_S, Announcer
from motcua.caller.voice_settings import VoiceSettings
from motcua.caller.voice_tts import EspeakRenderer
from voice_helpers import RATE, reference, said_whole, samples_of

VOICE = VoiceSettings(template="Mời công dân có số thứ tự {number} đến {counter}",
                      template_with_name="Mời công dân {name}, số thứ tự {number}, đến {counter}",
                      repeat=1, rate=150, volume=1.0)
FIRST = "Mời công dân có số thứ tự một nghìn không trăm mười bốn đến quầy số một"
NEXT = "Mời công dân có số thứ tự một nghìn không trăm mười lăm đến quầy số hai"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(voice_tts, "WARM_UP_RETRY_S", 0.01)


def say(announcer: Announcer, folder: Path) -> list[Path]:
    announcer.start()
    announcer.announce("c1", FIRST)
    announcer.announce("c2", NEXT)
    announcer.stop(timeout=60)
    assert not announcer.thread.is_alive() and not announcer.speech.thread.is_alive()
    return sorted(folder.glob("*.wav"))


def assert_next_said_whole(paths: list[Path]) -> None:
    assert [p.name for p in paths] == ["0001-c1.wav", "0002-c2.wav"]
    assert said_whole(paths[1], chime(), NEXT, VOICE.rate) is None


class Failing:
    """The real renderer, but ``FIRST`` raises ``error`` (``left[0]`` times, then works);
    ``left`` is shared by the fresh renderers made after each failure."""

    def __init__(self, error: Exception, left: list[int]) -> None:
        self.error, self.left = error, left
        self.real = EspeakRenderer(VOICE)

    def render(self, sentence: str) -> array.array:
        if sentence == FIRST and self.left[0]:
            self.left[0] -= 1
            raise self.error
        return self.real.render(sentence)

    def close(self) -> None: ...


ERRORS = [EOFError("half a WAV"), wave.Error("unknown format: 0"),
          OSError(28, "No space left on device"), RuntimeError("engine in a bad state")]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_a_render_that_raises_costs_that_call_its_words_and_the_next_is_whole(
        tmp_path: Path, error: Exception) -> None:
    health: list[dict] = []
    left = [voice_tts.ATTEMPTS]          # every attempt at the first call fails
    paths = say(Announcer(VOICE, f"wav:{tmp_path}", on_health=health.append,
                          renderer_factory=lambda voice: Failing(error, left)), tmp_path)
    assert samples_of(paths[0]) == chime(), "the failed call: the chime alone"
    assert_next_said_whole(paths)
    kind = type(error).__name__
    assert any(h["voice"].startswith(f"error: {kind}") for h in health), health
    assert health[-1] == {"voice": "ok", "voice_failures": voice_tts.ATTEMPTS}


def test_a_render_that_fails_once_is_tried_again_and_the_call_said_whole(tmp_path: Path) -> None:
    health: list[dict] = []
    left = [1]
    paths = say(Announcer(VOICE, f"wav:{tmp_path}", on_health=health.append,
                          renderer_factory=lambda voice: Failing(EOFError("half a WAV"), left)),
                tmp_path)
    assert said_whole(paths[0], chime(), FIRST, VOICE.rate) is None
    assert_next_said_whole(paths)
    assert health[-1] == {"voice": "ok", "voice_failures": 1}


FAKE = """#!/bin/sh
# espeak-ng, except for the sentence of the first call
for text; do :; done
case "$text" in *"mười bốn"*) {mode} ;; esac
exec /usr/bin/espeak-ng "$@"
"""
MODES = {
    "hung": "exec sleep 600",
    "header-cut": '/usr/bin/espeak-ng "$@" | head -c 30; exit 0',
    "killed": 'kill -KILL $$',
    "fails": 'echo "espeak-ng: broken" >&2; exit 1',
}


def fake_espeak(folder: Path, mode: str) -> Path:
    path = folder / "espeak-ng"
    path.write_text(FAKE.replace("{mode}", mode))
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("mode", MODES)
def test_a_misbehaving_espeak_ng_is_caught_and_the_next_call_is_whole(tmp_path: Path,
                                                                       mode: str) -> None:
    program = fake_espeak(tmp_path, MODES[mode])
    out = tmp_path / "out"
    health: list[dict] = []
    paths = say(Announcer(VOICE, f"wav:{out}", on_health=health.append,
                          renderer_factory=lambda voice: EspeakRenderer(voice, program=str(program),
                                                                        timeout=2.0)), out)
    assert samples_of(paths[0]) == chime()
    assert_next_said_whole(paths)
    assert health[-1] == {"voice": "ok", "voice_failures": voice_tts.ATTEMPTS}
    if mode == "hung":
        assert any(h["voice"] == "error: espeak-ng hung: killed after 2 s" for h in health)


def test_a_sink_that_fails_costs_one_call_and_the_next_is_whole(tmp_path: Path) -> None:
    class FullDisk(WavSink):
        failed = False

        def end(self) -> None:
            if not self.failed:
                self.failed = True
                raise OSError(28, "No space left on device")
            super().end()

    health: list[dict] = []
    announcer = Announcer(VOICE, "none", on_health=health.append,
                          sink_factory=lambda audio: FullDisk(tmp_path))
    announcer.start()
    announcer.announce("c1", FIRST)
    announcer.announce("c2", NEXT)
    announcer.stop(timeout=60)
    [path] = sorted(tmp_path.glob("*.wav"))
    assert path.name == "0001-c2.wav"
    assert said_whole(path, chime(), NEXT, VOICE.rate) is None
    assert {"voice": "error: sound: [Errno 28] No space left on device", "voice_failures": 1} in health


# -- the warm-up (the first call after a start) ---------------------------------------------

def test_a_failing_warm_up_is_retried_before_ready_and_never_heard(tmp_path: Path) -> None:
    health: list[dict] = []
    renders: list[str] = []

    class FailsTwice:
        real = EspeakRenderer(VOICE)

        def render(self, sentence: str) -> array.array:
            renders.append(sentence)
            if len(renders) <= 2:
                raise OSError("espeak-ng-data not readable yet")
            return self.real.render(sentence)

        def close(self) -> None: ...

    announcer = Announcer(VOICE, f"wav:{tmp_path}", on_health=health.append,
                          renderer_factory=lambda voice: FailsTwice())
    announcer.start()
    assert announcer.wait_ready(30)
    assert renders == [voice_tts.WARM_UP] * 3
    assert health[-1] == {"voice": "ok", "voice_failures": 2}
    announcer.announce("c1", FIRST)
    announcer.stop(timeout=60)
    [path] = tmp_path.glob("*.wav")
    speech = samples_of(path)[len(chime()) + int(GAP_S * RATE):]
    assert speech == reference(FIRST, VOICE.rate), "the call's own words, nothing of the warm-up"


def test_the_speech_process_is_ready_only_after_its_warm_up_worked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """espeak-ng fails twice in the child (found first on PATH); start() waits for the retry."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    count = tmp_path / "runs"
    script = bin_dir / "espeak-ng"
    script.write_text(f"""#!/bin/sh
n=$(cat {count} 2>/dev/null || echo 0); echo $((n + 1)) > {count}
[ "$n" -lt 2 ] && {{ echo "not yet" >&2; exit 1; }}
exec /usr/bin/espeak-ng "$@"
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    health: queue.Queue = queue.Queue()
    speaker = SpeakerProcess(VOICE, f"wav:{tmp_path / 'out'}", on_health=health.put)
    speaker.start()
    try:
        seen = []
        while not health.empty():      # start() returned: everything up to ready is here
            seen.append(health.get_nowait())
        assert seen[-1] == {"voice": "ok", "voice_failures": 2}, seen
        speaker.announce("c1", FIRST)
    finally:
        speaker.stop(timeout=60)
    [path] = (tmp_path / "out").glob("*.wav")
    assert said_whole(path, chime(), FIRST, VOICE.rate) is None


# -- --audio none ---------------------------------------------------------------------------

def test_audio_none_renders_nothing() -> None:
    made: list[str] = []

    def factory(voice: VoiceSettings) -> EspeakRenderer:
        made.append("renderer")
        return EspeakRenderer(voice)

    health: list[dict] = []
    announcer = Announcer(VOICE, "none", on_health=health.append, renderer_factory=factory)
    announcer.start()
    for i in range(5):
        announcer.announce(f"c{i}", f"{FIRST} {i}")
    announcer.stop(timeout=30)
    assert announcer.spoken == 5 and announcer.speech.rendered == 0 and made == []
    assert health == [{"voice": "off", "voice_failures": 0}]


def test_the_speech_process_is_not_even_started_with_audio_none() -> None:
    health: list[dict] = []
    speaker = SpeakerProcess(VOICE, "none", on_health=health.append)
    speaker.start()
    speaker.announce("c1", FIRST)
    speaker.stop()
    assert speaker.process is None
    assert health == [{"voice": "off", "voice_failures": 0}]


# -- the check itself ------------------------------------------------------------------------

def test_the_check_flags_a_cut_call_and_a_chime_only_call(tmp_path: Path) -> None:
    """What pyttsx3's driver did: the last ~1.2 s gone; or the chime alone."""
    bell, gap, ref = chime(), array.array("h", bytes(2 * int(GAP_S * RATE))), reference(FIRST, 150)
    for name, speech in (("whole", ref), ("cut", ref[: -int(1.2 * RATE)]), ("chime", None)):
        samples = bell + gap + speech if speech is not None else bell
        write_wav(tmp_path / f"{name}.wav", samples)
    assert said_whole(tmp_path / "whole.wav", bell, FIRST, 150) is None
    assert "of speech" in (said_whole(tmp_path / "cut.wav", bell, FIRST, 150) or "")
    assert "0.00 s of speech" in (said_whole(tmp_path / "chime.wav", bell, FIRST, 150) or "")


def test_no_espeak_ng_is_said_in_the_health_and_the_chime_still_plays(tmp_path: Path) -> None:
    health: list[dict] = []
    paths = say(Announcer(VOICE, f"wav:{tmp_path}", on_health=health.append,
                          renderer_factory=lambda voice: EspeakRenderer(voice, program="no-such-espeak-ng")),
                tmp_path)
    assert [samples_of(p) for p in paths] == [chime(), chime()]
    assert health[-1]["voice"] == "error: no-such-espeak-ng is not installed (apt install espeak-ng)"
