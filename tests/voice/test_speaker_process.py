"""The caller's voice in its own process (caller/speaker.py), with real espeak-ng."""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
from pathlib import Path

import pytest
from motcua.caller.audio import chime
from motcua.caller.speaker import SpeakerProcess
from motcua.caller.voice_settings import VoiceSettings
from voice_helpers import said_whole

from motcua.errors import MotcuaError

VOICE = VoiceSettings(template="Mời công dân có số thứ tự {number} đến {counter}",
                      template_with_name="Mời công dân {name}, số thứ tự {number}, đến {counter}",
                      repeat=1, rate=160, volume=1.0)
SENTENCE = "Mời công dân có số thứ tự một nghìn không trăm mười hai đến quầy số ba"


def wavs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.wav"))


def wait_until(predicate, timeout: float = 30.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        done.wait(0.05)
    return predicate()


def test_calls_are_said_by_the_child_and_its_health_comes_back(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    health: queue.Queue = queue.Queue()
    speaker = SpeakerProcess(VOICE, f"wav:{tmp_path}", on_health=health.put)
    speaker.start()
    try:
        # start() returned after the warm-up render: its health is already here
        assert health.get_nowait() == {"voice": "ok", "voice_failures": 0}
        assert speaker.process is not None and speaker.process.pid != os.getpid()
        speaker.announce("c1", SENTENCE)
        speaker.announce("c2", SENTENCE)
    finally:
        speaker.stop(timeout=60)
    # stop() lets the child finish what was queued, then it exits
    assert [p.name.split("-", 1)[1] for p in wavs(tmp_path)] == ["c1.wav", "c2.wav"]
    assert speaker.process.returncode == 0
    # Nothing on the caller's stdout (the journal)
    assert capfd.readouterr().out == ""


def test_sigterm_to_the_child_does_not_cut_a_queued_call(tmp_path: Path) -> None:
    """systemd signals every process of the unit at stop; the call still gets said."""
    health: queue.Queue = queue.Queue()
    speaker = SpeakerProcess(VOICE, f"wav:{tmp_path}", on_health=health.put)
    speaker.start()
    assert health.get(timeout=30) == {"voice": "ok", "voice_failures": 0}   # the child is up
    speaker.announce("c1", SENTENCE)
    os.kill(speaker.process.pid, signal.SIGTERM)
    speaker.stop(timeout=60)
    assert len(wavs(tmp_path)) == 1 and speaker.process.returncode == 0


def test_a_killed_child_is_reported_and_started_again(tmp_path: Path) -> None:
    health: queue.Queue = queue.Queue()
    speaker = SpeakerProcess(VOICE, f"wav:{tmp_path}", on_health=health.put)
    speaker.start()
    try:
        assert health.get(timeout=30) == {"voice": "ok", "voice_failures": 0}
        first = speaker.process
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        assert health.get(timeout=10) == {"voice": "error: the speech process ended",
                                          "voice_failures": 1}
        speaker.announce("after", SENTENCE)
        assert speaker.process is not first and speaker.restarts == 1
        assert wait_until(lambda: len(wavs(tmp_path)) == 1)
        # the new child's health carries the count on
        assert health.get(timeout=10) == {"voice": "ok", "voice_failures": 1}
    finally:
        speaker.stop(timeout=60)
    [path] = wavs(tmp_path)
    assert said_whole(path, chime(), SENTENCE, VOICE.rate) is None, "the next call is said whole"


def test_a_child_that_reads_no_calls_never_blocks_the_caller(tmp_path: Path, caplog) -> None:
    """As during a respawned child's warm-up: the pipe fills (64 KiB), announce still returns,
    and when even the parent's queue is full the oldest calls go, never the newest."""
    health: queue.Queue = queue.Queue()
    speaker = SpeakerProcess(VOICE, f"wav:{tmp_path}", on_health=health.put, pending_max=50)
    speaker.start()
    child = speaker.process
    os.kill(child.pid, signal.SIGSTOP)          # it reads nothing from now on
    announced = threading.Event()
    sentence = " ".join([SENTENCE] * 12)        # about 1 KiB a call: 300 calls overfill the pipe

    def owner() -> None:
        for n in range(300):
            speaker.announce(f"c{n}", sentence)
        announced.set()

    try:
        with caplog.at_level(logging.ERROR, logger="motcua.caller.speaker"):
            threading.Thread(target=owner, daemon=True).start()
            assert announced.wait(30), "announce blocked on the speech process's pipe"
        dropped = [int(r.getMessage().split()[1][1:]) for r in caplog.records
                   if "dropped before it was said" in r.getMessage()]
        assert dropped and len(dropped) == speaker.dropped
        # A call is dropped only with 50 newer ones waiting: the newest are kept.
        assert dropped == sorted(dropped) and max(dropped) <= 299 - 50
    finally:
        os.kill(child.pid, signal.SIGKILL)      # the feed's blocked write fails; stop ends
        speaker.stop(timeout=10)


def test_a_wrong_audio_spec_fails_in_the_caller_not_in_the_child() -> None:
    with pytest.raises(MotcuaError):
        SpeakerProcess(VOICE, "loudspeaker")
