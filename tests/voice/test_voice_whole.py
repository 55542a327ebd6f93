"""Every call said whole: fresh speech processes on busy cores, checked against espeak-ng.

pyttsx3's espeak driver (the renderer before) dropped the last callback's samples; under
load a process cut every call short (~1.2 s of 4.7 s), and its first render failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from motcua.caller.audio import chime
from motcua.caller.speaker import SpeakerProcess
from motcua.caller.voice import spoken_sentence
from motcua.caller.voice_settings import VoiceSettings
from voice_helpers import eventually, said_whole

# The example office's sentence, at espeak-ng's default rate (the 4.7 s sentence).
VOICE = VoiceSettings(template="Mời công dân có số thứ tự {number} đến {counter}",
                      template_with_name="Mời công dân {name}, số thứ tự {number}, đến {counter}",
                      repeat=1, rate=150, volume=1.0,
                      max_delay_s=3600)     # starved of CPU a call may wait; it must not be dropped
STARTS = 20
CALLS = 2
AT_ONCE = 4          # starts running side by side: 20 starts in ~15-30 s on 2 busy cores

# It keeps every core busy on purpose: alone, before the tests that run side by side.
pytestmark = pytest.mark.exclusive


def sentence(start: int, call: int) -> str:
    return spoken_sentence(VOICE, number=str(1000 + 10 * start + call),
                           counter_name=f"Quầy số {call + 1}", name=None)


def test_twenty_fresh_speech_processes_on_busy_cores_say_every_call_whole(tmp_path: Path) -> None:
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 1)]
    errors: list[str] = []

    def starts(first: int) -> None:
        for start in range(first, STARTS, AT_ONCE):
            speaker = SpeakerProcess(VOICE, f"wav:{tmp_path / str(start)}")
            folder = tmp_path / str(start)
            try:
                speaker.start()
                for call in range(CALLS):
                    speaker.announce(f"s{start}c{call}", sentence(start, call))
                # as a running caller would: both said before it stops (stop's budget is systemd's)
                eventually(lambda folder=folder: len(list(folder.glob("*.wav"))) >= CALLS, 600)
            except Exception as exc:      # reported below, with the WAVs' own verdict
                errors.append(f"start {start}: {exc!r}")
            finally:
                speaker.stop(timeout=60)

    try:
        threads = [threading.Thread(target=starts, args=(i,)) for i in range(AT_ONCE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert not errors
    bell = chime()
    for start in range(STARTS):
        for call in range(CALLS):
            path = tmp_path / str(start) / f"{call + 1:04d}-s{start}c{call}.wav"
            if not path.exists():
                errors.append(f"{path.name}: not said at all")
                continue
            errors += filter(None, [said_whole(path, bell, sentence(start, call), VOICE.rate)])
    assert not errors, f"{len(errors)} of {STARTS * CALLS} calls not said whole: {errors}"
